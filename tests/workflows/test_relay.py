"""The outbox relay: every start happens exactly once whatever the duplicates and crashes; every
signal is delivered at least once, or found to have nothing left to change."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope
from estuary_checkout.state import AppState
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.models import OutboxMessage
from estuary_checkout.workflows.outbox import enqueue_booking_lifecycle
from estuary_checkout.workflows.relay import relay_once
from estuary_checkout.workflows.types import BOOKINGS_TASK_QUEUE
from estuary_checkout.workflows.workflows import BookingLifecycleWorkflow

from .conftest import (
    BookingRefs,
    RecordingSender,
    create_booking,
    eventually,
    load_booking,
    query_status,
    reschedule_in_db,
    terminate,
)


async def _booking(app_state: AppState, temporal_env: WorkflowEnvironment) -> BookingRefs:
    now = await temporal_env.get_current_time()
    return await create_booking(app_state, start_at=now + timedelta(days=5))


async def _add_row(app_state: AppState, refs: BookingRefs, *, dedupe_key: str | None = None, **values) -> int:  # type: ignore[no-untyped-def]
    async for session in session_scope(app_state.session_factory):
        fields = {
            "dedupe_key": dedupe_key or f"test:{uuid.uuid4().hex}",
            "kind": "start_workflow",
            "workflow_type": "BookingLifecycleWorkflow",
            "workflow_id": refs.workflow_id,
            "task_queue": BOOKINGS_TASK_QUEUE,
            "payload": asdict(refs.lifecycle_input()),
            "attempts": 0,
            "available_at": utcnow(),
        }
        row = OutboxMessage(**{**fields, **values})
        session.add(row)
        await session.flush()
        row_id = row.id
    return row_id


async def _row(app_state: AppState, row_id: int) -> OutboxMessage:
    async with app_state.session_factory() as session:
        return (await session.execute(select(OutboxMessage).where(OutboxMessage.id == row_id))).scalar_one()


async def test_enqueued_start_is_relayed_and_runs(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)
    async for session in session_scope(app_state.session_factory):
        assert await enqueue_booking_lifecycle(session, refs.lifecycle_input())
        assert not await enqueue_booking_lifecycle(session, refs.lifecycle_input())

    assert await relay_once(app_state.session_factory, temporal_client) >= 1

    async with app_state.session_factory() as session:
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.workflow_id == refs.workflow_id))
        ).scalar_one()
    assert row.dispatched_at is not None
    assert row.attempts == 0
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    status = await eventually(lambda: query_status(handle), lambda s: s.phase == "awaiting_reminder")
    assert status.booking_id == refs.booking_id
    assert status.notifications_sent == ["confirmation"]
    await terminate(handle)


async def test_two_rows_for_one_workflow_start_it_once(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)
    first = await _add_row(app_state, refs)
    second = await _add_row(app_state, refs, available_at=utcnow() + timedelta(hours=1))

    await relay_once(app_state.session_factory, temporal_client)
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    run_id = (await handle.describe()).run_id
    assert (await _row(app_state, second)).dispatched_at is None

    async for session in session_scope(app_state.session_factory):
        (await session.get(OutboxMessage, second)).available_at = utcnow()  # type: ignore[union-attr]
    await relay_once(app_state.session_factory, temporal_client)

    for row_id in (first, second):
        row = await _row(app_state, row_id)
        assert row.dispatched_at is not None
        assert (row.attempts, row.last_error) == (0, None)
    desc = await handle.describe()
    assert (desc.run_id, desc.status) == (run_id, WorkflowExecutionStatus.RUNNING)
    history = await handle.fetch_history()
    assert sum(e.HasField("workflow_execution_started_event_attributes") for e in history.events) == 1
    await terminate(handle)


async def test_relay_killed_after_start_before_marking(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)
    row_id = await _add_row(app_state, refs)
    # The "killed" relay got as far as starting the workflow; the row was never marked.
    handle = await temporal_client.start_workflow(
        BookingLifecycleWorkflow.run,
        refs.lifecycle_input(),
        id=refs.workflow_id,
        task_queue=BOOKINGS_TASK_QUEUE,
    )
    run_id = handle.result_run_id

    await relay_once(app_state.session_factory, temporal_client)

    row = await _row(app_state, row_id)
    assert row.dispatched_at is not None
    assert row.attempts == 0
    desc = await handle.describe()
    assert (desc.run_id, desc.status) == (run_id, WorkflowExecutionStatus.RUNNING)

    # Even once the workflow has closed, a stale row never starts a second run.
    await terminate(handle, "closed")
    late = await _add_row(app_state, refs)
    await relay_once(app_state.session_factory, temporal_client)
    assert (await _row(app_state, late)).dispatched_at is not None
    desc = await temporal_client.get_workflow_handle(refs.workflow_id).describe()
    assert (desc.run_id, desc.status) == (run_id, WorkflowExecutionStatus.TERMINATED)


async def test_failed_start_is_retried_later_with_backoff(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)
    row_id = await _add_row(app_state, refs, workflow_type="NoSuchWorkflow")

    before = utcnow()
    await relay_once(app_state.session_factory, temporal_client)
    row = await _row(app_state, row_id)
    assert row.dispatched_at is None
    assert row.attempts == 1
    assert "NoSuchWorkflow" in (row.last_error or "")
    assert row.available_at > before

    # Not due yet: the next run leaves it alone.
    await relay_once(app_state.session_factory, temporal_client)
    assert (await _row(app_state, row_id)).attempts == 1


async def test_concurrent_relays_start_each_workflow_once(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, database_url: str
) -> None:
    bookings = [await _booking(app_state, temporal_env) for _ in range(6)]
    rows = [await _add_row(app_state, refs) for refs in bookings for _ in range(2)]

    # Separate engines: separate connections, as separate relay processes would have.
    from estuary_checkout.db.session import make_engine, make_session_factory

    engines = [make_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(
            *(relay_once(make_session_factory(e), temporal_client, batch=4) for e in engines)
        )
        # Whatever the three left (batch limits, skipped locks) the next pass finishes.
        await relay_once(app_state.session_factory, temporal_client)
    finally:
        for e in engines:
            await e.dispose()

    for row_id in rows:
        row = await _row(app_state, row_id)
        assert row.dispatched_at is not None
        assert row.attempts == 0
    for refs in bookings:
        handle = temporal_client.get_workflow_handle(refs.workflow_id)
        history = await handle.fetch_history()
        assert sum(e.HasField("workflow_execution_started_event_attributes") for e in history.events) == 1
        await terminate(handle)


async def _signal_row(app_state: AppState, refs: BookingRefs) -> OutboxMessage:
    async with app_state.session_factory() as session:
        return (
            await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.workflow_id == refs.workflow_id, OutboxMessage.kind == "signal_workflow"
                )
            )
        ).scalar_one()


async def _set(app_state: AppState, row_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    async for session in session_scope(app_state.session_factory):
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


async def test_signal_waits_for_a_pending_start_then_is_delivered(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)
    # The start was written at fulfilment and failed once: it waits for its retry.
    start_id = await _add_row(
        app_state, refs, dedupe_key=f"start:{refs.workflow_id}", available_at=utcnow() + timedelta(minutes=10)
    )
    new_start = refs.start_at + timedelta(days=2)
    await reschedule_in_db(app_state, refs.booking_id, new_start)
    signal = await _signal_row(app_state, refs)
    start_due = (await _row(app_state, start_id)).available_at

    await relay_once(app_state.session_factory, temporal_client)
    row = await _row(app_state, signal.id)
    assert (row.dispatched_at, row.attempts) == (None, 1)
    assert "not started yet" in (row.last_error or "")
    # Not before the start can have happened.
    assert row.available_at >= start_due
    await relay_once(app_state.session_factory, temporal_client)
    assert (await _row(app_state, signal.id)).attempts == 1

    # The start's retry comes due, and the signal's: the start goes first, then the signal.
    await _set(app_state, start_id, available_at=utcnow())
    await _set(app_state, signal.id, available_at=utcnow())
    await relay_once(app_state.session_factory, temporal_client)
    assert (await _row(app_state, start_id)).dispatched_at is not None
    row = await _row(app_state, signal.id)
    assert row.dispatched_at is not None
    assert row.last_error is None

    # Started with the times of its (older) start row, the workflow follows the database.
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    status = await eventually(lambda: query_status(handle), lambda s: "rescheduled" in s.notifications_sent)
    assert (datetime.fromisoformat(status.start_at), status.reschedules) == (new_start, 1)
    await terminate(handle)


async def test_start_and_signal_in_one_pass_go_in_id_order(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)
    start_id = await _add_row(app_state, refs, dedupe_key=f"start:{refs.workflow_id}")
    await reschedule_in_db(app_state, refs.booking_id, refs.start_at + timedelta(days=1))
    signal = await _signal_row(app_state, refs)
    # The signal's writer had a clock a minute behind the start's: id order still puts the start first.
    await _set(
        app_state,
        signal.id,
        available_at=(await _row(app_state, start_id)).available_at - timedelta(minutes=1),
    )

    await relay_once(app_state.session_factory, temporal_client)

    for row_id in (start_id, signal.id):
        row = await _row(app_state, row_id)
        assert (row.dispatched_at is not None, row.attempts, row.last_error) == (True, 0, None)
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    await eventually(lambda: query_status(handle), lambda s: s.reschedules == 1)
    await terminate(handle)


async def test_signal_to_a_finished_workflow_is_marked_done(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now - timedelta(hours=2))
    handle = await temporal_client.start_workflow(
        BookingLifecycleWorkflow.run,
        refs.lifecycle_input(),
        id=refs.workflow_id,
        task_queue=BOOKINGS_TASK_QUEUE,
    )
    assert (await handle.result()).phase == "done"
    async for session in session_scope(app_state.session_factory):
        await outbox.signal_booking_canceled(session, refs.booking_id, "too late")

    await relay_once(app_state.session_factory, temporal_client)

    row = await _signal_row(app_state, refs)
    assert row.dispatched_at is not None
    assert row.attempts == 0
    assert "not delivered: workflow already completed" in (row.last_error or "")
    assert (await load_booking(app_state, refs.booking_id)).status == "completed"


async def test_signal_for_a_workflow_never_started_is_marked_done(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    refs = await _booking(app_state, temporal_env)  # no start row: e.g. a booking not paid yet
    async for session in session_scope(app_state.session_factory):
        await outbox.signal_booking_canceled(session, refs.booking_id, "changed my mind")

    await relay_once(app_state.session_factory, temporal_client)

    row = await _signal_row(app_state, refs)
    assert row.dispatched_at is not None
    assert "no such workflow and no start pending" in (row.last_error or "")


class _DiesAfterSignal:
    """A client whose relay process is killed right after Temporal accepted a signal."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get_workflow_handle(self, workflow_id: str):  # type: ignore[no-untyped-def]
        handle = self._client.get_workflow_handle(workflow_id)

        class _Handle:
            async def signal(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                await handle.signal(*args, **kwargs)
                raise asyncio.CancelledError  # the process dies before its transaction commits

        return _Handle()


async def test_relay_killed_after_the_signal_was_accepted_delivers_again_harmlessly(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client, sender: RecordingSender
) -> None:
    refs = await _booking(app_state, temporal_env)
    handle = await temporal_client.start_workflow(
        BookingLifecycleWorkflow.run,
        refs.lifecycle_input(),
        id=refs.workflow_id,
        task_queue=BOOKINGS_TASK_QUEUE,
    )
    await eventually(lambda: query_status(handle), lambda s: s.phase == "awaiting_reminder")
    new_start = refs.start_at + timedelta(days=3)
    await reschedule_in_db(app_state, refs.booking_id, new_start)

    with pytest.raises(asyncio.CancelledError):
        await relay_once(app_state.session_factory, _DiesAfterSignal(temporal_client))  # type: ignore[arg-type]
    row = await _signal_row(app_state, refs)
    assert (row.dispatched_at, row.attempts) == (None, 0)

    await relay_once(app_state.session_factory, temporal_client)
    assert (await _signal_row(app_state, refs)).dispatched_at is not None

    async def signals_in_history() -> int:
        history = await handle.fetch_history()
        return sum(e.HasField("workflow_execution_signaled_event_attributes") for e in history.events)

    # a signal that arrives while a workflow task is running is written to the history when that
    # task completes: poll for both deliveries rather than read the history once
    assert await eventually(signals_in_history, lambda n: n >= 2) == 2
    status = await eventually(lambda: query_status(handle), lambda s: "rescheduled" in s.notifications_sent)
    assert (datetime.fromisoformat(status.start_at), status.reschedules) == (new_start, 1)
    assert status.notifications_sent == ["confirmation", "rescheduled"]
    assert sender.count(f"booking:{refs.booking_id}:rescheduled") == 1
    assert sender.count(f"booking:{refs.booking_id}:rescheduled:1") == 0
    await terminate(handle)
