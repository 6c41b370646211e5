"""Delivering events to real receivers (SPEC 12.1): signed per Standard Webhooks, at least once
across a relay killed between commit and delivery, retried after a failure, never slowed by
another receiver, never following redirects, and disabling an endpoint that fails for days."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook
from starlette.responses import Response
from tests.aftersale.helpers import around_the_clock, quarter_hour
from tests.checkout.helpers import API, db
from tests.events.conftest import Receiver, serve

from estuary_checkout.db.base import utcnow
from estuary_checkout.events import emit
from estuary_checkout.events.delivery import retry_delay
from estuary_checkout.events.models import OutboundEvent, WebhookDelivery, WebhookEndpoint
from estuary_checkout.events.schemas import EventPayload


async def one_event(factory, paid_order) -> str:  # type: ignore[no-untyped-def]
    """A paid session (two events: order.completed, booking.confirmed); its order id."""
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
    return str(paid.order_id)


async def deliveries(factory, endpoint_id: str) -> list[WebhookDelivery]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        rows = await s.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        )
        return list(rows.scalars())


async def test_events_arrive_signed_and_verifiable(receiver, register, relay, factory, paid_order):
    endpoint = await register(receiver)
    order_id = await one_event(factory, paid_order)
    await relay().drain()
    assert sorted(receiver.types()) == ["booking.confirmed", "order.completed"]
    for got in receiver.got:
        assert got.verify_error is None
        body = EventPayload.model_validate(got.verified)
        assert got.headers["webhook-id"] == body.id
        assert got.headers["webhook-signature"].startswith("v1,")
        assert got.headers["content-type"] == "application/json"
    completed = next(
        r.verified for r in receiver.got if r.verified and r.verified["type"] == "order.completed"
    )
    assert completed["data"]["order_id"] == order_id
    # a receiver with another secret cannot verify it
    other = Webhook("whsec_" + "B" * 43 + "=")
    got = receiver.got[0]
    with contextlib.suppress(Exception):
        other.verify(got.body, got.headers)
        raise AssertionError("verified with the wrong secret")
    rows = await deliveries(factory, endpoint["id"])
    assert [(d.status, d.attempt, d.status_code) for d in rows] == [("delivered", 1, 200)] * 2


async def test_an_endpoint_gets_only_the_types_it_asked_for(receiver, register, relay, factory, paid_order):
    await register(receiver, event_types=["booking.confirmed"])
    await one_event(factory, paid_order)
    await relay().drain()
    assert receiver.types() == ["booking.confirmed"]


async def test_a_receiver_answering_500_gets_the_event_once_it_recovers(
    receiver, register, relay, factory, paid_order
):
    endpoint = await register(receiver, event_types=["order.completed"])
    receiver.answers = [lambda: Response("down for maintenance", status_code=500), 200]
    await one_event(factory, paid_order)
    await relay().drain()
    assert len(receiver.got) == 2 and len(set(receiver.ids())) == 1  # the same event, twice
    (row,) = await deliveries(factory, endpoint["id"])
    assert (row.status, row.attempt, row.status_code, row.error) == ("delivered", 2, 200, None)
    async with db(factory) as s:
        assert (await s.get(WebhookEndpoint, endpoint["id"])).failing_since is None  # type: ignore[union-attr]


async def test_committed_events_wait_for_a_relay_that_was_down(
    receiver, register, relay, factory, paid_order
):
    """The worker is down when the change commits: the event waits in the outbox and goes out
    when a relay runs again."""
    await register(receiver, event_types=["order.completed"])
    await one_event(factory, paid_order)
    assert receiver.got == []
    await relay().drain()
    assert receiver.types() == ["order.completed"]


async def test_a_relay_killed_mid_delivery_leaves_it_to_the_next_one(
    receiver, register, relay, factory, paid_order
):
    """Killed after the request was sent and before the answer was recorded: the lease runs out
    and the next relay sends the same event again (at least once; the receiver dedupes on the id)."""
    endpoint = await register(receiver, event_types=["order.completed"])
    await one_event(factory, paid_order)
    receiver.gate = asyncio.Event()  # the receiver holds the first request
    first = relay(lease_seconds=0.5)
    stop = asyncio.Event()
    running = asyncio.create_task(first.run(stop, interval=0.05))
    await receiver.wait_for(1)
    running.cancel()  # the worker dies here
    with contextlib.suppress(asyncio.CancelledError):
        await running
    (row,) = await deliveries(factory, endpoint["id"])
    assert (row.status, row.attempt) == ("pending", 0)
    held, receiver.gate = receiver.gate, None
    held.set()  # the first request completes, but nobody is left to record its answer
    await asyncio.sleep(0.6)  # the dead worker's lease runs out
    await relay().drain()
    assert len(receiver.got) == 2 and len(set(receiver.ids())) == 1
    (row,) = await deliveries(factory, endpoint["id"])
    assert (row.status, row.attempt) == ("delivered", 1)


async def test_a_slow_receiver_does_not_hold_up_the_others(register, relay, factory, paid_order):
    slow, fast = Receiver(gate=asyncio.Event()), Receiver()
    async with serve(slow) as slow_url, serve(fast) as fast_url:
        slow.url, fast.url = slow_url, fast_url
        await register(slow)
        await register(fast)
        for _ in range(4):  # 8 events
            await one_event(factory, paid_order)
        r = relay(settings={"webhook_max_in_flight_per_endpoint": 2, "webhook_timeout_seconds": 30})
        stop = asyncio.Event()
        running = asyncio.create_task(r.run(stop, interval=0.05))
        try:
            await fast.wait_for(8)  # all delivered while the slow receiver holds its requests
            assert slow.in_flight == 2 and slow.max_in_flight == 2  # never more than its share
            slow.gate.set()  # type: ignore[union-attr]
            await slow.wait_for(8)
        finally:
            stop.set()
            await running
    assert sorted(fast.ids()) == sorted(slow.ids())


async def test_a_receiver_that_never_answers_times_out_and_is_retried(
    receiver, register, relay, factory, paid_order
):
    endpoint = await register(receiver, event_types=["order.completed"])
    receiver.gate = asyncio.Event()  # never set: every request hangs
    await one_event(factory, paid_order)
    r = relay(settings={"webhook_timeout_seconds": 0.3}, retry_seconds=[3600])
    await r.drain()
    (row,) = await deliveries(factory, endpoint["id"])
    assert row.status == "pending" and row.attempt == 1 and row.status_code is None
    assert row.error == "timed out after 0.3 s"
    assert row.next_retry_at is not None and row.next_retry_at > utcnow() + timedelta(minutes=59)


async def test_redirects_are_not_followed(receiver, register, relay, factory, paid_order):
    target = Receiver()
    async with serve(target) as target_url:
        endpoint = await register(receiver, event_types=["order.completed"])
        receiver.answers = [lambda: Response(status_code=307, headers={"location": target_url})]
        await one_event(factory, paid_order)
        await relay(retry_seconds=[]).drain()
    assert target.got == []
    (row,) = await deliveries(factory, endpoint["id"])
    assert (row.status, row.status_code) == ("failed", 307)
    assert row.error == f"redirect to {target_url} not followed"


async def test_a_huge_error_body_is_cut(receiver, register, relay, factory, paid_order):
    endpoint = await register(receiver, event_types=["order.completed"])
    receiver.answers = [lambda: Response("x" * 5_000_000, status_code=500)]
    await one_event(factory, paid_order)
    await relay(retry_seconds=[]).drain()
    (row,) = await deliveries(factory, endpoint["id"])
    assert row.status == "failed" and row.error is not None and len(row.error) <= 320


async def test_an_endpoint_failing_for_three_days_is_disabled(receiver, register, relay, factory, paid_order):
    endpoint = await register(receiver, event_types=["order.completed"])
    receiver.answers = [500, 500]
    async with db(factory) as s:
        await s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint["id"])
            .values(failing_since=utcnow() - timedelta(days=3, minutes=1))
        )
    await one_event(factory, paid_order)
    await relay(retry_seconds=[0]).drain()
    assert len(receiver.got) == 1  # disabled after the first failure: the retry is not sent
    async with db(factory) as s:
        row = await s.get(WebhookEndpoint, endpoint["id"])
    assert row is not None and not row.enabled
    assert row.disabled_reason and "no successful delivery since" in row.disabled_reason


def test_the_retry_schedule_spans_more_than_a_day(settings):
    schedule = settings.webhook_retry_seconds
    assert retry_delay(1, schedule) <= timedelta(seconds=60)  # the first retry within a minute
    assert all(b >= a for a, b in itertools.pairwise(schedule))  # backing off
    assert timedelta(seconds=sum(schedule)) >= timedelta(hours=24)
    assert retry_delay(len(schedule) + 1, schedule) is None  # then it is failed


async def test_after_a_rotation_both_secrets_verify_for_the_overlap(
    client, admin_headers, receiver, register, relay, factory, paid_order
):
    endpoint = await register(receiver, event_types=["order.completed"])
    old_secret = endpoint["secret"]
    r = await client.patch(
        f"{API}/admin/webhook-endpoints/{endpoint['id']}", json={"rotate_secret": True}, headers=admin_headers
    )
    new_secret = r.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    await one_event(factory, paid_order)
    await relay().drain()
    (got,) = receiver.got
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):  # a receiver on either secret accepts it
        Webhook(secret).verify(got.body, got.headers)
    # once the overlap is over only the new secret signs
    async with db(factory) as s:
        await s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint["id"])
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
    await one_event(factory, paid_order)
    await relay().drain()
    latest = receiver.got[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(latest.body, latest.headers)


async def test_secrets_never_reach_the_logs(
    client, admin_headers, receiver, register, relay, factory, paid_order
):
    with structlog.testing.capture_logs() as logs:
        endpoint = await register(receiver, event_types=["order.completed"])
        receiver.answers = [500]
        await one_event(factory, paid_order)
        await relay(retry_seconds=[0]).drain()
    text = json.dumps(logs, default=str)
    assert "events.delivery" in text
    assert endpoint["secret"] not in text and endpoint["secret"].removeprefix("whsec_") not in text
    for got in receiver.got:
        assert got.headers["webhook-signature"].split(",", 1)[1] not in text


async def test_events_are_kept_when_no_endpoint_listens(factory, relay, paid_order, clean_events):
    order_id = await one_event(factory, paid_order)
    await relay().drain()
    async with db(factory) as s:
        rows = list(
            (
                await s.execute(select(OutboundEvent).where(OutboundEvent.order_id == uuid.UUID(order_id)))
            ).scalars()
        )
    assert rows and all(e.fanned_out_at is not None for e in rows)
    assert emit.payload(rows[0])["id"] == rows[0].id


async def test_two_workers_never_claim_the_same_delivery(receiver, register, relay, factory, paid_order):
    """Two relays (two worker replicas) claiming at the same moment: each due delivery is leased
    to exactly one of them."""
    await register(receiver)
    for _ in range(3):
        await one_event(factory, paid_order)  # 6 events
    a, b = relay(), relay()
    await a.fan_out()
    got_a, got_b = await asyncio.gather(a.claim(50), b.claim(50))
    ids_a, ids_b = {c.delivery_id for c in got_a}, {c.delivery_id for c in got_b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 6
