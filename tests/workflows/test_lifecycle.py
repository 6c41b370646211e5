"""BookingLifecycleWorkflow on the time-skipping server: what happens when, and what signals do."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from estuary_checkout.state import AppState
from estuary_checkout.workflows.types import BOOKINGS_TASK_QUEUE
from estuary_checkout.workflows.workflows import BookingLifecycleWorkflow

from .conftest import (
    RecordingSender,
    create_booking,
    create_practitioner,
    eventually,
    load_booking,
    notification_keys,
    query_status,
)


async def _start(client: Client, refs):  # type: ignore[no-untyped-def]
    return await client.start_workflow(
        BookingLifecycleWorkflow.run,
        refs.lifecycle_input(),
        id=refs.workflow_id,
        task_queue=BOOKINGS_TASK_QUEUE,
    )


def _phase(phase: str):  # type: ignore[no-untyped-def]
    return lambda status: status.phase == phase


async def test_full_timeline_confirmation_reminder_completion_follow_up(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await _start(temporal_client, refs)

    status = await eventually(lambda: query_status(handle), _phase("awaiting_reminder"))
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
    status = await eventually(lambda: query_status(handle), _phase("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder"]
    assert f"{key}:reminder" in await notification_keys(app_state, refs.booking_id)
    assert (await load_booking(app_state, refs.booking_id)).status == "confirmed"

    # Past the end: completed, follow-up not yet.
    await temporal_env.sleep(timedelta(days=1))
    status = await eventually(lambda: query_status(handle), _phase("awaiting_follow_up"))
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
    handle = await _start(temporal_client, refs)
    # No time is skipped: the reminder must not wait for a timer.
    status = await eventually(lambda: query_status(handle), _phase("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder"]
    assert f"booking:{refs.booking_id}:reminder" in await notification_keys(app_state, refs.booking_id)
    await handle.terminate("test done")


async def test_start_after_session_began_skips_reminder(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now - timedelta(minutes=30))
    handle = await _start(temporal_client, refs)
    status = await eventually(lambda: query_status(handle), _phase("awaiting_end"))
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
    handle = await _start(temporal_client, refs)
    await eventually(lambda: query_status(handle), _phase("awaiting_reminder"))

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
    handle = await _start(temporal_client, refs)
    await temporal_env.sleep(timedelta(minutes=20))
    await eventually(lambda: query_status(handle), _phase("awaiting_follow_up"))

    await handle.signal(BookingLifecycleWorkflow.cancel, "too late")
    status = await eventually(lambda: query_status(handle), lambda s: s.last_error is not None)
    assert "completed" in (status.last_error or "")
    assert status.phase == "awaiting_follow_up"
    assert (await load_booking(app_state, refs.booking_id)).status == "completed"
    result = await handle.result()
    assert result.phase == "done"


async def test_reschedule_moves_booking_and_recomputes_timers(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await _start(temporal_client, refs)
    await eventually(lambda: query_status(handle), _phase("awaiting_reminder"))

    new_start = now + timedelta(days=10)
    new_end = new_start + timedelta(hours=1)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule, args=[new_start.isoformat(), new_end.isoformat()]
    )
    status = await eventually(lambda: query_status(handle), lambda s: s.reschedules == 1)
    assert (status.start_at, status.end_at) == (new_start.isoformat(), new_end.isoformat())
    assert status.last_error is None
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.start_at, booking.end_at, booking.reschedule_count) == (new_start, new_end, 1)
    assert f"{key}:rescheduled" in await notification_keys(app_state, refs.booking_id)

    # The old reminder time (2 days from now) passes without a reminder …
    await temporal_env.sleep(timedelta(days=5))
    status = await query_status(handle)
    assert status.phase == "awaiting_reminder"
    assert f"{key}:reminder" not in await notification_keys(app_state, refs.booking_id)

    # … the new one (9 days from now) sends it.
    await temporal_env.sleep(timedelta(days=4, hours=1))
    status = await eventually(lambda: query_status(handle), _phase("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "rescheduled", "reminder"]
    assert f"{key}:reminder" in await notification_keys(app_state, refs.booking_id)
    await handle.terminate("test done")


async def test_reschedule_after_reminder_sends_a_new_reminder(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(hours=5))
    key = f"booking:{refs.booking_id}"
    handle = await _start(temporal_client, refs)
    await eventually(lambda: query_status(handle), _phase("awaiting_end"))

    new_start = now + timedelta(days=4)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[new_start.isoformat(), (new_start + timedelta(hours=1)).isoformat()],
    )
    await eventually(lambda: query_status(handle), _phase("awaiting_reminder"))
    # The old end passes; nothing is completed.
    await temporal_env.sleep(timedelta(hours=7))
    assert (await load_booking(app_state, refs.booking_id)).status == "confirmed"
    await temporal_env.sleep(timedelta(days=3))
    status = await eventually(lambda: query_status(handle), _phase("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder", "rescheduled", "reminder"]
    keys = set(await notification_keys(app_state, refs.booking_id))
    assert {f"{key}:reminder", f"{key}:reminder:1", f"{key}:rescheduled"} <= keys
    await handle.terminate("test done")


async def test_reschedule_into_occupied_slot_is_refused_and_keeps_times(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    practitioner = await create_practitioner(app_state)
    refs = await create_booking(app_state, start_at=now + timedelta(days=3), practitioner=practitioner)
    other = await create_booking(app_state, start_at=now + timedelta(days=4), practitioner=practitioner)
    handle = await _start(temporal_client, refs)
    await eventually(lambda: query_status(handle), _phase("awaiting_reminder"))

    clash_start = other.start_at + timedelta(minutes=30)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[clash_start.isoformat(), (clash_start + timedelta(hours=1)).isoformat()],
    )
    status = await eventually(lambda: query_status(handle), lambda s: s.last_error is not None)
    assert status.last_error == "reschedule refused: slot unavailable"
    assert (status.start_at, status.reschedules, status.phase) == (
        refs.start_at.isoformat(),
        0,
        "awaiting_reminder",
    )
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.start_at, booking.end_at, booking.reschedule_count) == (refs.start_at, refs.end_at, 0)
    assert f"booking:{refs.booking_id}:rescheduled" not in await notification_keys(app_state, refs.booking_id)

    # The refusal left the workflow and the database usable: a free slot is accepted.
    free_start = other.end_at
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[free_start.isoformat(), (free_start + timedelta(hours=1)).isoformat()],
    )
    status = await eventually(lambda: query_status(handle), lambda s: s.reschedules == 1)
    assert status.last_error is None
    assert (await load_booking(app_state, refs.booking_id)).start_at == free_start

    # The old reminder time passes silently: the timers follow the new start.
    await temporal_env.sleep(timedelta(days=2, hours=1))
    assert (await query_status(handle)).phase == "awaiting_reminder"
    await handle.terminate("test done")


async def test_replay_of_recorded_history_is_deterministic(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=2))
    handle = await _start(temporal_client, refs)
    await eventually(lambda: query_status(handle), _phase("awaiting_reminder"))
    new_start = now + timedelta(days=3)
    await handle.signal(
        BookingLifecycleWorkflow.reschedule,
        args=[new_start.isoformat(), (new_start + timedelta(hours=1)).isoformat()],
    )
    await eventually(lambda: query_status(handle), lambda s: s.reschedules == 1)
    result = await handle.result()
    assert result.phase == "done"

    history = await handle.fetch_history()
    replay = await Replayer(workflows=[BookingLifecycleWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
