"""Activities: the workflows' only way to touch the database, Stripe or a notification channel.

Each activity is one transaction (committed by `session_scope` when it returns) and is safe to
run again: Temporal retries an activity whose result it did not receive, even if the first
attempt committed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from estuary_checkout.bookings import service as bookings_service
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import transaction
from estuary_checkout.errors import AppError
from estuary_checkout.workflows.notifications import (
    BOOKING_NOTIFICATION_KINDS,
    LogSender,
    NotificationSender,
    booking_dedupe_key,
    claim_unsent,
)
from estuary_checkout.workflows.types import BookingSnapshot

log = structlog.get_logger(__name__)


class BookingActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        gateway: Any,
        sender: NotificationSender | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.gateway = gateway
        self.sender: NotificationSender = sender or LogSender()

    def all(self) -> list[Any]:
        return [
            self.send_notification,
            self.read_booking,
            self.mark_booking_completed,
            self.cancel_booking,
            # no longer called by new runs (the API moves bookings); kept for runs recorded before
            # FOLLOW_DATABASE_PATCH, which replay and may still call it
            self.reschedule_booking,
            self.expire_order,
        ]

    @activity.defn(name="send_notification")
    async def send_notification(self, booking_id: int, kind: str, occurrence: int = 0) -> str:
        """Write the notification once and send it once; "sent", "duplicate" or "skipped".

        A booking canceled outside the workflow gets no further notices except "canceled".
        """
        if kind not in BOOKING_NOTIFICATION_KINDS:
            raise ApplicationError(f"unknown notification kind {kind!r}", non_retryable=True)
        async with transaction(self.session_factory) as session:
            booking = await _booking(session, booking_id)
            if booking.status == "canceled" and kind != "canceled":
                return "skipped"
            row = await claim_unsent(
                session,
                dedupe_key=booking_dedupe_key(booking_id, kind, occurrence),
                user_id=booking.user_id,
                booking_id=booking_id,
                kind=kind,
                channel=getattr(self.sender, "channel", "log"),
                payload={
                    "start_at": booking.start_at.isoformat(),
                    "end_at": booking.end_at.isoformat(),
                    "service_id": booking.service_id,
                    "practitioner_id": booking.practitioner_id,
                },
            )
            if row is None:
                return "duplicate"
            # Sent inside the transaction: if the commit then fails the retry sends again, which
            # is the at-least-once a notification channel can promise; a failed send stores nothing.
            await self.sender.send(row)
            row.sent_at = utcnow()
            return "sent"

    @activity.defn(name="read_booking")
    async def read_booking(self, booking_id: int) -> BookingSnapshot:
        """The booking as the database holds it now: what the lifecycle workflow follows."""
        async with transaction(self.session_factory) as session:
            booking = await _booking(session, booking_id)
            return BookingSnapshot(
                status=booking.status,
                start_at=booking.start_at.isoformat(),
                end_at=booking.end_at.isoformat(),
                reschedule_count=booking.reschedule_count,
            )

    @activity.defn(name="mark_booking_completed")
    async def mark_booking_completed(self, booking_id: int) -> str:
        async with transaction(self.session_factory) as session:
            await _booking(session, booking_id)
            return await bookings_service.complete(session, booking_id)

    @activity.defn(name="cancel_booking")
    async def cancel_booking(self, booking_id: int, reason: str) -> str:
        async with transaction(self.session_factory) as session:
            await _booking(session, booking_id)
            return await bookings_service.cancel(session, booking_id, canceled_by="system", reason=reason)

    @activity.defn(name="reschedule_booking")
    async def reschedule_booking(self, booking_id: int, new_start: str, new_end: str) -> str:
        try:
            start, end = datetime.fromisoformat(new_start), datetime.fromisoformat(new_end)
        except ValueError:
            return "invalid"
        async with transaction(self.session_factory) as session:
            await _booking(session, booking_id)
            return await bookings_service.reschedule(session, booking_id, start, end)

    @activity.defn(name="expire_order")
    async def expire_order(self, order_id: str) -> str:
        # Imported here: orders depends on much of the app and nothing here should depend on it at import.
        from estuary_checkout.orders import service as orders_service

        try:
            async with transaction(self.session_factory) as session:
                return await orders_service.expire_order(session, self.gateway, uuid.UUID(order_id))
        except AppError as exc:
            if exc.status_code == 404:
                raise ApplicationError(str(exc), type="OrderNotFound", non_retryable=True) from exc
            raise


async def _booking(session: AsyncSession, booking_id: int) -> Any:
    try:
        return await bookings_service.get_booking(session, booking_id)
    except bookings_service.BookingNotFound as exc:
        raise ApplicationError(str(exc), type="BookingNotFound", non_retryable=True) from exc
