"""The notification relay: notices services wrote with `enqueue` are sent once each, at least once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
from estuary_checkout.state import AppState
from estuary_checkout.workflows import notifications
from estuary_checkout.workflows.activities import BookingActivities
from estuary_checkout.workflows.models import Notification
from estuary_checkout.workflows.notifications import NotificationRelay

from .conftest import BookingRefs, RecordingSender, create_booking


async def _user(app_state: AppState) -> BookingRefs:
    return await create_booking(
        app_state, start_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    )


async def _enqueue(
    app_state: AppState, refs: BookingRefs, n: int, kind: str = "refund_succeeded"
) -> list[str]:
    """n notices as the refunds service writes them; returns their dedupe keys."""
    tag = uuid.uuid4().hex[:8]
    keys = [f"test:{tag}:{i}" for i in range(n)]
    async for session in session_scope(app_state.session_factory):
        for i, key in enumerate(keys):
            assert await notifications.enqueue(
                session,
                dedupe_key=key,
                user_id=refs.user_id,
                kind=kind,
                payload={"refund_id": i, "amount_cents": 100 + i},
            )
        # the same notice written again (a retried transaction) is still one notice
        assert not await notifications.enqueue(
            session, dedupe_key=keys[0], user_id=refs.user_id, kind=kind, payload={}
        )
    return keys


async def _rows(app_state: AppState, keys: list[str]) -> dict[str, Notification]:
    async with app_state.session_factory() as session:
        rows = await session.execute(select(Notification).where(Notification.dedupe_key.in_(keys)))
        return {row.dedupe_key: row for row in rows.scalars()}


class FlakySender(RecordingSender):
    """Fails the first `failures` sends of each key in `failing`, then records like RecordingSender."""

    def __init__(self, failing: set[str], failures: int = 1) -> None:
        super().__init__()
        self.failing = failing
        self.failures = failures
        self.attempts: dict[str, int] = {}

    async def send(self, notification: Notification) -> None:
        key = notification.dedupe_key
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if key in self.failing and self.attempts[key] <= self.failures:
            raise ConnectionError("mail server down")
        await super().send(notification)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_unsent_notices_are_sent_once_and_marked(app_state: AppState) -> None:
    refs = await _user(app_state)
    keys = await _enqueue(app_state, refs, 3) + await _enqueue(app_state, refs, 1, kind="refund_failed")
    rows = await _rows(app_state, keys)
    assert all(row.sent_at is None for row in rows.values())

    sender = RecordingSender()
    relay = NotificationRelay(app_state.session_factory, sender)
    await relay.send_once()
    await relay.send_once()

    assert sorted(k for k in sender.sent if k in keys) == sorted(keys)
    assert all(sender.count(k) == 1 for k in keys)
    rows = await _rows(app_state, keys)
    assert all(row.sent_at is not None for row in rows.values())
    assert rows[keys[-1]].kind == "refund_failed"


async def test_notices_already_sent_by_the_lifecycle_are_left_alone(app_state: AppState) -> None:
    """The lifecycle's notices are sent and marked in the activity's own transaction; a booking
    notice a service also enqueued under the same key goes out once, whoever comes first."""
    refs = await _user(app_state)
    activity_sender = RecordingSender()
    activities = BookingActivities(app_state.session_factory, app_state.gateway, activity_sender)
    run = ActivityEnvironment().run
    assert await run(activities.send_notification, refs.booking_id, "confirmation", 0) == "sent"
    canceled_key = f"booking:{refs.booking_id}:canceled"
    async for session in session_scope(app_state.session_factory):
        await notifications.enqueue(
            session,
            dedupe_key=canceled_key,
            user_id=refs.user_id,
            booking_id=refs.booking_id,
            kind="canceled",
            payload={},
        )

    relay_sender = RecordingSender()
    await NotificationRelay(app_state.session_factory, relay_sender).send_once()
    assert relay_sender.count(f"booking:{refs.booking_id}:confirmation") == 0
    assert relay_sender.count(canceled_key) == 1
    # The lifecycle's own attempt at it now finds it sent.
    assert await run(activities.send_notification, refs.booking_id, "canceled", 0) == "duplicate"
    assert activity_sender.count(canceled_key) == 0


async def test_failed_send_is_retried_after_a_backoff_without_holding_up_the_rest(
    app_state: AppState,
) -> None:
    refs = await _user(app_state)
    keys = await _enqueue(app_state, refs, 4)
    poison = set(keys[:2])  # the oldest two fail twice each
    sender = FlakySender(poison, failures=2)
    clock = FakeClock()
    relay = NotificationRelay(app_state.session_factory, sender, clock=clock)

    await relay.send_once()
    rows = await _rows(app_state, keys)
    assert [rows[k].sent_at is not None for k in keys] == [False, False, True, True]
    assert sorted(relay.backing_off().values()) == [1, 1]

    # Backing off: the next pass does not try them again.
    await relay.send_once()
    assert [sender.attempts[k] for k in keys[:2]] == [1, 1]

    clock.now += 3  # first backoff 2 s
    await relay.send_once()
    assert [sender.attempts[k] for k in keys[:2]] == [2, 2]
    assert sorted(relay.backing_off().values()) == [2, 2]
    clock.now += 3  # second backoff 4 s: not yet
    await relay.send_once()
    assert [sender.attempts[k] for k in keys[:2]] == [2, 2]
    clock.now += 2
    await relay.send_once()

    rows = await _rows(app_state, keys)
    assert all(rows[k].sent_at is not None for k in keys)
    assert all(sender.count(k) == 1 for k in keys)
    assert relay.backing_off() == {}


async def test_a_batch_of_failures_does_not_block_the_queue(app_state: AppState) -> None:
    refs = await _user(app_state)
    keys = await _enqueue(app_state, refs, 5)
    sender = FlakySender(set(keys[:2]), failures=100)
    relay = NotificationRelay(app_state.session_factory, sender, batch=2, clock=FakeClock())
    for _ in range(6):
        await relay.send_once()
    rows = await _rows(app_state, keys)
    assert [rows[k].sent_at is not None for k in keys] == [False, False, True, True, True]


async def test_a_hanging_send_times_out_and_is_retried(app_state: AppState) -> None:
    refs = await _user(app_state)
    (key,) = await _enqueue(app_state, refs, 1)

    class Hangs(RecordingSender):
        hung = False

        async def send(self, notification: Notification) -> None:
            if notification.dedupe_key == key and not self.hung:
                self.hung = True
                await asyncio.sleep(60)
            await super().send(notification)

    sender = Hangs()
    clock = FakeClock()
    relay = NotificationRelay(
        app_state.session_factory, sender, send_timeout=timedelta(seconds=0.2), clock=clock
    )
    await relay.send_once()
    assert (await _rows(app_state, [key]))[key].sent_at is None
    clock.now += 3
    await relay.send_once()
    assert (await _rows(app_state, [key]))[key].sent_at is not None
    assert (sender.hung, sender.count(key)) == (True, 1)


async def test_concurrent_relays_send_each_notice_once(app_state: AppState, database_url: str) -> None:
    refs = await _user(app_state)
    keys = await _enqueue(app_state, refs, 24)

    class Slow(RecordingSender):
        async def send(self, notification: Notification) -> None:
            await asyncio.sleep(0.01)  # widen the window in which another relay could take the row
            await super().send(notification)

    sender = Slow()
    # Separate engines: separate connections, as separate worker processes would have.
    engines = [make_engine(database_url) for _ in range(3)]
    try:
        relays = [NotificationRelay(make_session_factory(e), sender, batch=10) for e in engines]
        for _ in range(3):
            await asyncio.gather(*(relay.send_once() for relay in relays))
    finally:
        for e in engines:
            await e.dispose()

    assert sorted(k for k in sender.sent if k in keys) == sorted(keys)
    rows = await _rows(app_state, keys)
    assert all(row.sent_at is not None for row in rows.values())
