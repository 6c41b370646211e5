"""Signed webhooks: verification, store-once, exactly-once fulfilment whatever the delivery order."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import pytest
import stripe
from sqlalchemy import func, select
from tests.checkout.helpers import (
    API,
    future_slot,
    make_practitioner,
    make_user,
    pay_in_browser,
    session_body,
)

from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.orders.models import Order
from estuary_checkout.webhooks.models import StripeEvent
from estuary_checkout.workflows.models import OutboxMessage

WEBHOOK = f"{API}/webhooks/stripe"
SECRET = "whsec_test_checkout_tests"


def sign(payload: bytes, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def deliver(client, event: dict, **kw) -> object:
    payload = json.dumps(event).encode()
    return await client.post(
        WEBHOOK,
        content=payload,
        headers={"Stripe-Signature": sign(payload, **kw), "content-type": "application/json"},
    )


async def stripe_event(stripe_api_base: str, type_: str, object_id: str) -> dict:
    sk = stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": stripe_api_base}, http_client=stripe.HTTPXClient()
    )
    for _ in range(50):
        page = await sk.v1.events.list_async(params={"type": type_, "limit": 100})
        for ev in page.data:
            d = ev.to_dict()
            if d["data"]["object"]["id"] == object_id:
                return d
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {type_} event for {object_id}")


async def _paid_order(client, session, make_token, stripe_api_base, *, credit: int = 0):
    user = await make_user(session, credit=credit)
    pid, sid = await make_practitioner(session)
    await session.commit()
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid, use_credits=bool(credit))
    created = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert created.status_code == 201, created.text
    c = created.json()
    await pay_in_browser(stripe_api_base, c["payment_intent_id"], c["client_secret"])
    event = await stripe_event(stripe_api_base, "payment_intent.succeeded", c["payment_intent_id"])
    return c, headers, event, user


async def _fulfilment_counts(app_state, order_id: str) -> tuple[str, int, int]:
    import uuid

    async with app_state.session_factory() as s:
        order = await s.get(Order, uuid.UUID(order_id))
        captures = (
            await s.execute(
                select(func.count())
                .select_from(CreditLedgerEntry)
                .where(CreditLedgerEntry.order_id == order.id, CreditLedgerEntry.kind == "capture")
            )
        ).scalar_one()
        outbox = (
            await s.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.workflow_type == "BookingLifecycleWorkflow",
                    OutboxMessage.payload["booking_id"].as_integer().in_(await _booking_ids(s, order.id)),
                )
            )
        ).scalar_one()
        return order.status, captures, outbox


async def _booking_ids(s, order_id) -> list[int]:
    from estuary_checkout.bookings.models import Booking

    return list((await s.execute(select(Booking.id).where(Booking.order_id == order_id))).scalars())


async def _event_rows(app_state, event_id: str) -> int:
    async with app_state.session_factory() as s:
        return (
            await s.execute(select(func.count()).select_from(StripeEvent).where(StripeEvent.id == event_id))
        ).scalar_one()


@pytest.mark.parametrize("mode", ["tampered", "wrong_secret", "stale", "missing"])
async def test_bad_signatures_are_400_and_store_nothing(client, app_state, mode):
    event = {
        "id": f"evt_bad_{mode}_{time.time_ns()}",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_nope", "object": "payment_intent"}},
    }
    payload = json.dumps(event).encode()
    headers = {"content-type": "application/json"}
    if mode == "tampered":
        headers["Stripe-Signature"] = sign(payload)
        payload = payload.replace(b"pi_nope", b"pi_evil")
    elif mode == "wrong_secret":
        headers["Stripe-Signature"] = sign(payload, secret="whsec_someone_else")
    elif mode == "stale":
        headers["Stripe-Signature"] = sign(payload, t=int(time.time()) - 301)
    r = await client.post(WEBHOOK, content=payload, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_SIGNATURE"
    assert await _event_rows(app_state, event["id"]) == 0


async def test_same_event_ten_times_in_a_row_and_at_once(
    client, session, make_token, stripe_api_base, app_state
):
    c, _headers, event, _user = await _paid_order(client, session, make_token, stripe_api_base, credit=500)
    statuses = []
    for _ in range(10):
        r = await deliver(client, event)
        assert r.status_code == 200, r.text
        statuses.append(r.json()["status"])
    assert statuses[0] == "processed" and set(statuses[1:]) == {"duplicate"}
    # the same payment seen through ten *different* event ids at once (Stripe's retries carry one id,
    # but a replayed delivery through another endpoint or a re-sent event must not matter either)
    copies = [{**event, "id": f"{event['id']}_copy{i}"} for i in range(10)]
    results = await asyncio.gather(*(deliver(client, e) for e in copies))
    assert all(r.status_code == 200 for r in results)
    status, captures, outbox = await _fulfilment_counts(app_state, c["order_id"])
    print(f"\nwebhook x10 sequential + x10 concurrent: order={status} captures={captures} outbox={outbox}")
    assert (status, captures, outbox) == ("completed", 1, 1)
    assert await _event_rows(app_state, event["id"]) == 1


@pytest.mark.parametrize("order_of_arrival", ["webhook_first", "confirm_first", "together"])
async def test_webhook_and_confirm_in_any_order(
    client, session, make_token, stripe_api_base, app_state, order_of_arrival
):
    c, headers, event, _user = await _paid_order(client, session, make_token, stripe_api_base, credit=300)

    async def confirm():
        r = await client.post(
            f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "completed"

    async def hook():
        r = await deliver(client, event)
        assert r.status_code == 200, r.text

    if order_of_arrival == "webhook_first":
        await hook()
        await confirm()
    elif order_of_arrival == "confirm_first":
        await confirm()
        await hook()
    else:
        await asyncio.gather(confirm(), hook(), confirm(), hook())
    assert await _fulfilment_counts(app_state, c["order_id"]) == ("completed", 1, 1)


async def test_stale_failure_after_success_changes_nothing(
    client, session, make_token, stripe_api_base, app_state
):
    c, headers, event, _user = await _paid_order(client, session, make_token, stripe_api_base)
    assert (await deliver(client, event)).json()["status"] == "processed"
    stale = {**event, "id": event["id"] + "_stale_fail", "type": "payment_intent.payment_failed"}
    stale["data"] = {"object": {**event["data"]["object"], "status": "requires_payment_method"}}
    r = await deliver(client, stale)
    assert r.status_code == 200
    status = (
        await client.post(f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=headers)
    ).json()
    assert status["status"] == "completed"


async def test_unknown_objects_are_stored_and_ignored(client, app_state):
    event = {
        "id": f"evt_unknown_{time.time_ns()}",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_not_ours", "object": "payment_intent"}},
    }
    r = await deliver(client, event)
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    other = {
        "id": f"evt_other_{time.time_ns()}",
        "type": "customer.created",
        "data": {"object": {"id": "cus_x"}},
    }
    assert (await deliver(client, other)).json()["status"] == "ignored"
    async with app_state.session_factory() as s:
        row = await s.get(StripeEvent, event["id"])
    assert row is not None and row.status == "ignored"


async def test_refund_events_record_refunds(client, session, make_token, stripe_api_base, app_state):
    c, headers, event, _user = await _paid_order(client, session, make_token, stripe_api_base)
    await deliver(client, event)
    sk = stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": stripe_api_base}, http_client=stripe.HTTPXClient()
    )
    await sk.v1.refunds.create_async(params={"payment_intent": c["payment_intent_id"], "amount": 1000})
    refund_event = await stripe_event(
        stripe_api_base,
        "charge.refunded",
        (await sk.v1.payment_intents.retrieve_async(c["payment_intent_id"])).latest_charge,
    )
    assert (await deliver(client, refund_event)).json()["status"] == "processed"
    status = (
        await client.post(f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=headers)
    ).json()
    assert status["status"] == "partially_refunded"
    await sk.v1.refunds.create_async(params={"payment_intent": c["payment_intent_id"]})
    later = {**refund_event, "id": refund_event["id"] + "_2"}
    assert (await deliver(client, later)).json()["status"] == "processed"
    status = (
        await client.post(f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=headers)
    ).json()
    assert status["status"] == "refunded"
    async with app_state.session_factory() as s:
        import uuid

        order = await s.get(Order, uuid.UUID(c["order_id"]))
    assert order.refunded_cents == order.total_cents


async def test_settled_order_needs_no_stripe_call(client, session, make_token, stripe_api_base, stripe_emu):
    """Once an order is completed, neither a repeated confirm nor another succeeded event asks
    Stripe again: both answer from the database even while every intent read would fail."""
    c, headers, event, _user = await _paid_order(client, session, make_token, stripe_api_base)
    first = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=headers
    )
    assert first.status_code == 200 and first.json()["status"] == "completed"
    stripe_emu.set_faults(route=r"^GET /v1/payment_intents/", error_rate=1.0, error_status=500)
    try:
        again = await client.post(
            f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=headers
        )
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "completed"
        assert again.json()["booking_ids"] == first.json()["booking_ids"]
        replay = await deliver(client, {**event, "id": f"{event['id']}_late"})
        assert replay.status_code == 200 and replay.json()["status"] == "processed"
    finally:
        stripe_emu.clear_faults()
