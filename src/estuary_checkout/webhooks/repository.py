from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.webhooks.models import StripeEvent


async def store_once(session: AsyncSession, event: dict[str, Any], object_id: str | None) -> bool:
    """Insert the event unless its id is known; True if newly stored."""
    stmt = (
        upsert_insert(session, StripeEvent)
        .values(
            id=event["id"],
            type=event["type"],
            object_id=object_id,
            payload=event,
            status="received",
            attempts=0,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def get(session: AsyncSession, event_id: str) -> StripeEvent | None:
    return (await session.execute(select(StripeEvent).where(StripeEvent.id == event_id))).scalar_one_or_none()


async def claim(session: AsyncSession, event_id: str) -> bool:
    """Take an unprocessed event for processing (received or failed → processing)."""
    result = await session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == event_id, StripeEvent.status.in_(("received", "failed")))
        .values(status="processing", attempts=StripeEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def finish(session: AsyncSession, event_id: str, status: str, error: str | None = None) -> None:
    await session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == event_id)
        .values(status=status, last_error=error, processed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
