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
    MembershipInput,
    OrderExpiryInput,
    booking_workflow_id,
    membership_workflow_id,
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


async def enqueue_membership(session: AsyncSession, data: MembershipInput) -> bool:
    """The membership's workflow (one per membership, for its whole life): write it with the
    membership row; a second call for the same membership is a no-op."""
    return await enqueue_start(
        session,
        workflow_type="MembershipWorkflow",
        workflow_id=membership_workflow_id(data.membership_id),
        payload=asdict(data),
        task_queue=BOOKINGS_TASK_QUEUE,
    )


async def enqueue_signal(
    session: AsyncSession,
    *,
    workflow_type: str,
    workflow_id: str,
    signal: str,
    args: list[Any],
    dedupe_key: str,
    task_queue: str = BOOKINGS_TASK_QUEUE,
) -> bool:
    """A signal to a running workflow, written in the caller's transaction; the relay delivers
    it (at least once: signals must be safe to repeat). Once per dedupe key."""
    now = utcnow()
    stmt = (
        upsert_insert(session, OutboxMessage)
        .values(
            dedupe_key=dedupe_key,
            kind="signal_workflow",
            workflow_type=workflow_type,
            workflow_id=workflow_id,
            signal_name=signal,
            task_queue=task_queue,
            payload={"args": args},
            attempts=0,
            available_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def signal_booking_canceled(session: AsyncSession, booking_id: int, reason: str) -> bool:
    workflow_id = booking_workflow_id(booking_id)
    return await enqueue_signal(
        session,
        workflow_type="BookingLifecycleWorkflow",
        workflow_id=workflow_id,
        signal="cancel",
        args=[reason],
        dedupe_key=f"signal:{workflow_id}:cancel",
    )


async def signal_booking_rescheduled(
    session: AsyncSession, booking_id: int, new_start: str, new_end: str, occurrence: int
) -> bool:
    """`occurrence` (the booking's reschedule count after this move) keeps each move's signal apart."""
    workflow_id = booking_workflow_id(booking_id)
    return await enqueue_signal(
        session,
        workflow_type="BookingLifecycleWorkflow",
        workflow_id=workflow_id,
        signal="reschedule",
        args=[new_start, new_end],
        dedupe_key=f"signal:{workflow_id}:reschedule:{occurrence}",
    )


async def signal_membership_refresh(session: AsyncSession, membership_id: int, dedupe_suffix: str) -> bool:
    """Tell the membership's workflow to read the row again, after a change written in this
    transaction. `dedupe_suffix` names the change (e.g. the Stripe event id), so a redelivered
    webhook writes no second signal while each distinct change gets its own."""
    workflow_id = membership_workflow_id(membership_id)
    return await enqueue_signal(
        session,
        workflow_type="MembershipWorkflow",
        workflow_id=workflow_id,
        signal="refresh",
        args=[],
        dedupe_key=f"signal:{workflow_id}:refresh:{dedupe_suffix}",
    )
