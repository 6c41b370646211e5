"""Queries behind a client's booking lists. No commits and no rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings.models import BLOCKING_STATUSES, Booking
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.pagination import PageOf, keyset, page_of

# a booking with what its refund terms need: its order line (its paid share) and its order (what
# is left to refund); either may be missing for a booking made outside a checkout
BookingRow = tuple[Booking, OrderLine | None, Order | None]


def _with_order() -> Any:
    return (
        select(Booking, OrderLine, Order)
        .outerjoin(OrderLine, OrderLine.id == Booking.order_line_id)
        .outerjoin(Order, Order.id == Booking.order_id)
    )


def scope_filter(scope: str, now: datetime) -> Any:
    """upcoming: holds its slot and has not ended. past: every other real booking (ended,
    completed, or canceled after it was confirmed); a hold canceled before it was ever confirmed
    (an unpaid checkout that expired) was never a booking to the client and is in neither."""
    if scope == "upcoming":
        return and_(Booking.status.in_(BLOCKING_STATUSES), Booking.end_at > now)
    return or_(
        Booking.status == "completed",
        and_(Booking.status.in_(BLOCKING_STATUSES), Booking.end_at <= now),
        and_(Booking.status == "canceled", Booking.confirmed_at.is_not(None)),
    )


async def page_for_user(
    session: AsyncSession, user_id: int, *, scope: str, now: datetime, limit: int, cursor: str | None
) -> PageOf[BookingRow]:
    """upcoming soonest first; past most recent first (both by start time, then id)."""
    stmt = keyset(
        _with_order().where(Booking.user_id == user_id, scope_filter(scope, now)),
        [Booking.start_at, Booking.id],
        limit=limit,
        cursor=cursor,
        descending=scope != "upcoming",
    )
    rows: list[BookingRow] = [(r[0], r[1], r[2]) for r in await session.execute(stmt)]
    return page_of(rows, limit, lambda r: (r[0].start_at, r[0].id))


async def for_order(session: AsyncSession, order_id: uuid.UUID) -> list[Booking]:
    rows = await session.execute(
        select(Booking).where(Booking.order_id == order_id).order_by(Booking.start_at, Booking.id)
    )
    return list(rows.scalars())
