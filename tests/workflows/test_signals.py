"""Cancel and reschedule as the API does them: the booking changed in the database first, the
signal written in the same transaction and delivered by the outbox relay; the lifecycle follows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from estuary_checkout.state import AppState
from estuary_checkout.workflows.models import OutboxMessage
from estuary_checkout.workflows.relay import relay_once

from .conftest import (
    BookingRefs,
    RecordingSender,
    cancel_in_db,
    create_booking,
    eventually,
    load_booking,
    notification_keys,
    phase_is,
    query_status,
    reschedule_in_db,
    start_lifecycle,
    terminate,
)


async def _signal_rows(app_state: AppState, refs: BookingRefs) -> list[OutboxMessage]:
    async with app_state.session_factory() as session:
        rows = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.workflow_id == refs.workflow_id, OutboxMessage.kind == "signal_workflow")
            .order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def _relay_all(app_state: AppState, client: Client, refs: BookingRefs) -> list[OutboxMessage]:
    await relay_once(app_state.session_factory, client)
    rows = await _signal_rows(app_state, refs)
    assert rows and all(r.dispatched_at is not None and r.last_error is None for r in rows), rows
    return rows


async def test_cancel_through_the_relay_ends_the_lifecycle_with_one_notice(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    await cancel_in_db(app_state, refs.booking_id, "cannot make it")
    (row,) = await _relay_all(app_state, temporal_client, refs)
    assert (row.signal_name, row.payload) == ("cancel", {"args": ["cannot make it"]})

    result = await handle.result()
    assert result.phase == "canceled"
    assert result.notifications_sent == ["confirmation", "canceled"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    # The API's cancel stands as it was written: the workflow did not re-cancel it as "system".
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.status, booking.canceled_by, booking.cancel_reason) == (
        "canceled",
        "client",
        "cannot make it",
    )

    # Past the old reminder, end and follow-up: nothing more, and the canceled notice went once.
    await temporal_env.sleep(timedelta(days=7))
    assert set(await notification_keys(app_state, refs.booking_id)) == {
        f"{key}:confirmation",
        f"{key}:canceled",
    }
    assert sender.count(f"{key}:canceled") == 1


async def test_reschedule_through_the_relay_moves_the_reminder(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    new_start = now + timedelta(days=10)
    assert await reschedule_in_db(app_state, refs.booking_id, new_start) == 1
    (row,) = await _relay_all(app_state, temporal_client, refs)
    assert row.dedupe_key == f"signal:{refs.workflow_id}:reschedule:1"

    status = await eventually(lambda: query_status(handle), lambda s: "rescheduled" in s.notifications_sent)
    assert (datetime.fromisoformat(status.start_at), status.reschedules) == (new_start, 1)
    assert status.notifications_sent == ["confirmation", "rescheduled"]

    # The old reminder time (2 days from now) passes without a reminder, and so does the old end …
    await temporal_env.sleep(timedelta(days=4))
    assert (await query_status(handle)).phase == "awaiting_reminder"
    assert f"{key}:reminder" not in await notification_keys(app_state, refs.booking_id)
    assert (await load_booking(app_state, refs.booking_id)).status == "confirmed"
    # … up to an hour before 24 h ahead of the new start …
    await temporal_env.sleep(timedelta(days=5) - timedelta(hours=1))
    assert f"{key}:reminder" not in await notification_keys(app_state, refs.booking_id)
    # … and then it goes out.
    await temporal_env.sleep(timedelta(hours=2))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "rescheduled", "reminder"]
    assert sender.count(f"{key}:rescheduled") == 1
    assert sender.count(f"{key}:reminder") == 1
    await terminate(handle)


async def test_two_quick_reschedules_end_on_the_last_times(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=3))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    b_start, c_start = now + timedelta(days=5), now + timedelta(days=4)
    await reschedule_in_db(app_state, refs.booking_id, b_start)
    await reschedule_in_db(app_state, refs.booking_id, c_start)
    rows = await _relay_all(app_state, temporal_client, refs)
    assert [r.dedupe_key.rsplit(":", 1)[-1] for r in rows] == ["1", "2"]

    result = await handle.result()
    assert result.phase == "done"
    assert (datetime.fromisoformat(result.start_at), datetime.fromisoformat(result.end_at)) == (
        c_start,
        c_start + timedelta(hours=1),
    )
    assert result.reschedules == 2
    booking = await load_booking(app_state, refs.booking_id)
    assert (booking.status, booking.start_at, booking.reschedule_count) == ("completed", c_start, 2)
    # Both signals found the booking at C already: one notice, for C; one reminder.
    assert result.notifications_sent == ["confirmation", "rescheduled", "reminder", "follow_up"]
    rows_by_key = await notification_keys(app_state, refs.booking_id)
    assert f"{key}:rescheduled:1" in rows_by_key
    assert f"{key}:rescheduled" not in rows_by_key
    assert sender.count(f"{key}:reminder") == 1


async def test_reschedule_after_the_reminder_reminds_again_for_the_new_time(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(hours=5))
    key = f"booking:{refs.booking_id}"
    handle = await start_lifecycle(temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert f"{key}:reminder" in await notification_keys(app_state, refs.booking_id)

    new_start = now + timedelta(days=4)
    await reschedule_in_db(app_state, refs.booking_id, new_start)
    await _relay_all(app_state, temporal_client, refs)
    await eventually(lambda: query_status(handle), phase_is("awaiting_reminder"))

    # The old end passes; nothing is completed, no second reminder yet.
    await temporal_env.sleep(timedelta(hours=7))
    assert (await load_booking(app_state, refs.booking_id)).status == "confirmed"
    assert f"{key}:reminder:1" not in await notification_keys(app_state, refs.booking_id)
    # 24 h before the new start: the new reminder.
    await temporal_env.sleep(timedelta(days=3))
    status = await eventually(lambda: query_status(handle), phase_is("awaiting_end"))
    assert status.notifications_sent == ["confirmation", "reminder", "rescheduled", "reminder"]
    for k in (f"{key}:reminder", f"{key}:reminder:1", f"{key}:rescheduled"):
        assert sender.count(k) == 1
    await terminate(handle)
