"""Buffers are enforced by the database guard that stops overlaps, so concurrent creates cannot
squeeze two sessions into each other's buffer (on PostgreSQL the requests really run at once;
each API replica has its own connection pool)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.checkout.helpers import API, db, future_slot, make_practitioner, session_body

from estuary_checkout.bookings.models import BLOCKING_STATUSES, Booking


async def test_concurrent_creates_cannot_share_a_buffer(replicas, factory, new_user, report):
    """Twenty clients at once, half asking 10:00–11:00 and half 11:15–12:15, with a 30-minute
    buffer: the two slots do not overlap, but the second starts inside the first one's buffer
    (and the first ends inside the second's), so exactly one request wins."""
    async with db(factory) as s:
        pid, sid = await make_practitioner(s, buffer=30, step=15)
    start, _ = future_slot()
    first = datetime.fromisoformat(start)
    second = first + timedelta(minutes=75)
    users = [await new_user() for _ in range(20)]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        at = first if i % 2 == 0 else second
        body = session_body(
            at.isoformat(), (at + timedelta(hours=1)).isoformat(), service_id=sid, practitioner_id=pid
        )
        await gate.wait()
        return await replicas[i % 2].post(f"{API}/checkout/create", json=body, headers=users[i].headers)

    tasks = [asyncio.create_task(one(i)) for i in range(20)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: 19}, codes
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"SLOT_UNAVAILABLE"}
    async with db(factory) as s:
        held = list(
            (
                await s.execute(
                    select(Booking).where(
                        Booking.practitioner_id == pid, Booking.status.in_(BLOCKING_STATUSES)
                    )
                )
            ).scalars()
        )
    assert len(held) == 1 and held[0].blocked_until == held[0].end_at + timedelta(minutes=30)
    # a start right after the winner's buffer is still free
    after = held[0].blocked_until
    ok = await replicas[0].post(
        f"{API}/checkout/create",
        json=session_body(
            after.isoformat(), (after + timedelta(hours=1)).isoformat(), service_id=sid, practitioner_id=pid
        ),
        headers=users[0].headers if held[0].user_id != users[0].id else users[1].headers,
    )
    assert ok.status_code == 201, ok.text
    report(concurrent_creates=20, winners=codes[201], refused=codes[409], buffer_minutes=30)


async def test_database_refuses_a_booking_inside_a_buffer(factory, new_user):
    """No service code: raw rows. [start, blocked_until) may not overlap another's."""
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s, buffer=15)
    start = datetime.fromisoformat(future_slot()[0])

    def row(at: datetime, buffer: int) -> Booking:
        end = at + timedelta(hours=1)
        return Booking(
            user_id=user.id,
            practitioner_id=pid,
            service_id=sid,
            start_at=at,
            end_at=end,
            blocked_until=end + timedelta(minutes=buffer),
            status="confirmed",
        )

    async with db(factory) as s:
        s.add(row(start, 15))
    for at, buffer in ((start + timedelta(minutes=65), 0), (start - timedelta(minutes=70), 15)):
        try:
            async with db(factory) as s:
                s.add(row(at, buffer))
            raise AssertionError(f"a booking at {at} inside a buffer was stored")
        except (IntegrityError, DBAPIError):
            pass
    async with db(factory) as s:  # exactly at the end of the buffer, and ending with its own buffer at start
        s.add_all([row(start + timedelta(minutes=75), 15), row(start - timedelta(minutes=75), 15)])
