"""Property tests of pricing (pure functions, integers only), checked against an independent
oracle written from SPEC 4.3 with exact fractions."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from estuary_checkout.pricing import service as pricing
from estuary_checkout.pricing.errors import AmountTooSmall

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

money = st.integers(min_value=0, max_value=5_000_000)
lines_st = st.lists(
    st.builds(pricing.PricedLine, service_id=st.integers(1, 6), line_total_cents=money),
    min_size=1,
    max_size=6,
)
coupon_st = st.one_of(
    st.none(),
    st.builds(
        pricing.CouponTerms,
        kind=st.just("percent"),
        percent_off=st.integers(1, 100),
        allowed_service_ids=st.one_of(st.none(), st.frozensets(st.integers(1, 6), min_size=1)),
    ),
    st.builds(
        pricing.CouponTerms,
        kind=st.just("fixed"),
        # per currency: a cart in a currency the coupon has no amount for gets no discount
        amount_off=st.dictionaries(
            st.sampled_from(["usd", "eur", "gbp", "jpy", "mxn"]), st.integers(1, 10_000_000), min_size=1
        ),
        allowed_service_ids=st.one_of(st.none(), st.frozensets(st.integers(1, 6), min_size=1)),
    ),
)
rate_st = st.sampled_from(
    [Decimal("0"), Decimal("0.0875"), Decimal("0.2"), Decimal("0.07"), Decimal("0.125")]
)
currency_st = st.sampled_from(["usd", "eur", "gbp", "jpy", "mxn"])


def half_up(x: Fraction) -> int:
    """Exact round-half-up for non-negative rationals."""
    assert x >= 0
    floor = x.numerator // x.denominator
    return floor + (1 if x - floor >= Fraction(1, 2) else 0)


def oracle(lines, coupon, rate, currency, available, use_credits, to_apply):  # type: ignore[no-untyped-def]
    """SPEC 4.3 steps 2–8, written independently; returns the five figures or raises AmountTooSmall."""
    subtotal = sum(line.line_total_cents for line in lines)
    discount = 0
    if coupon is not None:
        eligible = sum(
            line.line_total_cents
            for line in lines
            if coupon.allowed_service_ids is None or line.service_id in coupon.allowed_service_ids
        )
        if coupon.kind == "percent":
            discount = min(eligible, half_up(Fraction(eligible * coupon.percent_off, 100)))
        else:
            discount = min(eligible, coupon.amount_off.get(currency, 0))
    tax = half_up(Fraction(subtotal - discount) * Fraction(rate))
    payable = subtotal - discount + tax
    credits = 0
    if use_credits:
        credits = min(available, payable, to_apply if to_apply is not None else payable)
    total = payable - credits
    minimum = pricing.minimum_charge(currency)
    if 0 < total < minimum:
        if credits == 0 or payable < minimum:
            raise AmountTooSmall()
        credits = payable - minimum  # give back just enough credit
        total = minimum
    return subtotal, discount, tax, credits, total


@PROPS
@given(
    lines=lines_st,
    coupon=coupon_st,
    rate=rate_st,
    currency=currency_st,
    available=st.integers(0, 10_000_000),
    use_credits=st.booleans(),
    to_apply=st.one_of(st.none(), st.integers(0, 10_000_000)),
)
def test_totals_match_the_spec_and_hold_their_invariants(
    lines, coupon, rate, currency, available, use_credits, to_apply
):
    kwargs = dict(
        coupon=coupon,
        tax_rate=rate,
        currency=currency,
        credits_available=available,
        use_credits=use_credits,
        credits_to_apply=to_apply,
    )
    try:
        expected = oracle(lines, coupon, rate, currency, available, use_credits, to_apply)
    except AmountTooSmall:
        # AMOUNT_TOO_SMALL is raised exactly when the oracle says it must be
        with pytest.raises(AmountTooSmall) as info:
            pricing.price_totals(lines, **kwargs)
        assert info.value.code == "AMOUNT_TOO_SMALL" and info.value.status_code == 422
        return
    t = pricing.price_totals(lines, **kwargs)
    got = (t.subtotal_cents, t.discount_cents, t.tax_cents, t.credits_applied_cents, t.total_cents)
    assert got == expected
    figures = (*got, t.payable_cents, t.credits_available_cents)
    assert all(type(v) is int for v in figures), figures  # ints only, never floats or Decimals
    assert all(v >= 0 for v in figures)
    assert t.total_cents == t.subtotal_cents - t.discount_cents + t.tax_cents - t.credits_applied_cents
    assert t.payable_cents == t.subtotal_cents - t.discount_cents + t.tax_cents
    assert t.discount_cents <= t.subtotal_cents
    assert t.credits_applied_cents <= available
    assert t.credits_applied_cents <= t.payable_cents
    if to_apply is not None:
        assert t.credits_applied_cents <= to_apply
    if not use_credits:
        assert t.credits_applied_cents == 0
    # the minimum-charge rule: a card is never asked for 0 < amount < minimum
    assert not (0 < t.total_cents < pricing.minimum_charge(currency))


@PROPS
@given(
    subtotal=st.integers(1, 49),
    rate=st.just(Decimal("0")),
)
def test_small_cart_without_credit_is_refused(subtotal, rate):
    with pytest.raises(AmountTooSmall) as info:
        pricing.price_totals(
            [pricing.PricedLine(1, subtotal)],
            coupon=None,
            tax_rate=rate,
            currency="usd",
            credits_available=0,
            use_credits=False,
            credits_to_apply=None,
        )
    assert info.value.details == {"total_cents": subtotal, "minimum_cents": 50, "currency": "usd"}


@PROPS
@given(payable=st.integers(50, 1_000_000), balance=st.integers(1, 2_000_000))
def test_credit_is_given_back_to_reach_the_minimum(payable, balance):
    t = pricing.price_totals(
        [pricing.PricedLine(1, payable)],
        coupon=None,
        tax_rate=Decimal("0"),
        currency="usd",
        credits_available=balance,
        use_credits=True,
        credits_to_apply=None,
    )
    if balance >= payable:
        assert (t.credits_applied_cents, t.total_cents) == (payable, 0)  # free: no card charge at all
    elif payable - balance < 50:
        assert (t.credits_applied_cents, t.total_cents, t.minimum_adjusted) == (payable - 50, 50, True)
    else:
        assert (t.credits_applied_cents, t.total_cents) == (balance, payable - balance)


@PROPS
@given(n=st.integers(0, 10**9), d=st.integers(1, 10**6))
def test_round_half_up_div_is_exact(n, d):
    got = pricing.round_half_up_div(n, d)
    assert type(got) is int
    assert got == half_up(Fraction(n, d))


@PROPS
@given(price=st.integers(0, 10_000_000), pct=st.integers(0, 100))
def test_discounted_unit_is_half_up(price, pct):
    assert pricing.discounted_unit(price, pct) == half_up(Fraction(price * (100 - pct), 100))


@PROPS
@given(base=st.integers(0, 10**9), rate=st.decimals(min_value=0, max_value=1, places=4))
def test_tax_is_half_up(base, rate):
    got = pricing.tax_on(base, rate)
    assert type(got) is int and got == half_up(Fraction(base) * Fraction(rate))


@PROPS
@given(
    children=st.lists(
        st.tuples(
            st.integers(0, 100_000),  # price
            st.integers(0, 100),  # discount %
            st.integers(1, 10),  # default qty
            st.booleans(),  # required
            st.integers(0, 10),  # chosen qty (0 = out; required children are at least the default)
        ),
        min_size=1,
        max_size=5,
    ),
    fixed=st.one_of(st.none(), st.integers(0, 1_000_000)),
)
def test_package_unit_price(children, fixed):
    picks = []
    for n, (price, pct, default, required, qty) in enumerate(children):
        if required:
            qty = max(qty, default if fixed is not None else 1)
        picks.append(pricing.ChildPick(n + 1, price, pct, qty, default, required))
    assume(any(p.quantity > 0 for p in picks))
    unit = lambda p: half_up(Fraction(p.price_cents * (100 - p.discount_percentage), 100))  # noqa: E731
    if fixed is None:
        expected = sum(unit(p) * p.quantity for p in picks)
    else:
        expected = fixed + sum(
            unit(p) * (p.quantity - p.default_quantity if p.is_required else p.quantity) for p in picks
        )
    got = pricing.package_unit_price(fixed, picks)
    assert type(got) is int and got == expected and got >= 0


def test_worked_examples():
    """The spec's and the issue's numbers, through the pure function."""
    kw = dict(coupon=None, tax_rate=Decimal("0.0875"), currency="usd", credits_to_apply=None)
    t = pricing.price_totals([pricing.PricedLine(123, 10000)], credits_available=2000, use_credits=True, **kw)
    assert (t.subtotal_cents, t.discount_cents, t.tax_cents, t.credits_applied_cents, t.total_cents) == (
        10000,
        0,
        875,
        2000,
        8875,
    )
    t = pricing.price_totals([pricing.PricedLine(789, 45000)], credits_available=0, use_credits=False, **kw)
    assert (t.tax_cents, t.total_cents) == (3938, 48938)
    t = pricing.price_totals([pricing.PricedLine(999, 12600)], credits_available=0, use_credits=False, **kw)
    assert (t.tax_cents, t.total_cents) == (1103, 13703)
