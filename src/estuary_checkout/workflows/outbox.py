"""Writing to the transactional outbox: a workflow start recorded in the caller's transaction.

The unique dedupe key makes a second enqueue of the same start a no-op, so fulfilment can run
any number of times and still leave exactly one row per workflow.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.workflows.models import OutboxMessage
from estuary_checkout.workflows.types import (
    BOOKINGS_TASK_QUEUE,
    BookingLifecycleInput,
    OrderExpiryInput,
    booking_workflow_id,
    order_expiry_workflow_id,
)


async def enqueue_start(
    session: AsyncSession, *, workflow_type: str, workflow_id: str, payload: dict[str, Any], task_queue: str
) -> bool:
    """True if a new row was written, False if this start was already enqueued."""
    now = utcnow()
    stmt = (
        upsert_insert(session, OutboxMessage)
        .values(
            dedupe_key=f"start:{workflow_id}",
            kind="start_workflow",
            workflow_type=workflow_type,
            workflow_id=workflow_id,
            task_queue=task_queue,
            payload=payload,
            attempts=0,
            available_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def enqueue_booking_lifecycle(session: AsyncSession, data: BookingLifecycleInput) -> bool:
    return await enqueue_start(
        session,
        workflow_type="BookingLifecycleWorkflow",
        workflow_id=booking_workflow_id(data.booking_id),
        payload=asdict(data),
        task_queue=BOOKINGS_TASK_QUEUE,
    )


async def enqueue_order_expiry(session: AsyncSession, data: OrderExpiryInput) -> bool:
    return await enqueue_start(
        session,
        workflow_type="OrderExpiryWorkflow",
        workflow_id=order_expiry_workflow_id(data.order_id),
        payload=asdict(data),
        task_queue=BOOKINGS_TASK_QUEUE,
    )
