"""A client moves a paid booking (SPEC 11.2): the same guards as create, old slot freed and new
one held in one step, the policy's cutoff and limit, no payment change."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from tests.aftersale.helpers import RESCHEDULE, around_the_clock, order_row, quarter_hour, refunds_of
from tests.checkout.helpers import API, assert_error, create_ok, db

from estuary_checkout.bookings.models import Booking, BookingEvent
from estuary_checkout.catalog.models import TimeOff
from estuary_checkout.workflows.models import OutboxMessage


def _times(start: datetime, minutes: int = 60) -> dict[str, str]:
    return {"start_time": start.isoformat(), "end_time": (start + timedelta(minutes=minutes)).isoformat()}


async def _listed(client, headers, sid: int, at: datetime) -> bool:  # type: ignore[no-untyped-def]
    r = await client.get(
        f"{API}/catalog/availability",
        params={"service_id": sid, "from": at.isoformat(), "to": (at + timedelta(minutes=1)).isoformat()},
        headers=headers,
    )
    return bool(r.json()["slots"])


async def test_reschedule_moves_the_hold_and_keeps_the_payment(client, factory, paid_order):
    pid, sid = await around_the_clock(factory)
    old = quarter_hour(timedelta(days=3))
    new = old + timedelta(days=1, hours=2)
    paid = await paid_order(pid, sid, old)
    before = await order_row(factory, paid.order_id)
    assert not await _listed(client, paid.headers, sid, old)

    r = await client.post(RESCHEDULE.format(paid.booking_ids[0]), json=_times(new), headers=paid.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert datetime.fromisoformat(body["start_time"]) == new and body["reschedule_count"] == 1
    assert body["status"] == "confirmed" and body["order_id"] == paid.order_id
    assert await _listed(client, paid.headers, sid, old) and not await _listed(client, paid.headers, sid, new)
    after = await order_row(factory, paid.order_id)
    assert (after.total_cents, after.status, after.refunded_cents) == (before.total_cents, "completed", 0)
    assert await refunds_of(factory, paid.order_id) == []
    async with db(factory) as s:
        events = list(
            (
                await s.execute(select(BookingEvent).where(BookingEvent.booking_id == paid.booking_ids[0]))
            ).scalars()
        )
        signal = (
            await s.execute(
                select(OutboxMessage).where(
                    OutboxMessage.workflow_id == f"booking-lifecycle-{paid.booking_ids[0]}",
                    OutboxMessage.kind == "signal_workflow",
                )
            )
        ).scalar_one()
    assert [(e.kind, e.from_start_at, e.to_start_at) for e in events] == [("rescheduled", old, new)]
    assert signal.signal_name == "reschedule" and signal.payload == {
        "args": [new.isoformat(), (new + timedelta(hours=1)).isoformat()]
    }

    # the same move again is a no-op (a retried request)
    again = await client.post(RESCHEDULE.format(paid.booking_ids[0]), json=_times(new), headers=paid.headers)
    assert again.status_code == 200 and again.json()["reschedule_count"] == 1


async def test_moving_into_its_own_old_time_is_allowed(client, factory, paid_order):
    """The booking being moved does not block its new time (a 15-minute shift overlaps the old)."""
    pid, sid = await around_the_clock(factory, buffer=15)
    old = quarter_hour(timedelta(days=3))
    paid = await paid_order(pid, sid, old)
    r = await client.post(
        RESCHEDULE.format(paid.booking_ids[0]), json=_times(old + timedelta(minutes=15)), headers=paid.headers
    )
    assert r.status_code == 200, r.text


async def test_the_guards_of_create_apply(client, factory, paid_order):
    pid, sid = await around_the_clock(factory, buffer=30)
    start = quarter_hour(timedelta(days=4))
    mine = await paid_order(pid, sid, start)
    other = await paid_order(pid, sid, start + timedelta(hours=3))
    url = RESCHEDULE.format(mine.booking_ids[0])
    # into the other booking, or into its buffer (ends 16:00 + 30 min buffer)
    for at in (
        start + timedelta(hours=3),
        start + timedelta(hours=4, minutes=15),
        start + timedelta(hours=2, minutes=15),
    ):
        assert_error(await client.post(url, json=_times(at), headers=mine.headers), 409, "SLOT_UNAVAILABLE")
    # off the grid, wrong length, too soon
    r = await client.post(url, json=_times(start + timedelta(days=1, minutes=7)), headers=mine.headers)
    assert_error(r, 422, "OUTSIDE_AVAILABILITY")
    assert_error(
        await client.post(url, json=_times(start + timedelta(days=1), 45), headers=mine.headers),
        422,
        "INVALID_DURATION",
    )
    assert_error(
        await client.post(url, json=_times(quarter_hour(timedelta(minutes=20))), headers=mine.headers),
        422,
        "START_IN_PAST",
    )
    # time off
    away = start + timedelta(days=2)
    async with db(factory) as s:
        s.add(TimeOff(practitioner_id=pid, start_at=away, end_at=away + timedelta(hours=4)))
    assert_error(
        await client.post(url, json=_times(away + timedelta(hours=1)), headers=mine.headers),
        422,
        "OUTSIDE_AVAILABILITY",
    )
    # nothing moved
    async with db(factory) as s:
        booking = await s.get(Booking, mine.booking_ids[0])
    assert (booking.start_at, booking.reschedule_count) == (start, 0)
    assert_error(
        await client.post(url, json=_times(start + timedelta(days=1)), headers=other.headers),
        404,
        "BOOKING_NOT_FOUND",
    )


async def test_cutoff_and_limit(client, factory, paid_order):
    pid, sid = await around_the_clock(factory)
    start = quarter_hour(timedelta(days=5))
    paid = await paid_order(pid, sid, start)
    url = RESCHEDULE.format(paid.booking_ids[0])
    for n in (1, 2):  # max_reschedules defaults to 2
        r = await client.post(url, json=_times(start + timedelta(hours=n)), headers=paid.headers)
        assert r.status_code == 200 and r.json()["reschedule_count"] == n, r.text
    r = await client.post(url, json=_times(start + timedelta(hours=5)), headers=paid.headers)
    assert_error(r, 409, "RESCHEDULE_LIMIT_REACHED")

    near = await paid_order(pid, sid, quarter_hour(timedelta(hours=10)))  # inside the 24 h cutoff
    r = await client.post(
        RESCHEDULE.format(near.booking_ids[0]), json=_times(start + timedelta(days=1)), headers=near.headers
    )
    assert_error(r, 409, "RESCHEDULE_WINDOW_CLOSED")


async def test_canceled_or_unpaid_bookings_do_not_move(client, factory, paid_order, new_user):
    pid, sid = await around_the_clock(factory)
    start = quarter_hour(timedelta(days=6))
    paid = await paid_order(pid, sid, start)
    await client.post(API + f"/bookings/{paid.booking_ids[0]}/cancel", json={}, headers=paid.headers)
    r = await client.post(
        RESCHEDULE.format(paid.booking_ids[0]), json=_times(start + timedelta(hours=2)), headers=paid.headers
    )
    assert_error(r, 409, "BOOKING_NOT_RESCHEDULABLE")
    user = await new_user()
    created = await create_ok(
        client,
        user.headers,
        {
            "checkout_type": "single_session",
            "items": [{"service_id": sid, "practitioner_id": pid, **_times(start + timedelta(hours=4))}],
        },
    )
    async with db(factory) as s:
        pending = (
            await s.execute(select(Booking.id).where(Booking.order_id == uuid.UUID(created["order_id"])))
        ).scalar_one()
    r = await client.post(
        RESCHEDULE.format(pending), json=_times(start + timedelta(hours=6)), headers=user.headers
    )
    assert_error(r, 409, "BOOKING_NOT_RESCHEDULABLE")
    for body, field in (({"start_time": "2030-01-01T10:00:00"}, "start_time"), ({}, "start_time")):
        r = await client.post(RESCHEDULE.format(pending), json=body, headers=user.headers)
        assert_error(r, 422, "VALIDATION_ERROR")
        assert r.json()["details"]["field"] == field


async def test_policy_is_the_bookings_own(client, factory, paid_order, policy_client):
    """Booked under max_reschedules=0 (then the default changes back to 2): no move allowed."""
    pid, sid = await around_the_clock(factory)
    strict = await policy_client(max_reschedules=0)
    start = quarter_hour(timedelta(days=3))
    paid = await paid_order(pid, sid, start, api=strict)
    r = await client.post(
        RESCHEDULE.format(paid.booking_ids[0]), json=_times(start + timedelta(hours=1)), headers=paid.headers
    )
    assert_error(r, 409, "RESCHEDULE_LIMIT_REACHED")
    async with db(factory) as s:
        await s.execute(
            update(Booking).where(Booking.id == paid.booking_ids[0]).values(policy_max_reschedules=1)
        )
    r = await client.post(
        RESCHEDULE.format(paid.booking_ids[0]), json=_times(start + timedelta(hours=1)), headers=paid.headers
    )
    assert r.status_code == 200, r.text
