"""Pricing: pure functions over integers (minor units). No I/O, no floats.

The formula (SPEC 4.3): line prices → subtotal → coupon discount → tax on (subtotal − discount)
→ payable → store credit → total, then the minimum-charge rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from estuary_checkout import currencies
from estuary_checkout.pricing.errors import AmountTooLarge, AmountTooSmall, CurrencyNotChargeable

# Percentages are whole numbers 0..100 (discount_percentage, percent_off, refund percent): the one
# place their denominator is written (tests/foundation/test_no_bare_100.py keeps it that way).
PERCENT = 100


def minimum_charge(currency: str) -> int:
    """Stripe's smallest charge in `currency`, minor units (the currency registry's)."""
    return _currency(currency).minimum


def _currency(code: str) -> currencies.Currency:
    try:
        return currencies.get(code)
    except currencies.UnknownCurrency:
        raise CurrencyNotChargeable(details={"currency": code}) from None


def round_half_up_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("non-negative numerator and positive denominator required")
    return (2 * numerator + denominator) // (2 * denominator)


def percent_of(amount: int, percent: int) -> int:
    """round_half_up(amount × percent / 100), in the amount's minor unit."""
    return round_half_up_div(amount * percent, PERCENT)


def discounted_unit(price_cents: int, discount_percentage: int) -> int:
    """round_half_up(price × (100 − pct) / 100)."""
    return percent_of(price_cents, PERCENT - discount_percentage)


@dataclass(frozen=True)
class ChildPick:
    """One package child as included in a line."""

    child_service_id: int
    price_cents: int
    discount_percentage: int
    quantity: int  # chosen quantity (0 = not included)
    default_quantity: int
    is_required: bool


def package_unit_price(package_price_cents: int | None, children: Sequence[ChildPick]) -> int:
    """One package's price.

    With a fixed package price: the price covers required children at their default quantities;
    optional children chosen, and required quantities above the default, are added at the
    child's discounted unit price. Without one: the sum over included children of
    discounted unit × quantity.
    """
    if package_price_cents is not None:
        extra = 0
        for c in children:
            paid_qty = c.quantity - c.default_quantity if c.is_required else c.quantity
            if paid_qty > 0:
                extra += discounted_unit(c.price_cents, c.discount_percentage) * paid_qty
        return package_price_cents + extra
    return sum(
        discounted_unit(c.price_cents, c.discount_percentage) * c.quantity for c in children if c.quantity > 0
    )


@dataclass(frozen=True)
class CouponTerms:
    kind: str  # "percent" | "fixed"
    percent_off: int | None = None
    # fixed coupons: minor units off per currency; none in the cart's currency means no discount
    amount_off: Mapping[str, int] | None = None
    allowed_service_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class PricedLine:
    service_id: int
    line_total_cents: int


def coupon_discount(coupon: CouponTerms | None, lines: Sequence[PricedLine], currency: str) -> int:
    """The coupon's discount, 0..(eligible subtotal); eligible = lines of allowed services (or all)."""
    if coupon is None:
        return 0
    eligible = sum(
        line.line_total_cents
        for line in lines
        if coupon.allowed_service_ids is None or line.service_id in coupon.allowed_service_ids
    )
    if coupon.kind == "percent":
        return min(eligible, percent_of(eligible, int(coupon.percent_off or 0)))
    return min(eligible, int((coupon.amount_off or {}).get(currency, 0)))


def tax_on(base_cents: int, rate: Decimal, currency: str | None = None) -> int:
    """base × rate rounded half up: to the minor unit, or with `currency` to what it can be
    charged in (whole yen; a multiple of 10 fils for KWD and the other three-decimal currencies)."""
    exact = Decimal(base_cents) * rate
    if currency is None:
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return currencies.round_to_chargeable(exact, currency)


@dataclass(frozen=True)
class Totals:
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    payable_cents: int
    credits_available_cents: int
    credits_applied_cents: int
    total_cents: int
    minimum_adjusted: bool = field(default=False)


def price_totals(
    lines: Sequence[PricedLine],
    *,
    coupon: CouponTerms | None,
    tax_rate: Decimal,
    currency: str,
    credits_available: int,
    use_credits: bool,
    credits_to_apply: int | None,
) -> Totals:
    """SPEC 4.3 with the currency's rules (SPEC 14): every figure is a multiple of what the
    currency can be charged in, so the total sent to Stripe is always one it accepts.

    * discount: the coupon's, then whatever of (subtotal − discount) is less than one chargeable
      step goes to the discount too (the customer's favour; nothing in two-decimal currencies,
      under 10 fils in KWD, under one krona in ISK);
    * tax: half up to the step;
    * credits: at most what leaves a chargeable total (a KWD balance of 1.235 pays 1.230);
    * total: 0, or minimum..maximum; below the minimum see SPEC 4.3 step 8, above the maximum
      AMOUNT_TOO_LARGE.
    """
    cur = _currency(currency)
    subtotal = sum(line.line_total_cents for line in lines)
    discount = max(0, min(subtotal, coupon_discount(coupon, lines, currency)))
    taxable = currencies.floor_to_chargeable(subtotal - discount, cur.code)
    discount = subtotal - taxable
    tax = tax_on(taxable, tax_rate, cur.code)
    payable = taxable + tax
    credits = 0
    if use_credits:
        credits = min(max(0, credits_available), payable)
        if credits_to_apply is not None:
            credits = min(credits, credits_to_apply)
        credits = currencies.floor_to_chargeable(max(0, credits), cur.code)
    total = payable - credits
    minimum = cur.minimum
    adjusted = False
    if 0 < total < minimum:
        if credits == 0:
            raise AmountTooSmall(
                details={"total_cents": total, "minimum_cents": minimum, "currency": currency}
            )
        if payable >= minimum:
            # give back just enough credit that the card is charged the minimum
            credits = payable - minimum
        else:
            # nothing chargeable is possible: credit covers all of it, or the cart cannot be paid
            cap = min(
                max(0, credits_available), credits_to_apply if credits_to_apply is not None else payable
            )
            if cap < payable:
                left = payable - currencies.floor_to_chargeable(max(0, cap), cur.code)
                raise AmountTooSmall(
                    details={"total_cents": left, "minimum_cents": minimum, "currency": currency}
                )
            credits = payable
        total = payable - credits
        adjusted = True
    if total > cur.maximum:
        raise AmountTooLarge(
            details={"total_cents": total, "maximum_cents": cur.maximum, "currency": currency}
        )
    return Totals(
        subtotal_cents=subtotal,
        discount_cents=discount,
        tax_cents=tax,
        payable_cents=payable,
        credits_available_cents=max(0, credits_available),
        credits_applied_cents=credits,
        total_cents=total,
        minimum_adjusted=adjusted,
    )
