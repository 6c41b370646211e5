"""The outbox relay: starts the workflows that committed transactions asked for, and delivers
the signals they sent to running ones.

Delivery is at-least-once and the start is idempotent, so together they are exactly-once:
* a crash after the caller's commit but before the start loses nothing (the row stays pending);
* a crash after the start but before the row is marked makes the next run start it again,
  which Temporal refuses with "already started" (the id is deterministic and reuse of a closed
  id is rejected too), and that counts as success.

Signals are delivered at least once too: a crash after Temporal accepted one but before the
row is marked sends it again, so every signal must mean something that is safe to repeat (the
booking lifecycle's signals say "read the booking again"). A signal whose workflow does not
exist must not stay pending for ever:
* not started yet, its start row still pending (a failed start waiting for its retry, or being
  relayed by another relay right now): the signal waits for the start, with backoff;
* finished (completed, canceled, terminated…) or gone (closed and past retention, or never
  started and no start pending): the signal has nothing left to change, so the row is marked
  dispatched with a note in last_error saying it was not delivered.

Rows go in id order, so a start committed before a signal for the same workflow goes first
(also when clocks of the writers disagree about available_at).

Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several relays share the work;
on SQLite every transaction holds the database's write lock, which serializes relays anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import transaction
from estuary_checkout.workflows.models import OutboxMessage
from estuary_checkout.workflows.types import BookingLifecycleInput, MembershipInput, OrderExpiryInput

log = structlog.get_logger(__name__)


INPUT_TYPES: dict[str, type[Any]] = {
    "BookingLifecycleWorkflow": BookingLifecycleInput,
    "OrderExpiryWorkflow": OrderExpiryInput,
    "MembershipWorkflow": MembershipInput,
}
MAX_BACKOFF = timedelta(minutes=5)
START_RPC_TIMEOUT = timedelta(seconds=10)
# A signal waiting for its workflow's start is tried again this often at most (and never before
# the start itself is due): a start usually follows within a relay pass or two.
NOT_STARTED_MAX_WAIT = timedelta(seconds=30)
START_KIND = "start_workflow"
SIGNAL_KIND = "signal_workflow"
# Temporal itself is unreachable: the rest of the batch would fail the same way, so stop early.
_UNREACHABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


class UnknownWorkflowType(Exception):
    pass


class UnknownOutboxKind(Exception):
    pass


class NotStartedYet(Exception):
    """The signal's workflow does not exist yet but its start is pending: try again at `retry_at`."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def workflow_input(workflow_type: str, payload: dict[str, Any]) -> Any:
    input_type = INPUT_TYPES.get(workflow_type)
    if input_type is None:
        raise UnknownWorkflowType(f"no input type for workflow {workflow_type!r}")
    names = {f.name for f in dataclasses.fields(input_type)}
    return input_type(**{k: v for k, v in payload.items() if k in names})


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 16)), MAX_BACKOFF)


def start_delay(data: Any) -> timedelta | None:
    """An expiry workflow has nothing to do before its deadline: Temporal holds its first task
    until then (`start_delay`), instead of running a task now only to set a timer. The workflow
    still sleeps out any time left, so an early start (clock skew) changes nothing."""
    if isinstance(data, OrderExpiryInput):
        left = datetime.fromisoformat(data.expires_at) - utcnow()
        if left > timedelta(seconds=1):
            return left
    return None


async def _start(client: Client, row: OutboxMessage) -> None:
    data = workflow_input(row.workflow_type, row.payload)
    await client.start_workflow(
        row.workflow_type,
        data,
        id=row.workflow_id,
        task_queue=row.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        rpc_timeout=START_RPC_TIMEOUT,
        start_delay=start_delay(data),
    )


async def _signal(client: Client, session: AsyncSession, row: OutboxMessage) -> str | None:
    """Deliver a signal row; None when delivered, else the note saying why it need not be.

    Raises NotStartedYet when the workflow's start is still pending.
    """
    if not row.signal_name:
        raise ValueError("signal row without signal_name")
    handle = client.get_workflow_handle(row.workflow_id)
    try:
        await handle.signal(
            row.signal_name, args=list(row.payload.get("args", [])), rpc_timeout=START_RPC_TIMEOUT
        )
        return None
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        not_found = str(exc)
    # Temporal answers NOT_FOUND both for a closed run and for an id it never saw: ask which.
    try:
        described = await handle.describe(rpc_timeout=START_RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    else:
        if described.status == WorkflowExecutionStatus.RUNNING:
            # Started between the two calls: deliver on the next pass.
            raise NotStartedYet(f"workflow started meanwhile ({not_found})", utcnow() + backoff(0))
        state = described.status.name.lower() if described.status else "closed"
        return f"not delivered: workflow already {state}; the signal has nothing left to change"
    pending_start = (
        await session.execute(
            select(OutboxMessage.available_at)
            .where(
                OutboxMessage.workflow_id == row.workflow_id,
                OutboxMessage.kind == START_KIND,
                OutboxMessage.dispatched_at.is_(None),
            )
            .order_by(OutboxMessage.available_at)
            .limit(1)
        )
    ).scalar_one_or_none()
    if pending_start is not None:
        wait = min(backoff(row.attempts + 1), NOT_STARTED_MAX_WAIT)
        raise NotStartedYet(
            "workflow not started yet (its start is pending)", max(pending_start, utcnow() + wait)
        )
    return "not delivered: no such workflow and no start pending; the signal has nothing to change"


async def relay_once(
    session_factory: async_sessionmaker[AsyncSession], client: Client, *, batch: int = 100
) -> int:
    """Relay up to `batch` due rows (starts and signals); returns how many were marked dispatched."""
    dispatched = 0
    async with transaction(session_factory) as session:
        now = utcnow()
        rows = (
            (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.dispatched_at.is_(None), OutboxMessage.available_at <= now)
                    .order_by(OutboxMessage.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            note: str | None = None
            try:
                if row.kind == SIGNAL_KIND:
                    note = await _signal(client, session, row)
                elif row.kind == START_KIND:
                    await _start(client, row)
                else:
                    raise UnknownOutboxKind(f"no relay for outbox kind {row.kind!r}")
            except WorkflowAlreadyStartedError:
                log.info("outbox.already_started", workflow_id=row.workflow_id)
            except NotStartedYet as wait:
                row.attempts += 1
                row.last_error = str(wait)
                row.available_at = wait.retry_at
                log.info("outbox.signal_waits_for_start", workflow_id=row.workflow_id, signal=row.signal_name)
                continue
            except Exception as exc:
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                row.available_at = utcnow() + backoff(row.attempts)
                log.warning(
                    "outbox.signal_failed" if row.kind == SIGNAL_KIND else "outbox.start_failed",
                    workflow_id=row.workflow_id,
                    attempts=row.attempts,
                    error=str(exc),
                )
                if isinstance(exc, RPCError) and exc.status in _UNREACHABLE:
                    break
                continue
            if note is not None:
                log.info(
                    "outbox.signal_not_delivered",
                    workflow_id=row.workflow_id,
                    signal=row.signal_name,
                    note=note,
                )
            row.dispatched_at = utcnow()
            row.last_error = note
            dispatched += 1
    return dispatched


async def run_relay(
    session_factory: async_sessionmaker[AsyncSession],
    client: Client,
    stop: asyncio.Event,
    interval: float = 1.0,
    *,
    batch: int = 100,
) -> None:
    """Relay until `stop` is set; a full batch is followed at once by the next."""
    while not stop.is_set():
        dispatched = 0
        try:
            dispatched = await relay_once(session_factory, client, batch=batch)
        except Exception:
            log.exception("outbox.relay_failed")
        if dispatched >= batch:
            continue
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
