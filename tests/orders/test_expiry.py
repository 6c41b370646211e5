"""Unpaid orders expire: slot, credit, coupon and pass given back, the intent canceled at Stripe.
A payment that lands after expiry is fulfilled if everything can be held again, else refunded."""

from __future__ import annotations

import uuid

import stripe
from sqlalchemy import select
from tests.checkout.helpers import (
    API,
    future_slot,
    make_coupon,
    make_practitioner,
    make_user,
    pay_in_browser,
    session_body,
)

from estuary_checkout.bookings.models import Booking
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.credits import repository as credits_repo
from estuary_checkout.orders import reconciler
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders.models import Order
from estuary_checkout.refunds.models import Refund

CANCEL_ROUTE = r"^POST /v1/payment_intents/[^/]+/cancel$"


async def _setup(client, session, make_token, *, credit=500):  # type: ignore[no-untyped-def]
    pid, sid = await make_practitioner(session)
    code = await make_coupon(session, max_redemptions=5)
    user = await make_user(session, credit=credit)
    other = await make_user(session)
    await session.commit()
    h = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    ho = {"Authorization": f"Bearer {make_token(other.external_id)}"}
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid, use_credits=True, coupon_code=code)
    r = await client.post(f"{API}/checkout/create", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json(), h, ho, user, body, code


async def _expire(app_state, order_id: str) -> str:
    async with app_state.session_factory() as s:
        status = await orders_service.expire_order(s, app_state.gateway, uuid.UUID(order_id), force=True)
        await s.commit()
    return status


async def _state(app_state, order_id: str, user_id: int, code: str):  # type: ignore[no-untyped-def]
    async with app_state.session_factory() as s:
        order = await s.get(Order, uuid.UUID(order_id))
        bookings = (
            (await s.execute(select(Booking.status).where(Booking.order_id == order.id))).scalars().all()
        )
        bal = await credits_repo.get_balance(s, user_id, "usd")
        sums = await credits_repo.ledger_sums(s, user_id, "usd")
        coupon = (await s.execute(select(Coupon).where(Coupon.code == code))).scalar_one()
        refunds = (await s.execute(select(Refund).where(Refund.order_id == order.id))).scalars().all()
    assert (bal.balance_cents, bal.held_cents) == sums
    return order, list(bookings), bal, coupon.redeemed_count, refunds


def _sk(stripe_api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": stripe_api_base}, http_client=stripe.HTTPXClient()
    )


async def test_expiry_releases_everything_and_cancels_the_intent(
    client, session, make_token, app_state, stripe_api_base
):
    c, h, ho, user, body, code = await _setup(client, session, make_token)
    order, bookings, bal, redeemed, _ = await _state(app_state, c["order_id"], user.id, code)
    assert (bal.balance_cents, bal.held_cents, redeemed, bookings) == (0, 500, 1, ["pending_payment"])

    assert await _expire(app_state, c["order_id"]) == "expired"
    assert await _expire(app_state, c["order_id"]) == "expired"  # idempotent
    order, bookings, bal, redeemed, _ = await _state(app_state, c["order_id"], user.id, code)
    assert order.status == "expired" and bookings == ["canceled"]
    assert (bal.balance_cents, bal.held_cents, redeemed) == (500, 0, 0)
    assert (
        await _sk(stripe_api_base).v1.payment_intents.retrieve_async(c["payment_intent_id"])
    ).status == "canceled"
    status = (await client.post(f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=h)).json()
    assert status["status"] == "expired" and status["booking_ids"] == []
    # the slot is free for someone else
    other = {k: v for k, v in body.items() if k not in ("use_credits", "coupon_code")}
    assert (await client.post(f"{API}/checkout/create", json=other, headers=ho)).status_code == 201


async def test_not_due_yet_is_left_alone(client, session, make_token, app_state):
    c, _h, _ho, _user, _body, _code = await _setup(client, session, make_token)
    async with app_state.session_factory() as s:
        assert (
            await orders_service.expire_order(s, app_state.gateway, uuid.UUID(c["order_id"]))
            == "pending_payment"
        )


async def test_late_payment_on_a_free_slot_is_fulfilled(client, session, make_token, app_state, stripe_emu):
    c, h, _ho, user, _body, code = await _setup(client, session, make_token)
    stripe_emu.set_faults(route=CANCEL_ROUTE, error_rate=1.0, error_status=500)
    try:
        assert (
            await _expire(app_state, c["order_id"]) == "expired"
        )  # Stripe could not cancel: the hold ends anyway
    finally:
        stripe_emu.clear_faults()
    order, bookings, bal, redeemed, _ = await _state(app_state, c["order_id"], user.id, code)
    assert order.payment_status == "cancel_pending" and bookings == ["canceled"] and bal.held_cents == 0

    await pay_in_browser(stripe_emu.url, c["payment_intent_id"], c["client_secret"])
    r = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed" and len(r.json()["booking_ids"]) == 1
    order, bookings, bal, redeemed, refunds = await _state(app_state, c["order_id"], user.id, code)
    assert order.status == "completed" and bookings == ["confirmed"]
    assert (bal.balance_cents, bal.held_cents, redeemed, refunds) == (0, 0, 1, [])


async def test_late_payment_on_a_taken_slot_is_refunded(client, session, make_token, app_state, stripe_emu):
    c, h, ho, user, body, code = await _setup(client, session, make_token)
    stripe_emu.set_faults(route=CANCEL_ROUTE, error_rate=1.0, error_status=500)
    try:
        assert await _expire(app_state, c["order_id"]) == "expired"
    finally:
        stripe_emu.clear_faults()
    taken = {k: v for k, v in body.items() if k not in ("use_credits", "coupon_code")}
    assert (await client.post(f"{API}/checkout/create", json=taken, headers=ho)).status_code == 201

    await pay_in_browser(stripe_emu.url, c["payment_intent_id"], c["client_secret"])
    r = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "refunded" and r.json()["booking_ids"] == []
    order, bookings, bal, redeemed, refunds = await _state(app_state, c["order_id"], user.id, code)
    assert order.status == "refunded" and "no longer available" in (order.refund_reason or "")
    assert order.refunded_cents == order.total_cents
    assert bookings == ["canceled"]
    assert (bal.balance_cents, bal.held_cents, redeemed) == (500, 0, 0)  # credit and coupon back
    assert [x.amount_cents for x in refunds] == [order.total_cents]
    pi = await _sk(stripe_emu.url).v1.payment_intents.retrieve_async(
        c["payment_intent_id"], params={"expand": ["latest_charge"]}
    )
    assert pi.latest_charge.amount_refunded == order.total_cents
    # a second confirm changes nothing and refunds nothing more
    again = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=h
    )
    assert again.json()["status"] == "refunded"


async def test_an_intent_stripe_does_not_know_still_expires_and_releases(
    client, session, make_token, app_state
):
    """E.g. a reset test account or a switched key: the reconciler must not fail on it forever."""
    from datetime import timedelta

    from sqlalchemy import update

    c, _h, _ho, user, _body, code = await _setup(client, session, make_token)
    async with app_state.session_factory() as s:
        await s.execute(
            update(Order)
            .where(Order.id == uuid.UUID(c["order_id"]))
            .values(payment_intent_id=f"pi_unknown_{uuid.uuid4().hex}", expires_at=Order.created_at)
        )
        await s.commit()
    counts = await reconciler.reconcile(app_state.session_factory, app_state.gateway, older_than=timedelta(0))
    order, bookings, bal, redeemed, _ = await _state(app_state, c["order_id"], user.id, code)
    assert order.status == "expired" and bookings == ["canceled"]
    assert (bal.balance_cents, bal.held_cents, redeemed) == (500, 0, 0)
    assert counts["expired"] >= 1
