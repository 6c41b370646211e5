"""Booking rules used by the lifecycle workflow's activities. No commits here: the caller commits.

Every operation is safe to repeat (activities are retried): each is a conditional update that
reports the booking's resulting state instead of failing when the work was already done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings import repository
from estuary_checkout.bookings.errors import BookingNotFound
from estuary_checkout.bookings.models import BLOCKING_STATUSES, Booking
from estuary_checkout.db.base import utcnow
from estuary_checkout.events import emit as events

RescheduleOutcome = Literal["ok", "refused", "not_allowed", "invalid"]


__all__ = ["BookingNotFound", "cancel", "complete", "get_booking", "reschedule"]


async def get_booking(session: AsyncSession, booking_id: int, *, for_update: bool = False) -> Booking:
    booking = await repository.get(session, booking_id, for_update=for_update)
    if booking is None:
        raise BookingNotFound(details={"booking_id": booking_id})
    return booking


async def complete(session: AsyncSession, booking_id: int, *, now: datetime | None = None) -> str:
    """Mark a confirmed booking completed; returns the booking's status afterwards.

    A booking canceled meanwhile stays canceled, and one already completed stays as it is.
    """
    if await repository.set_completed(session, booking_id, now=now or utcnow()):
        await events.booking_event(session, "booking.completed", booking_id)
        return "completed"
    return (await get_booking(session, booking_id)).status


async def cancel(
    session: AsyncSession,
    booking_id: int,
    *,
    canceled_by: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> str:
    """Cancel a booking that still holds its slot; returns the booking's status afterwards.

    A completed booking cannot be canceled (the caller sees "completed" and reports it).
    """
    if await repository.set_canceled(
        session, booking_id, canceled_by=canceled_by, reason=reason, now=now or utcnow()
    ):
        await events.booking_event(session, "booking.canceled", booking_id)
        return "canceled"
    return (await get_booking(session, booking_id)).status


async def reschedule(
    session: AsyncSession,
    booking_id: int,
    new_start: datetime,
    new_end: datetime,
    *,
    now: datetime | None = None,
) -> RescheduleOutcome:
    """Move a booking to new times.

    "refused" when the practitioner is busy then: the overlap guard lives in the database
    (exclusion constraint / trigger), so the update runs in a savepoint and its violation is
    rolled back and reported rather than raised. Moving a booking to the times it already has
    is "ok", which keeps a retried activity from double counting.
    """
    now = now or utcnow()
    if new_start.tzinfo is None or new_end.tzinfo is None or new_start >= new_end:
        return "invalid"
    booking = await get_booking(session, booking_id, for_update=True)
    if booking.start_at == new_start and booking.end_at == new_end:
        return "ok" if booking.status in BLOCKING_STATUSES else "not_allowed"
    if booking.status not in BLOCKING_STATUSES:
        return "not_allowed"
    if new_start <= now:
        return "invalid"
    try:
        async with session.begin_nested():
            moved = await repository.set_times(
                session,
                booking_id,
                start_at=new_start,
                end_at=new_end,
                blocked_until=new_end + (booking.blocked_until - booking.end_at),  # its buffer moves along
                now=now,
            )
    except IntegrityError:
        return "refused"
    if not moved:
        return "not_allowed"
    await events.booking_event(session, "booking.rescheduled", booking_id)
    return "ok"
