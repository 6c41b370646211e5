"""BookingLifecycleWorkflow on the time-skipping server: what happens when, and what signals do."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from estuary_checkout.state import AppState
from estuary_checkout.workflows.workflows import FOLLOW_DATABASE_PATCH, BookingLifecycleWorkflow

from .conftest import (
    RecordingSender,
    cancel_in_db,
    create_booking,
    eventually,
    load_booking,
    notification_keys,
    phase_is,
    query_status,
    reschedule_in_db,
    settled,
    start_lifecycle,
    terminate,
)

HISTORIES = Path(__file__).parent / "histories"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_full_timeline_confirmation_reminder_completion_follow_up(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)

    status = await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))
    assert status.notifications_sent == ["confirmation"]
    rows = await notification_keys(app_state, refs.booking_id)
    assert set(rows) == {f"{key}:confirmation"}
    assert rows[f"{key}:confirmation"].sent_at is not None
    assert rows[f"{key}:confirmation"].user_id == refs.user_id

    # One hour before the reminder is due: nothing yet.
    await temporal_env.sleep(timedelta(days=2) - timedelta(hours=1))
    assert (await query_status(handle)).phase == "awaiting_reminder"
    assert f"{key}:reminder" not in await notification_keys(app_state, refs.booking_id)

    # Past 24 h before start: the reminder goes out, the booking is still just confirmed.
    await temporal_env.sleep(timedelta(hours=2))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder"]
    assert f"{key}:reminder" in await notification_keys(app_state, refs.booking_id)
    assert (await load_booking(app_state, refs.booking_id)).status == "confirmed"

    # Past the end: completed, follow-up not yet.
    await temporal_env.sleep(timedelta(days=1))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_follow_up"))
    booking = await load_booking(app_state, refs.booking_id)
    assert booking.status == "completed"
    assert booking.completed_at is not None
    assert f"{key}:follow_up" not in await notification_keys(app_state, refs.booking_id)

    # Three days after the end: follow-up, done.
    await temporal_env.sleep(timedelta(days=3))
    result = await handle.result()
    assert result.phase == "done"
    assert result.notifications_sent == ["confirmation", "reminder", "follow_up"]
    assert result.last_error is None
    rows = await notification_keys(app_state, refs.booking_id)
    assert set(rows) == {f"{key}:confirmation", f"{key}:reminder", f"{key}:follow_up"}
    assert all(row.sent_at is not None for row in rows.values())
    for k in rows:
        assert sender.count(k) == 1


async def test_start_inside_reminder_window_sends_reminder_at_once(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(hours=3))
    handle = await start_lifecycle(temporal_client, refs)
    # No time is skipped: the reminder must not wait for a timer.
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder"]
    assert f"booking:{refs.booking_id}:reminder" in await notification_keys(app_state, refs.booking_id)
    await terminate(handle)


async def test_start_after_session_began_skips_reminder(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now - timedelta(minutes=30))
    handle = await start_lifecycle(temporal_client, refs)
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation"]
    result = await handle.result()
    assert result.phase == "done"
    assert result.notifications_sent == ["confirmation", "follow_up"]
    assert f"booking:{refs.booking_id}:reminder" not in await notification_keys(app_state, refs.booking_id)
    assert (await load_booking(app_state, refs.booking_id)).status == "completed"


async def test_cancel_signal_cancels_booking_and_notifies(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    await handle.signal(BookingLifecycleWorkflow.cancel, "client asked")
    result = await handle.result()

    assert result.phase == "canceled"
    assert result.notifications_sent == ["confirmation", "canceled"]
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.status, booking.canceled_by, booking.cancel_reason) == (
        "canceled",
        "system",
        "client asked",
    )
    assert booking.canceled_at is not None
    keys = set(await notification_keys(app_state, refs.booking_id))
    assert keys == {f"booking:{refs.booking_id}:confirmation", f"booking:{refs.booking_id}:canceled"}


async def test_cancel_after_completion_is_refused(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(
        app_state, start_at=now - timedelta(minutes=50), end_at=now + timedelta(minutes=10)
    )
    handle = await start_lifecycle(temporal_client, refs)
    await temporal_env.sleep(timedelta(minutes=20))
    await eventually(lambda: query_status(handle), phase_is("awaiting_follow_up"))

    await handle.signal(BookingLifecycleWorkflow.cancel, "too late")
    status = await eventually(lambda: query_status(handle), lambda s: s.last_error is not None)
    assert "completed" in (status.last_error or "")
    assert status.phase == "awaiting_follow_up"
    assert (await load_booking(app_state, refs.booking_id)).status == "completed"
    result = await handle.result()
    assert result.phase == "done"


async def test_reschedule_signal_follows_the_database_not_its_arguments(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    """Two quick moves A→B→C; B's signal handled late must not bring the booking back to B."""
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    b_start, c_start = now + timedelta(days=6), now + timedelta(days=10)
    await reschedule_in_db(app_state, refs.booking_id, b_start, signal=False)
    await reschedule_in_db(app_state, refs.booking_id, c_start, signal=False)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[b_start.isoformat(), (b_start + timedelta(hours=1)).isoformat()],
    )
    status = await eventually(lambda: query_status(handle), lambda s: "rescheduled" in s.notifications_sent)
    assert (_at(status.start_at), _at(status.end_at)) == (c_start, c_start + timedelta(hours=1))
    assert (status.reschedules, status.notifications_sent) == (2, ["confirmation", "rescheduled"])
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.start_at, booking.reschedule_count) == (c_start, 2)
    # One notice for the two moves, keyed by the database's count and naming the latest times.
    rows = await notification_keys(app_state, refs.booking_id)
    assert set(rows) == {f"{key}:confirmation", f"{key}:rescheduled:1"}
    assert _at(rows[f"{key}:rescheduled:1"].payload["start_at"]) == c_start

    # C's own signal (delivered afterwards) finds nothing new: no second notice.
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[c_start.isoformat(), (c_start + timedelta(hours=1)).isoformat()],
    )
    await settled(handle)
    assert (await query_status(handle)).notifications_sent == ["confirmation", "rescheduled"]

    # Neither A's nor B's reminder time sends anything; C's does.
    await temporal_env.sleep(timedelta(days=9) - timedelta(hours=1))
    status = await query_status(handle)
    assert status.phase == "awaiting_reminder"
    assert f"{key}:reminder" not in await notification_keys(app_state, refs.booking_id)
    await temporal_env.sleep(timedelta(hours=2))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "rescheduled", "reminder"]
    assert sender.count(f"{key}:rescheduled:1") == 1
    await terminate(handle)


async def test_reschedule_signal_never_moves_the_booking(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    """A signal whose times the database does not hold (stale, or sent by hand) changes nothing."""
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    elsewhere = now + timedelta(days=5)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[elsewhere.isoformat(), (elsewhere + timedelta(hours=1)).isoformat()],
    )
    await settled(handle)
    status = await query_status(handle)
    assert (_at(status.start_at), status.reschedules, status.last_error) == (refs.start_at, 0, None)
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.start_at, booking.end_at, booking.reschedule_count) == (refs.start_at, refs.end_at, 0)
    assert f"booking:{refs.booking_id}:rescheduled" not in await notification_keys(app_state, refs.booking_id)

    # The reminder stays where the database has the booking.
    await temporal_env.sleep(timedelta(days=2, hours=1))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder"]
    await terminate(handle)


async def test_move_without_signal_is_caught_before_the_reminder(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    """A lost or late signal: the workflow reads the booking before reminding and follows it."""
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))
    new_start = now + timedelta(days=8)
    await reschedule_in_db(app_state, refs.booking_id, new_start, signal=False)

    # At the old reminder time: no reminder, but the move is noticed and announced.
    await temporal_env.sleep(timedelta(days=2, hours=1))
    status = await eventually(lambda: query_status(handle), lambda s: "rescheduled" in s.notifications_sent)
    assert (_at(status.start_at), status.reschedules) == (new_start, 1)
    assert status.phase == "awaiting_reminder"
    assert status.notifications_sent == ["confirmation", "rescheduled"]
    assert f"{key}:reminder" not in await notification_keys(app_state, refs.booking_id)

    await temporal_env.sleep(timedelta(days=5))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "rescheduled", "reminder"]
    await terminate(handle)


async def test_cancel_without_signal_is_caught_before_the_reminder(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))
    await cancel_in_db(app_state, refs.booking_id)

    result = await handle.result()
    assert result.phase == "canceled"
    assert result.notifications_sent == ["confirmation", "canceled"]
    keys = set(await notification_keys(app_state, refs.booking_id))
    assert keys == {f"booking:{refs.booking_id}:confirmation", f"booking:{refs.booking_id}:canceled"}
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.status, booking.canceled_by) == ("canceled", "client")


async def test_move_after_the_reminder_is_not_completed_at_the_old_end(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    """Reminded for the old time, then moved with the signal lost: the workflow reads the booking
    before completing it, finds it moved, reminds again for the new time, completes at the new end."""
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(hours=5))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    new_start = now + timedelta(days=4)
    await reschedule_in_db(app_state, refs.booking_id, new_start, signal=False)

    await temporal_env.sleep(timedelta(hours=7))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))
    assert status.notifications_sent == ["confirmation", "reminder", "rescheduled"]
    assert (await load_booking(app_state, refs.booking_id)).status == "confirmed"

    result = await handle.result()
    assert result.phase == "done"
    assert result.notifications_sent == ["confirmation", "reminder", "rescheduled", "reminder", "follow_up"]
    assert _at(result.end_at) == new_start + timedelta(hours=1)
    booking = await load_booking(app_state, refs.booking_id)
    assert booking.status == "completed"
    for k in (f"{key}:reminder", f"{key}:reminder:1", f"{key}:rescheduled"):
        assert sender.count(k) == 1


def _patch_markers(history: WorkflowHistory) -> list[str]:
    """The patch ids recorded in a history (core writes each as a "core_patch" marker)."""
    return [
        e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data.decode()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]


async def test_replay_of_recorded_history_is_deterministic(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=2))
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))
    new_start = now + timedelta(days=3)
    await reschedule_in_db(app_state, refs.booking_id, new_start, signal=False)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[new_start.isoformat(), (new_start + timedelta(hours=1)).isoformat()],
    )
    await eventually(lambda: query_status(handle), lambda s: s.reschedules == 1)
    result = await handle.result()
    assert result.phase == "done"
    assert result.notifications_sent == ["confirmation", "rescheduled", "reminder", "follow_up"]

    history = await handle.fetch_history()
    assert len([m for m in _patch_markers(history) if FOLLOW_DATABASE_PATCH in m]) == 1
    replay = await Replayer(workflows=[BookingLifecycleWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None


@pytest.mark.parametrize(
    "name",
    [
        # recorded by the code before FOLLOW_DATABASE_PATCH: the signal moved the booking itself
        "lifecycle_v1_reschedule",
        "lifecycle_v1_plain",
        "lifecycle_v1_cancel",
        # started by that code, then carried on (reschedule, reminder, completion) by this one
        "lifecycle_v1_then_v2_reschedule",
    ],
)
async def test_histories_recorded_before_the_patch_still_replay(name: str) -> None:
    """Runs in flight when the worker is upgraded must replay. The v1 histories were recorded on
    the time-skipping server with the lifecycle as of f808205 (before FOLLOW_DATABASE_PATCH); the
    mixed one with that code until the reminder wait, then with this code on the same run."""
    text = (HISTORIES / f"{name}.json").read_text()
    history = WorkflowHistory.from_json(f"recorded-{name}", text)
    replay = await Replayer(workflows=[BookingLifecycleWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
    markers = [m for m in _patch_markers(history) if FOLLOW_DATABASE_PATCH in m]
    assert len(markers) == (1 if "then_v2" in name else 0)
