"""Stripe faults (5xx, dropped connections) on create and confirm: 503 PAYMENT_PROVIDER_UNAVAILABLE
and nothing half-done — no order, no held credit, no coupon reservation, the slot free for a retry."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.checkout.helpers import (
    API,
    assert_error,
    blocking_bookings,
    credit_state,
    db,
    figures,
    future_slot,
    make_coupon,
    make_practitioner,
    order_count,
    pay_in_browser,
    session_body,
)

from estuary_checkout.coupons.models import Coupon, CouponRedemption

CREATE_PI = r"^POST /v1/payment_intents$"
CUSTOMERS = r"^POST /v1/customers$"
RETRIEVE_PI = r"^GET /v1/payment_intents/pi_"


async def _coupon_use(factory, code):  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        c = (await s.execute(select(Coupon).where(Coupon.code == code))).scalar_one()
        n = len(
            list(
                (
                    await s.execute(select(CouponRedemption).where(CouponRedemption.coupon_id == c.id))
                ).scalars()
            )
        )
    return c.redeemed_count, n


async def _nothing_half_done(factory, user, code, pid, start):  # type: ignore[no-untyped-def]
    assert await order_count(factory, user.id) == 0
    state = await credit_state(factory, user.id)
    assert (state["balance"], state["held"]) == (2000, 0)
    assert (state["ledger_balance"], state["ledger_held"]) == (2000, 0)
    assert await _coupon_use(factory, code) == (0, 0)
    assert await blocking_bookings(factory, pid, start) == []


@pytest.mark.parametrize(
    ("route", "fault"),
    [
        (CREATE_PI, {"error_rate": 1.0}),
        (CREATE_PI, {"error_rate": 1.0, "error_status": 503}),
        (CREATE_PI, {"drop_rate": 1.0}),
        (CREATE_PI, {"error_rate": 1.0, "phase": "after"}),  # created at Stripe, the reply lost
        (CUSTOMERS, {"error_rate": 1.0}),
        (CUSTOMERS, {"drop_rate": 1.0}),
    ],
)
async def test_create_under_stripe_faults(client, factory, new_user, stripe_emu, route, fault):
    user = await new_user(credit=2000)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
        code = await make_coupon(s, percent_off=10, max_redemptions=1)
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid, use_credits=True, coupon_code=code)
    stripe_emu.set_faults(route=route, **fault)
    try:
        resp = await client.post(f"{API}/checkout/create", json=body, headers=user.headers)
        assert_error(resp, 503, "PAYMENT_PROVIDER_UNAVAILABLE")
        assert stripe_emu.get_faults()["matched"] >= 1
    finally:
        stripe_emu.clear_faults()
    await _nothing_half_done(factory, user, code, pid, start)
    # the retry succeeds: slot, credit and the coupon's last redemption were all free again
    retry = await client.post(f"{API}/checkout/create", json=body, headers=user.headers)
    assert retry.status_code == 201, retry.text
    # 10000 − 1000 = 9000; tax 787.5 → 788; − 2000 credit
    assert figures(retry.json()) == (10000, 1000, 788, 2000, 7788)
    assert await _coupon_use(factory, code) == (1, 1)


async def test_lost_reply_then_retry_with_same_key_reuses_the_intent(client, factory, new_user, stripe_emu):
    """Stripe created the PaymentIntent but its reply was lost; the client retries with the same
    Idempotency-Key: one order, and exactly one PaymentIntent at Stripe for it."""
    user = await new_user()
    body = session_body(*future_slot())
    headers = {**user.headers, "Idempotency-Key": "lost-reply-1"}
    stripe_emu.set_faults(route=CREATE_PI, error_rate=1.0, phase="after")
    try:
        assert_error(
            await client.post(f"{API}/checkout/create", json=body, headers=headers),
            503,
            "PAYMENT_PROVIDER_UNAVAILABLE",
        )
    finally:
        stripe_emu.clear_faults()
    assert await order_count(factory, user.id) == 0
    retry = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    order_id = retry.json()["order_id"]
    intents = [
        pi
        for pi in list(stripe_emu.state.store.payment_intents.values())
        if pi["metadata"].get("order_id") == order_id
    ]
    assert [pi["id"] for pi in intents] == [retry.json()["payment_intent_id"]]
    assert await order_count(factory, user.id) == 1


@pytest.mark.parametrize("fault", [{"error_rate": 1.0}, {"drop_rate": 1.0}])
async def test_confirm_under_stripe_faults(client, factory, new_user, stripe_emu, stripe_api_base, fault):
    user = await new_user(credit=2000)
    start, end = future_slot()
    created = (
        await client.post(
            f"{API}/checkout/create", json=session_body(start, end, use_credits=True), headers=user.headers
        )
    ).json()
    await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    confirm = {"payment_intent_id": created["payment_intent_id"]}
    stripe_emu.set_faults(route=RETRIEVE_PI, **fault)
    try:
        resp = await client.post(f"{API}/payment/confirm", json=confirm, headers=user.headers)
        assert_error(resp, 503, "PAYMENT_PROVIDER_UNAVAILABLE")
    finally:
        stripe_emu.clear_faults()
    st = (
        await client.post(
            f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=user.headers
        )
    ).json()
    assert st["status"] == "pending_payment"  # not fulfilled, not failed: still waiting for a good answer
    state = await credit_state(factory, user.id)
    assert (state["balance"], state["held"]) == (0, 2000) and "sum_capture" not in state
    resp = await client.post(f"{API}/payment/confirm", json=confirm, headers=user.headers)
    assert resp.status_code == 200 and resp.json()["status"] == "completed", resp.text
    state = await credit_state(factory, user.id)
    assert (state["balance"], state["held"], state["sum_capture"]) == (0, 0, 2000)


async def test_flaky_stripe_one_failure_is_retried_by_the_sdk(client, new_user, stripe_emu):
    """A single 500 is retried by the SDK with the same Stripe idempotency key: the caller sees a 201."""
    user = await new_user()
    stripe_emu.set_faults(route=CREATE_PI, error_rate=1.0, count=1)
    try:
        resp = await client.post(
            f"{API}/checkout/create", json=session_body(*future_slot()), headers=user.headers
        )
    finally:
        stripe_emu.clear_faults()
    assert resp.status_code == 201, resp.text
