"""The outbox relay: starts the workflows that committed transactions asked for.

Delivery is at-least-once and the start is idempotent, so together they are exactly-once:
* a crash after the caller's commit but before the start loses nothing (the row stays pending);
* a crash after the start but before the row is marked makes the next run start it again,
  which Temporal refuses with "already started" (the id is deterministic and reuse of a closed
  id is rejected too), and that counts as success.

Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several relays share the work;
on SQLite every transaction holds the database's write lock, which serializes relays anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope
from estuary_checkout.workflows.models import OutboxMessage
from estuary_checkout.workflows.types import BookingLifecycleInput, OrderExpiryInput

log = structlog.get_logger(__name__)

transaction = asynccontextmanager(session_scope)

INPUT_TYPES: dict[str, type[Any]] = {
    "BookingLifecycleWorkflow": BookingLifecycleInput,
    "OrderExpiryWorkflow": OrderExpiryInput,
}
MAX_BACKOFF = timedelta(minutes=5)
START_RPC_TIMEOUT = timedelta(seconds=10)
# Temporal itself is unreachable: the rest of the batch would fail the same way, so stop early.
_UNREACHABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


class UnknownWorkflowType(Exception):
    pass


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


async def relay_once(
    session_factory: async_sessionmaker[AsyncSession], client: Client, *, batch: int = 100
) -> int:
    """Start up to `batch` due workflows; returns how many rows were marked dispatched."""
    dispatched = 0
    async with transaction(session_factory) as session:
        now = utcnow()
        rows = (
            (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.dispatched_at.is_(None), OutboxMessage.available_at <= now)
                    .order_by(OutboxMessage.available_at, OutboxMessage.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            try:
                await _start(client, row)
            except WorkflowAlreadyStartedError:
                log.info("outbox.already_started", workflow_id=row.workflow_id)
            except Exception as exc:
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                row.available_at = utcnow() + backoff(row.attempts)
                log.warning(
                    "outbox.start_failed", workflow_id=row.workflow_id, attempts=row.attempts, error=str(exc)
                )
                if isinstance(exc, RPCError) and exc.status in _UNREACHABLE:
                    break
                continue
            row.dispatched_at = utcnow()
            row.last_error = None
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
