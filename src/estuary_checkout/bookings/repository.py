"""Booking queries. No commits and no rules: the service decides, the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings.models import BLOCKING_STATUSES, Booking, BookingEvent


async def get(session: AsyncSession, booking_id: int, *, for_update: bool = False) -> Booking | None:
    stmt = select(Booking).where(Booking.id == booking_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_completed(session: AsyncSession, booking_id: int, *, now: datetime) -> bool:
    """confirmed → completed; False when the booking was not confirmed."""
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == "confirmed")
        .values(status="completed", completed_at=now, updated_at=now)
        .returning(Booking.id)
    )
    return result.scalar_one_or_none() is not None


async def set_canceled(
    session: AsyncSession,
    booking_id: int,
    *,
    canceled_by: str,
    reason: str | None,
    now: datetime,
    from_: tuple[str, ...] = BLOCKING_STATUSES,
) -> bool:
    """`from_` (default: pending_payment/confirmed) → canceled; False when the booking was not in
    one of those statuses (canceled or completed meanwhile)."""
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status.in_(from_))
        .values(
            status="canceled", canceled_by=canceled_by, cancel_reason=reason, canceled_at=now, updated_at=now
        )
        .returning(Booking.id)
    )
    return result.scalar_one_or_none() is not None


async def set_times(
    session: AsyncSession,
    booking_id: int,
    *,
    start_at: datetime,
    end_at: datetime,
    blocked_until: datetime,
    now: datetime,
) -> bool:
    """Move a slot-holding booking; the overlap guard raises IntegrityError/DBAPIError on a clash."""
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status.in_(BLOCKING_STATUSES))
        .values(
            start_at=start_at,
            end_at=end_at,
            blocked_until=blocked_until,
            reschedule_count=Booking.reschedule_count + 1,
            updated_at=now,
        )
        .returning(Booking.id)
    )
    return result.scalar_one_or_none() is not None


async def get_for_user(session: AsyncSession, user_id: int, booking_id: int) -> Booking | None:
    """The caller's booking; another user's is None, exactly like a missing one."""
    return (
        await session.execute(
            select(Booking)
            .where(Booking.id == booking_id, Booking.user_id == user_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def mark_pass_returned(session: AsyncSession, booking_id: int) -> bool:
    """Record that the booking's pass session went back; True only the first time."""
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.pass_returned.is_(False))
        .values(pass_returned=True)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def add_event(session: AsyncSession, **values: object) -> None:
    session.add(BookingEvent(**values))
    await session.flush()
