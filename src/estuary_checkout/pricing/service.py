"""Pricing: pure functions over integers (minor units). No I/O, no floats.

The formula (SPEC 4.3): line prices → subtotal → coupon discount → tax on (subtotal − discount)
→ payable → store credit → total, then the minimum-charge rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from estuary_checkout.pricing.errors import AmountTooSmall

# Stripe's smallest charge per currency, in minor units.
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "eur": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "chf": 50,
    "sgd": 50,
    "gbp": 30,
    "jpy": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "hkd": 400,
    "mxn": 1000,
}
ZERO_DECIMAL = frozenset(
    {
        "jpy",
        "krw",
        "vnd",
        "clp",
        "pyg",
        "ugx",
        "xaf",
        "xof",
        "bif",
        "djf",
        "gnf",
        "kmf",
        "mga",
        "rwf",
        "vuv",
        "xpf",
    }
)


def minimum_charge(currency: str) -> int:
    return MINIMUM_CHARGE.get(currency.lower(), 50)


def round_half_up_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("non-negative numerator and positive denominator required")
    return (2 * numerator + denominator) // (2 * denominator)


def discounted_unit(price_cents: int, discount_percentage: int) -> int:
    """round_half_up(price × (100 − pct) / 100)."""
    return round_half_up_div(price_cents * (100 - discount_percentage), 100)


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
        return min(eligible, round_half_up_div(eligible * int(coupon.percent_off or 0), 100))
    return min(eligible, int((coupon.amount_off or {}).get(currency, 0)))


def tax_on(base_cents: int, rate: Decimal) -> int:
    return int((Decimal(base_cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
    subtotal = sum(line.line_total_cents for line in lines)
    discount = max(0, min(subtotal, coupon_discount(coupon, lines, currency)))
    tax = tax_on(subtotal - discount, tax_rate)
    payable = subtotal - discount + tax
    credits = 0
    if use_credits:
        credits = min(max(0, credits_available), payable)
        if credits_to_apply is not None:
            credits = min(credits, credits_to_apply)
    total = payable - credits
    minimum = minimum_charge(currency)
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
                raise AmountTooSmall(
                    details={"total_cents": payable - cap, "minimum_cents": minimum, "currency": currency}
                )
            credits = payable
        total = payable - credits
        adjusted = True
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
