"""Apportioning an order's money over its lines (pricing.allocation), property-tested on random
orders priced by the real pricing code: multi-line carts, coupons limited to some services,
store credit, tax rates. Shares add up exactly to the order's figures and each lies within one
cent of its exact proportion; integers only."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from estuary_checkout.bookings.policy import refund_split
from estuary_checkout.pricing.allocation import largest_remainder, line_shares
from estuary_checkout.pricing.errors import AmountTooSmall
from estuary_checkout.pricing.service import CouponTerms, PricedLine, price_totals


def _within_a_cent(part: int, whole: int, weight: int, weights: int) -> bool:
    return weights == 0 or abs(Fraction(part) - Fraction(whole * weight, weights)) < 1


@st.composite
def orders(draw):  # type: ignore[no-untyped-def]
    lines = draw(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 200_000)), min_size=1, max_size=10))
    priced = [PricedLine(service_id, total) for service_id, total in lines]
    coupon = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda p, ids: CouponTerms("percent", percent_off=p, allowed_service_ids=ids),
                st.integers(1, 100),
                st.one_of(st.none(), st.frozensets(st.integers(1, 5), min_size=1)),
            ),
            st.builds(
                lambda a, ids: CouponTerms("fixed", amount_off={"usd": a}, allowed_service_ids=ids),
                st.integers(1, 300_000),
                st.one_of(st.none(), st.frozensets(st.integers(1, 5), min_size=1)),
            ),
        )
    )
    rate = draw(st.sampled_from([Decimal("0"), Decimal("0.0875"), Decimal("0.2"), Decimal("0.07125")]))
    credit = draw(st.integers(0, 500_000))
    return priced, coupon, rate, credit


@settings(max_examples=400)
@given(orders())
def test_line_shares_add_up_and_stay_within_a_cent(order):
    priced, coupon, rate, credit = order
    try:
        t = price_totals(
            priced,
            coupon=coupon,
            tax_rate=rate,
            currency="usd",
            credits_available=credit,
            use_credits=credit > 0,
            credits_to_apply=None,
        )
    except AmountTooSmall:
        assume(False)
        raise
    eligible = [
        coupon is None or coupon.allowed_service_ids is None or p.service_id in coupon.allowed_service_ids
        for p in priced
    ]
    totals = [p.line_total_cents for p in priced]
    shares = line_shares(
        totals,
        eligible,
        discount_cents=t.discount_cents,
        tax_cents=t.tax_cents,
        credits_cents=t.credits_applied_cents,
        card_cents=t.total_cents,
    )
    assert sum(s.discount_cents for s in shares) == t.discount_cents
    assert sum(s.tax_cents for s in shares) == t.tax_cents
    assert sum(s.credit_cents for s in shares) == t.credits_applied_cents
    assert sum(s.card_cents for s in shares) == t.total_cents
    eligible_total = sum(x for x, e in zip(totals, eligible, strict=True) if e)
    taxable = [x - s.discount_cents for x, s in zip(totals, shares, strict=True)]
    paid = [s.paid_cents for s in shares]
    for x, e, s, tx, p in zip(totals, eligible, shares, taxable, paid, strict=True):
        assert min(s.discount_cents, s.tax_cents, s.credit_cents, s.card_cents) >= 0
        assert s.discount_cents <= x and p == x - s.discount_cents + s.tax_cents
        assert _within_a_cent(s.discount_cents, t.discount_cents, x if e else 0, eligible_total)
        assert _within_a_cent(s.tax_cents, t.tax_cents, tx, sum(taxable))
        assert _within_a_cent(s.credit_cents, t.credits_applied_cents, p, sum(paid))
        assert isinstance(s.card_cents, int)


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=20))
def test_largest_remainder(total, weights):
    parts = largest_remainder(total, weights)
    if sum(weights) == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total
    assert all(_within_a_cent(p, total, w, sum(weights)) for p, w in zip(parts, weights, strict=True))


@given(st.integers(0, 100), st.integers(0, 10**7), st.integers(0, 10**7))
def test_a_cancel_refund_splits_like_the_payment(percent, credit_share, card_share):
    credit, card = refund_split(percent, credit_share=credit_share, card_share=card_share)
    whole = credit_share + card_share
    assert credit + card == (whole * percent * 2 + 100) // 200  # round half up
    assert 0 <= credit <= credit_share and 0 <= card <= card_share
    assert _within_a_cent(credit, credit + card, credit_share, whole)
