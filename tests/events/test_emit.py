"""Each change writes its event in its own transaction (SPEC 12.1): the order, booking, pass and
refund events with the object's public view, once per change however often the code runs, and
none for a change that rolled back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.aftersale.helpers import CANCEL, RESCHEDULE, around_the_clock, quarter_hour, refunds_of, slot_body
from tests.checkout.helpers import API, bundle_body, create_ok, db, pay_and_confirm
from tests.webhooks.test_webhooks import deliver, stripe_event

from estuary_checkout.bookings import changes
from estuary_checkout.bookings import service as bookings_service
from estuary_checkout.events import emit
from estuary_checkout.events.models import OutboundEvent
from estuary_checkout.events.schemas import EventPayload
from estuary_checkout.orders import service as orders_service


async def events_of(factory, order_id: str | uuid.UUID) -> list[OutboundEvent]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        rows = await s.execute(
            select(OutboundEvent)
            .where(OutboundEvent.order_id == uuid.UUID(str(order_id)))
            .order_by(OutboundEvent.created_at, OutboundEvent.dedupe_key)
        )
        return list(rows.scalars())


def types(events: list[OutboundEvent]) -> list[str]:
    return [e.type for e in events]


async def test_a_paid_session_reports_the_order_and_its_booking(client, factory, paid_order, new_user):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
    events = await events_of(factory, paid.order_id)
    assert sorted(types(events)) == ["booking.confirmed", "order.completed"]
    by_type = {e.type: e for e in events}
    order = by_type["order.completed"].data
    assert order["order_id"] == paid.order_id and order["status"] == "completed"
    assert order["total_cents"] == paid.created["total_cents"] and order["lines"][0]["service_id"] == sid
    assert order["customer"]["sub"].startswith("test|")
    booking = by_type["booking.confirmed"].data
    assert (booking["booking_id"], booking["status"]) == (paid.booking_ids[0], "confirmed")
    # the body a receiver gets has the documented shape
    body = emit.payload(by_type["order.completed"])
    assert EventPayload.model_validate(body).id.startswith("evt_")

    # confirming again (the client retries, the webhook and the reconciler arrive) adds nothing
    resp = await client.post(
        f"{API}/payment/confirm",
        json={"payment_intent_id": paid.created["payment_intent_id"]},
        headers=paid.headers,
    )
    assert resp.status_code == 200
    assert len(await events_of(factory, paid.order_id)) == 2


async def test_a_bundle_reports_its_pass(client, new_user, factory, stripe_api_base):
    user = await new_user()
    created = await create_ok(client, user.headers, bundle_body())
    await pay_and_confirm(client, user.headers, created, stripe_api_base)
    events = await events_of(factory, created["order_id"])
    assert sorted(types(events)) == ["order.completed", "pass.granted"]
    granted = next(e for e in events if e.type == "pass.granted").data
    assert granted["source_order_id"] == created["order_id"] and granted["sessions_left"] > 0


async def test_cancel_reschedule_and_completion_are_reported_once_each(
    client, factory, paid_order, app_state
):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)), quarter_hour(timedelta(days=4)))
    first, second = paid.booking_ids
    for n in (1, 2):  # two moves: two events, each with the booking as it is after that move
        new = quarter_hour(timedelta(days=5, hours=n))
        times = {"start_time": new.isoformat(), "end_time": (new + timedelta(minutes=60)).isoformat()}
        r = await client.post(RESCHEDULE.format(first), json=times, headers=paid.headers)
        assert r.status_code == 200, r.text
    r = await client.post(CANCEL.format(second), json={"reason": "ill"}, headers=paid.headers)
    assert r.status_code == 200, r.text
    again = await client.post(CANCEL.format(second), json={"reason": "ill"}, headers=paid.headers)
    assert again.status_code == 200
    async with db(factory) as s:  # the lifecycle workflow's activity, run twice
        assert await bookings_service.complete(s, first) == "completed"
    async with db(factory) as s:
        await bookings_service.complete(s, first)

    events = await events_of(factory, paid.order_id)
    keys = [e.dedupe_key for e in events if e.type.startswith("booking.") and e.type != "booking.confirmed"]
    assert sorted(keys) == sorted(
        [
            f"booking:{first}:rescheduled:1",
            f"booking:{first}:rescheduled:2",
            f"booking:{second}:canceled",
            f"booking:{first}:completed",
        ]
    )
    moved = [e.data for e in events if e.type == "booking.rescheduled"]
    assert [m["reschedule_count"] for m in moved] == [1, 2]
    canceled = next(e.data for e in events if e.type == "booking.canceled")
    assert (canceled["status"], canceled["canceled_by"], canceled["cancel_reason"]) == (
        "canceled",
        "client",
        "ill",
    )
    refunded = [e for e in events if e.type == "order.refunded"]
    assert len(refunded) == 1 and refunded[0].data["refunded_cents"] > 0


async def test_an_expired_order_is_reported(client, new_user, factory, app_state):
    pid, sid = await around_the_clock(factory)
    user = await new_user()
    created = await create_ok(client, user.headers, slot_body(pid, sid, quarter_hour(timedelta(days=3))))
    async with db(factory) as s:
        status = await orders_service.expire_order(
            s, app_state.gateway, uuid.UUID(created["order_id"]), force=True
        )
    assert status == "expired"
    (event,) = await events_of(factory, created["order_id"])
    assert (event.type, event.data["status"]) == ("order.expired", "expired")


async def test_a_failed_card_refund_is_reported(client, factory, paid_order, stripe_emu, stripe_api_base):
    stripe_emu.set_config(refund_failure_delay_ms=600_000)
    try:
        pid, sid = await around_the_clock(factory)
        paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)), card="pm_card_refundFail")
        assert (
            await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=paid.headers)
        ).is_success
        (card,) = await refunds_of(factory, paid.order_id)
        stripe_emu.fail_refund(card.stripe_refund_id)
        event = await stripe_event(stripe_api_base, "refund.failed", card.stripe_refund_id)
        for _ in range(2):
            assert (await deliver(client, event)).status_code == 200
    finally:
        stripe_emu.set_config(refund_failure_delay_ms=200)
    failed = [e for e in await events_of(factory, paid.order_id) if e.type == "refund.failed"]
    assert len(failed) == 1
    data: dict[str, Any] = failed[0].data
    assert (data["refund_id"], data["amount_cents"], data["status"]) == (card.id, card.amount_cents, "failed")
    assert data["fallback_refund_id"] is not None


async def test_no_event_for_a_change_that_rolled_back(client, factory, paid_order, app_state):
    """The cancel runs (refund, slot freed, event written) inside a transaction that then fails:
    the event goes with everything else."""
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
    before = await events_of(factory, paid.order_id)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db(factory) as s:
            booking = await bookings_service.get_booking(s, paid.booking_ids[0])
            await changes.cancel(s, app_state.gateway, booking, canceled_by="client", reason="rolled back")
            assert any(e.type == "booking.canceled" for e in await _events_in(s, paid.order_id))
            raise Boom
    assert [e.dedupe_key for e in await events_of(factory, paid.order_id)] == [e.dedupe_key for e in before]


async def _events_in(s, order_id: str) -> list[OutboundEvent]:  # type: ignore[no-untyped-def]
    rows = await s.execute(select(OutboundEvent).where(OutboundEvent.order_id == uuid.UUID(order_id)))
    return list(rows.scalars())
