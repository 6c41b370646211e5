"""Notifications: a row per message (the record and the dedupe point) and a pluggable sender."""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.workflows.models import Notification

log = structlog.get_logger(__name__)

BOOKING_NOTIFICATION_KINDS = ("confirmation", "reminder", "follow_up", "canceled", "rescheduled")
# written by services in their own transaction (not by a workflow); the worker sends them
ORDER_NOTIFICATION_KINDS = ("refund_succeeded", "refund_failed")


class NotificationSender(Protocol):
    async def send(self, notification: Notification) -> None: ...


class LogSender:
    """The default channel: one structured log line per notification."""

    channel = "log"

    async def send(self, notification: Notification) -> None:
        log.info(
            "notification",
            kind=notification.kind,
            user_id=notification.user_id,
            booking_id=notification.booking_id,
            dedupe_key=notification.dedupe_key,
            payload=notification.payload,
        )


def booking_dedupe_key(booking_id: int, kind: str, occurrence: int = 0) -> str:
    """`booking:{id}:{kind}`; a rescheduled booking's later reminders and notices get `:{n}`."""
    base = f"booking:{booking_id}:{kind}"
    return base if occurrence == 0 else f"{base}:{occurrence}"


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    user_id: int,
    kind: str,
    payload: dict[str, Any],
    booking_id: int | None = None,
    channel: str = "log",
) -> bool:
    """Write a notice to send, in the caller's transaction (an outbox row: it exists exactly when
    the change it reports does); the worker's notification relay sends it. Once per dedupe key."""
    result = await session.execute(
        upsert_insert(session, Notification)
        .values(
            dedupe_key=dedupe_key,
            user_id=user_id,
            booking_id=booking_id,
            kind=kind,
            channel=channel,
            payload=payload,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id)
    )
    return result.scalar_one_or_none() is not None


async def claim_unsent(
    session: AsyncSession,
    *,
    dedupe_key: str,
    user_id: int,
    booking_id: int | None,
    kind: str,
    channel: str,
    payload: dict[str, Any],
) -> Notification | None:
    """Insert the row if missing and return it locked if it is still unsent, else None.

    The row lock (PostgreSQL) or the write lock (SQLite) is held until the caller commits, so
    two concurrent attempts of one activity cannot both send.
    """
    await session.execute(
        upsert_insert(session, Notification)
        .values(
            dedupe_key=dedupe_key,
            user_id=user_id,
            booking_id=booking_id,
            kind=kind,
            channel=channel,
            payload=payload,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    row = (
        await session.execute(
            select(Notification)
            .where(Notification.dedupe_key == dedupe_key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return None if row.sent_at is not None else row
