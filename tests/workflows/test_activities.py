"""Activities run twice (as Temporal retries do) have their effect once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from estuary_checkout.state import AppState
from estuary_checkout.workflows.activities import BookingActivities

from .conftest import (
    RecordingSender,
    cancel_in_db,
    create_booking,
    create_practitioner,
    load_booking,
    notification_keys,
    reschedule_in_db,
)


def _future(days: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


@pytest.fixture
def run():  # type: ignore[no-untyped-def]
    return ActivityEnvironment().run


async def test_send_notification_writes_and_sends_once(
    app_state: AppState, activities: BookingActivities, sender: RecordingSender, run
) -> None:
    refs = await create_booking(app_state, start_at=_future(30))
    key = f"booking:{refs.booking_id}:confirmation"

    assert await run(activities.send_notification, refs.booking_id, "confirmation", 0) == "sent"
    assert await run(activities.send_notification, refs.booking_id, "confirmation", 0) == "duplicate"

    rows = await notification_keys(app_state, refs.booking_id)
    assert list(rows) == [key]
    assert rows[key].sent_at is not None
    assert rows[key].kind == "confirmation"
    assert rows[key].payload["start_at"] == refs.start_at.isoformat()
    assert sender.count(key) == 1


async def test_failed_send_leaves_nothing_and_the_retry_sends(app_state: AppState, run) -> None:
    class FlakySender:
        def __init__(self) -> None:
            self.calls = 0

        async def send(self, notification) -> None:  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("mail server down")

    flaky = FlakySender()
    acts = BookingActivities(app_state.session_factory, app_state.gateway, flaky)
    refs = await create_booking(app_state, start_at=_future(31))
    with pytest.raises(ConnectionError):
        await run(acts.send_notification, refs.booking_id, "reminder", 0)
    assert await notification_keys(app_state, refs.booking_id) == {}
    assert await run(acts.send_notification, refs.booking_id, "reminder", 0) == "sent"
    assert await run(acts.send_notification, refs.booking_id, "reminder", 0) == "duplicate"
    assert flaky.calls == 2


async def test_no_reminder_for_a_canceled_booking(
    app_state: AppState, activities: BookingActivities, run
) -> None:
    refs = await create_booking(app_state, start_at=_future(32), status="canceled")
    assert await run(activities.send_notification, refs.booking_id, "reminder", 0) == "skipped"
    assert await run(activities.send_notification, refs.booking_id, "canceled", 0) == "sent"
    assert set(await notification_keys(app_state, refs.booking_id)) == {f"booking:{refs.booking_id}:canceled"}


async def test_unknown_booking_or_kind_is_not_retried(activities: BookingActivities, run) -> None:
    with pytest.raises(ApplicationError) as missing:
        await run(activities.mark_booking_completed, 2**31 - 7)
    assert missing.value.non_retryable
    assert missing.value.type == "BookingNotFound"
    with pytest.raises(ApplicationError) as kind:
        await run(activities.send_notification, 1, "spam", 0)
    assert kind.value.non_retryable


async def test_mark_completed_twice(app_state: AppState, activities: BookingActivities, run) -> None:
    refs = await create_booking(app_state, start_at=_future(33))
    assert await run(activities.mark_booking_completed, refs.booking_id) == "completed"
    first = await load_booking(app_state, refs.booking_id)
    assert await run(activities.mark_booking_completed, refs.booking_id) == "completed"
    second = await load_booking(app_state, refs.booking_id)
    assert second.status == "completed"
    assert second.completed_at == first.completed_at
    # A completed booking cannot be canceled afterwards.
    assert await run(activities.cancel_booking, refs.booking_id, "late") == "completed"
    assert (await load_booking(app_state, refs.booking_id)).status == "completed"


async def test_mark_completed_leaves_canceled_booking_canceled(
    app_state: AppState, activities: BookingActivities, run
) -> None:
    refs = await create_booking(app_state, start_at=_future(34), status="canceled")
    assert await run(activities.mark_booking_completed, refs.booking_id) == "canceled"
    assert (await load_booking(app_state, refs.booking_id)).status == "canceled"


async def test_cancel_twice(app_state: AppState, activities: BookingActivities, run) -> None:
    refs = await create_booking(app_state, start_at=_future(35))
    assert await run(activities.cancel_booking, refs.booking_id, "first") == "canceled"
    canceled_at = (await load_booking(app_state, refs.booking_id)).canceled_at
    assert await run(activities.cancel_booking, refs.booking_id, "second") == "canceled"
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.status, booking.canceled_by, booking.cancel_reason) == ("canceled", "system", "first")
    assert booking.canceled_at == canceled_at


async def test_reschedule_twice_counts_once(app_state: AppState, activities: BookingActivities, run) -> None:
    refs = await create_booking(app_state, start_at=_future(36))
    new_start, new_end = _future(37), _future(37) + timedelta(hours=1)
    args = (refs.booking_id, new_start.isoformat(), new_end.isoformat())
    assert await run(activities.reschedule_booking, *args) == "ok"
    assert await run(activities.reschedule_booking, *args) == "ok"
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.start_at, booking.end_at, booking.reschedule_count) == (new_start, new_end, 1)


async def test_reschedule_refusals(app_state: AppState, activities: BookingActivities, run) -> None:
    practitioner = await create_practitioner(app_state)
    refs = await create_booking(app_state, start_at=_future(38), practitioner=practitioner)
    other = await create_booking(app_state, start_at=_future(39), practitioner=practitioner)

    clash = other.start_at - timedelta(minutes=30)
    assert (
        await run(
            activities.reschedule_booking,
            refs.booking_id,
            clash.isoformat(),
            (clash + timedelta(hours=1)).isoformat(),
        )
        == "refused"
    )
    # Back-to-back (half-open intervals) is fine, and the refusal above left the session usable.
    assert (
        await run(
            activities.reschedule_booking,
            refs.booking_id,
            other.end_at.isoformat(),
            (other.end_at + timedelta(hours=1)).isoformat(),
        )
        == "ok"
    )
    assert (await load_booking(app_state, refs.booking_id)).start_at == other.end_at

    past = datetime.now(UTC) - timedelta(days=1)
    assert (
        await run(
            activities.reschedule_booking,
            refs.booking_id,
            past.isoformat(),
            (past + timedelta(hours=1)).isoformat(),
        )
        == "invalid"
    )
    s = _future(40)
    assert (
        await run(activities.reschedule_booking, refs.booking_id, s.isoformat(), s.isoformat()) == "invalid"
    )
    assert await run(activities.reschedule_booking, refs.booking_id, "tomorrow", "later") == "invalid"

    await run(activities.cancel_booking, refs.booking_id, "gone")
    assert (
        await run(
            activities.reschedule_booking,
            refs.booking_id,
            s.isoformat(),
            (s + timedelta(hours=1)).isoformat(),
        )
        == "not_allowed"
    )
    assert (await load_booking(app_state, refs.booking_id)).start_at == other.end_at


async def test_read_booking_reports_the_database_as_it_is(
    app_state: AppState, activities: BookingActivities, run
) -> None:
    refs = await create_booking(app_state, start_at=_future(41))
    snapshot = await run(activities.read_booking, refs.booking_id)
    assert (snapshot.status, snapshot.reschedule_count) == ("confirmed", 0)
    assert datetime.fromisoformat(snapshot.start_at) == refs.start_at
    assert datetime.fromisoformat(snapshot.end_at) == refs.end_at

    moved = _future(42)
    await reschedule_in_db(app_state, refs.booking_id, moved, signal=False)
    snapshot = await run(activities.read_booking, refs.booking_id)
    assert (datetime.fromisoformat(snapshot.start_at), snapshot.reschedule_count) == (moved, 1)
    await cancel_in_db(app_state, refs.booking_id)
    assert (await run(activities.read_booking, refs.booking_id)).status == "canceled"

    with pytest.raises(ApplicationError) as missing:
        await run(activities.read_booking, 2**31 - 7)
    assert (missing.value.type, missing.value.non_retryable) == ("BookingNotFound", True)
