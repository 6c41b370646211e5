"""No slot is ever held twice: N creates for one slot released together → exactly one 201."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.checkout.helpers import (
    API,
    assert_error,
    blocking_bookings,
    db,
    future_slot,
    make_practitioner,
    session_body,
)


async def _race(clients, users, body):  # type: ignore[no-untyped-def]
    """Release one create per user at once, spread round-robin over the given API instances."""
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % len(clients)].post(
            f"{API}/checkout/create", json=body, headers=users[i].headers
        )

    tasks = [asyncio.create_task(one(i)) for i in range(len(users))]
    await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(*tasks)


async def _assert_one_winner(responses, factory, pid, start, n):  # type: ignore[no-untyped-def]
    counts = Counter(r.status_code for r in responses)
    assert counts == Counter({201: 1, 409: n - 1}), [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "SLOT_UNAVAILABLE")
    (booking,) = await blocking_bookings(factory, pid, start)
    winner = next(r for r in responses if r.status_code == 201).json()
    assert str(booking.order_id) == winner["order_id"]
    return counts


async def test_twenty_concurrent_creates_for_one_slot(client, factory, new_user):
    users = [await new_user() for _ in range(20)]
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid)
    responses = await _race([client], users, body)
    counts = await _assert_one_winner(responses, factory, pid, start, 20)
    print(f"one app: {dict(counts)}")


async def test_one_slot_over_two_engines(replicas, factory, new_user):
    """The same race across two API instances with separate connection pools (two replicas)."""
    users = [await new_user() for _ in range(20)]
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid)
    responses = await _race(replicas, users, body)
    counts = await _assert_one_winner(responses, factory, pid, start, 20)
    print(f"two engines: {dict(counts)}")


async def test_overlapping_not_identical_slots_race(replicas, factory, new_user):
    """Ten different but overlapping starts (10:00, 10:05, …, 10:45, all on a 5-minute grid) for
    one practitioner at once: whatever wins, no two held bookings overlap."""
    from datetime import datetime, timedelta

    users = [await new_user() for _ in range(10)]
    async with db(factory) as s:
        pid, sid = await make_practitioner(s, step=5)
    start, _ = future_slot()
    base = datetime.fromisoformat(start)
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        s0 = base + timedelta(minutes=5 * i)
        body = session_body(
            s0.isoformat(), (s0 + timedelta(hours=1)).isoformat(), service_id=sid, practitioner_id=pid
        )
        await gate.wait()
        return await replicas[i % 2].post(f"{API}/checkout/create", json=body, headers=users[i].headers)

    tasks = [asyncio.create_task(one(i)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 9})

    from sqlalchemy import select

    from estuary_checkout.bookings.models import Booking

    async with db(factory) as s:
        held = list(
            (
                await s.execute(
                    select(Booking).where(
                        Booking.practitioner_id == pid, Booking.status.in_(("pending_payment", "confirmed"))
                    )
                )
            ).scalars()
        )
    assert len(held) == 1


async def test_slot_is_free_again_after_expiry(client, app_state, factory, new_user):
    from estuary_checkout.orders import service as orders_service

    first, second = await new_user(), await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid)
    created = (await client.post(f"{API}/checkout/create", json=body, headers=first.headers)).json()
    assert_error(
        await client.post(f"{API}/checkout/create", json=body, headers=second.headers),
        409,
        "SLOT_UNAVAILABLE",
    )
    import uuid

    async with db(factory) as s:
        assert (
            await orders_service.expire_order(
                s, app_state.gateway, uuid.UUID(created["order_id"]), force=True
            )
            == "expired"
        )
    intent = await app_state.gateway.retrieve_intent(created["payment_intent_id"])
    assert intent.status == "canceled"  # the PaymentIntent is canceled at Stripe
    st = (
        await client.post(
            f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=first.headers
        )
    ).json()
    assert st["status"] == "expired" and st["booking_ids"] == [] and st["expires_at"] is None
    r = await client.post(f"{API}/checkout/create", json=body, headers=second.headers)
    assert r.status_code == 201, r.text
