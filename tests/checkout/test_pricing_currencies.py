"""Pricing in every currency of the registry (SPEC 14): what is sent to Stripe is always an amount
Stripe accepts in that currency, the figures add up, and nothing is a float. Oracles are written
here with Decimal, independently of the pricing code."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estuary_checkout import currencies
from estuary_checkout.pricing import service as pricing
from estuary_checkout.pricing.errors import AmountTooLarge, AmountTooSmall, CurrencyNotChargeable

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RATE = Decimal("0.0875")
STEPPED = ["bhd", "jod", "kwd", "omr", "tnd", "isk", "ugx", "jpy"]


def totals(amounts, currency, *, coupon=None, rate=RATE, available=0, use_credits=False, to_apply=None):  # type: ignore[no-untyped-def]
    return pricing.price_totals(
        [pricing.PricedLine(i + 1, a) for i, a in enumerate(amounts)],
        coupon=coupon,
        tax_rate=rate,
        currency=currency,
        credits_available=available,
        use_credits=use_credits,
        credits_to_apply=to_apply,
    )


def figures(t: pricing.Totals) -> tuple[int, int, int, int, int]:
    return t.subtotal_cents, t.discount_cents, t.tax_cents, t.credits_applied_cents, t.total_cents


@pytest.mark.parametrize(
    ("currency", "price", "tax", "total"),
    [
        ("jpy", 15000, 1313, 16313),  # ¥1312.5 → ¥1313: whole yen
        ("kwd", 35000, 3060, 38060),  # 3.0625 KWD → 3.060: a multiple of 10 fils
        ("eur", 9000, 788, 9788),
        ("gbp", 8000, 700, 8700),
        ("usd", 10000, 875, 10875),
    ],
)
def test_spec_14_worked_numbers(currency, price, tax, total):
    t = totals([price], currency)
    assert figures(t) == (price, 0, tax, 0, total)
    assert currencies.check_amount(t.total_cents, currency) is None


def test_credit_leaves_a_chargeable_total():
    # a KWD balance of 1.235 pays 1.230: the card cannot be charged 36.825
    t = totals([35000], "kwd", available=1235, use_credits=True)
    assert figures(t) == (35000, 0, 3060, 1230, 36830)
    # credit covering everything is all used, whatever the step
    t = totals([35000], "kwd", available=50_000, use_credits=True)
    assert (t.credits_applied_cents, t.total_cents) == (38060, 0)
    # near the minimum (KWD 0.200): credit is given back down to it, still a multiple of 10
    t = totals([35000], "kwd", available=37_905, use_credits=True)
    assert (t.credits_applied_cents, t.total_cents, t.minimum_adjusted) == (37860, 200, True)


def test_what_cannot_be_charged_goes_to_the_discount():
    # 15 % off 12.340 KWD is 1.851: charged 10.480, so the discount is 1.860
    coupon = pricing.CouponTerms(kind="percent", percent_off=15)
    t = totals([12340], "kwd", coupon=coupon)
    assert figures(t) == (12340, 1860, 920, 0, 11400)  # tax 0.917 → 0.920
    # a price that is not whole krónur (a package child's discounted price): the hundredths go
    t = totals([12345], "isk", rate=Decimal("0"))
    assert (t.discount_cents, t.total_cents) == (45, 12300)
    # two-decimal currencies are untouched: 15 % of 12340 cents is 1851
    t = totals([12340], "usd", coupon=coupon)
    assert t.discount_cents == 1851


def test_too_large_and_unknown_currencies_are_refused():
    with pytest.raises(AmountTooLarge) as info:
        totals([99_999_999], "usd")
    assert info.value.code == "AMOUNT_TOO_LARGE" and info.value.status_code == 422
    assert info.value.details == {"total_cents": 108_749_999, "maximum_cents": 99_999_999, "currency": "usd"}
    assert totals([91_954_022], "usd").total_cents == 99_999_999  # the largest chargeable total
    with pytest.raises(CurrencyNotChargeable) as unknown:
        totals([1000], "xyz")
    assert unknown.value.code == "CURRENCY_NOT_CHARGEABLE" and unknown.value.status_code == 422
    with pytest.raises(AmountTooSmall) as small:
        totals([150], "kwd", rate=Decimal("0"))
    assert small.value.details == {"total_cents": 150, "minimum_cents": 200, "currency": "kwd"}


@st.composite
def carts(draw):  # type: ignore[no-untyped-def]
    # every currency, with the ones whose step is not 1 (and yen) drawn more often
    currency = draw(st.one_of(st.sampled_from(currencies.CODES), st.sampled_from(STEPPED)))
    cur = currencies.get(currency)
    # amounts around the minimum and up to a quarter of the maximum per line, aligned or not
    amount = st.one_of(st.integers(0, cur.minimum * 4), st.integers(0, cur.maximum // 4))
    amounts = draw(st.lists(amount, min_size=1, max_size=4))
    coupon = draw(
        st.one_of(
            st.none(),
            st.builds(
                pricing.CouponTerms,
                kind=st.just("percent"),
                percent_off=st.integers(1, 100),
                allowed_service_ids=st.one_of(st.none(), st.frozensets(st.integers(1, 4), min_size=1)),
            ),
            st.builds(
                pricing.CouponTerms,
                kind=st.just("fixed"),
                amount_off=st.fixed_dictionaries({currency: st.integers(1, cur.maximum)}),
                allowed_service_ids=st.one_of(st.none(), st.frozensets(st.integers(1, 4), min_size=1)),
            ),
        )
    )
    rate = draw(st.one_of(st.sampled_from([Decimal(0), RATE, Decimal("0.2")]), st.decimals(0, 1, places=4)))
    # a balance a little under the subtotal often leaves a total under the minimum
    near = st.integers(0, cur.minimum * 2).map(lambda off: max(0, sum(amounts) - off))
    available = draw(st.one_of(st.integers(0, cur.minimum * 3), st.integers(0, cur.maximum), near))
    use_credits = draw(st.booleans())
    to_apply = draw(st.one_of(st.none(), st.integers(0, cur.maximum)))
    return amounts, currency, coupon, rate, available, use_credits, to_apply


def _half_up_to_step(x: Decimal, step: int) -> int:
    return int((x / step).quantize(Decimal(1), ROUND_HALF_UP)) * step


@PROPS
@given(cart=carts())
def test_every_currency_charges_only_what_stripe_accepts(cart):
    amounts, currency, coupon, rate, available, use_credits, to_apply = cart
    cur = currencies.get(currency)
    try:
        t = totals(
            amounts,
            currency,
            coupon=coupon,
            rate=rate,
            available=available,
            use_credits=use_credits,
            to_apply=to_apply,
        )
    except AmountTooSmall as e:
        assert 0 < e.details["total_cents"] < cur.minimum
        return
    except AmountTooLarge as e:
        assert e.details["total_cents"] > cur.maximum
        return
    subtotal, discount, tax, credits, total = figures(t)
    every = (*figures(t), t.payable_cents, t.credits_available_cents)
    assert all(type(v) is int for v in every), every  # never floats (nor Decimals)
    assert all(v >= 0 for v in every)
    # the sum
    assert subtotal == sum(amounts)
    assert t.payable_cents == subtotal - discount + tax
    assert total == subtotal - discount + tax - credits
    # the amount sent to Stripe is 0 (no payment) or one Stripe takes in this currency
    assert total == 0 or currencies.check_amount(total, currency) is None
    # every part is chargeable: discount absorbs only what is under one step
    assert (subtotal - discount) % cur.step == 0 and tax % cur.step == 0 and credits % cur.step == 0
    assert 0 <= discount <= subtotal
    raw = pricing.coupon_discount(
        coupon, [pricing.PricedLine(i + 1, a) for i, a in enumerate(amounts)], currency
    )
    assert min(raw, subtotal) <= discount < min(raw, subtotal) + cur.step
    # tax: half up to the step, on what is charged before tax
    assert tax == _half_up_to_step(Decimal(subtotal - discount) * rate, cur.step)
    # credit: never more than held, asked for or owed; none unless asked
    assert credits <= available and credits <= t.payable_cents
    if to_apply is not None:
        assert credits <= to_apply
    if not use_credits:
        assert credits == 0
