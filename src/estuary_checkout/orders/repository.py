from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings.models import Booking
from estuary_checkout.db.base import utcnow
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.users.models import User

OPEN_STATUSES = ("pending_payment", "processing")
# Paid (or given up) for good: no news about the PaymentIntent can change these orders
# (`orders.service.apply_intent` is a no-op for them), so nobody needs to ask Stripe again.
SETTLED_STATUSES = ("completed", "failed", "refunded", "partially_refunded")


class ConfirmedBooking(NamedTuple):
    id: int
    user_id: int
    start_at: datetime
    end_at: datetime


async def lock_user(session: AsyncSession, user_id: int, now: datetime) -> tuple[User, int]:
    """Serialize one user's checkouts (pending-order cap, per-user coupon limit); return the
    user's current row (its Stripe customer may have been set by another replica) and how many
    unpaid, unexpired orders the user holds, counted under the lock, in one statement.

    PostgreSQL: a row lock on the user alone. SQLite: every transaction already holds the write lock.
    """
    open_orders = (
        select(func.count())
        .select_from(Order)
        .where(Order.user_id == user_id, Order.status == "pending_payment", Order.expires_at > now)
        .scalar_subquery()
    )
    stmt = (
        select(User, open_orders)
        .where(User.id == user_id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(stmt)).one()
    return row[0], int(row[1])


async def get_for_user(
    session: AsyncSession,
    user_id: int,
    *,
    order_id: uuid.UUID | None = None,
    payment_intent_id: str | None = None,
    checkout_session_id: str | None = None,
) -> Order | None:
    stmt = select(Order).where(Order.user_id == user_id)
    if order_id is not None:
        stmt = stmt.where(Order.id == order_id)
    if payment_intent_id is not None:
        stmt = stmt.where(Order.payment_intent_id == payment_intent_id)
    if checkout_session_id is not None:
        stmt = stmt.where(Order.checkout_session_id == checkout_session_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def for_user_with_customer(
    session: AsyncSession, user_id: int, payment_intent_id: str
) -> tuple[Order, str | None] | None:
    """The caller's order paid by this intent, with the caller's current Stripe customer id."""
    row = (
        await session.execute(
            select(Order, User.stripe_customer_id)
            .join(User, User.id == Order.user_id)
            .where(Order.user_id == user_id, Order.payment_intent_id == payment_intent_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def get(session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
    stmt = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_payment_intent(session: AsyncSession, payment_intent_id: str) -> Order | None:
    return (
        await session.execute(select(Order).where(Order.payment_intent_id == payment_intent_id))
    ).scalar_one_or_none()


async def transition(
    session: AsyncSession, order_id: uuid.UUID, *, from_: Sequence[str], to: str, **values: Any
) -> bool:
    """Move the order from one of `from_` to `to`; False if another caller moved it first.

    This conditional UPDATE is the exactly-once guard: on PostgreSQL a concurrent caller blocks
    on the row lock, then re-reads the status and matches nothing.
    """
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(tuple(from_)))
        .values(status=to, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def booking_ids(session: AsyncSession, order_id: uuid.UUID) -> list[int]:
    rows = await session.execute(
        select(Booking.id)
        .where(Booking.order_id == order_id, Booking.status != "canceled")
        .order_by(Booking.id)
    )
    return [int(r) for r in rows.scalars()]


async def stuck(session: AsyncSession, *, created_before: datetime, limit: int = 200) -> list[Order]:
    rows = await session.execute(
        select(Order)
        .where(Order.status.in_(OPEN_STATUSES), Order.created_at < created_before)
        .order_by(Order.created_at)
        .limit(limit)
    )
    return list(rows.scalars())


async def confirm_bookings(
    session: AsyncSession, order_id: uuid.UUID, now: datetime
) -> list[ConfirmedBooking]:
    """Confirm the order's slot-holding bookings; returns those this call confirmed."""
    rows = await session.execute(
        update(Booking)
        .where(Booking.order_id == order_id, Booking.status == "pending_payment")
        .values(status="confirmed", confirmed_at=now, updated_at=now)
        .returning(Booking.id, Booking.user_id, Booking.start_at, Booking.end_at)
        .execution_options(synchronize_session=False)
    )
    return sorted((ConfirmedBooking(*r) for r in rows), key=lambda c: c.id)


async def lines(session: AsyncSession, order_id: uuid.UUID) -> list[OrderLine]:
    rows = await session.execute(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
    )
    return list(rows.scalars())


async def cancel_bookings(
    session: AsyncSession, order_id: uuid.UUID, *, by: str, reason: str, now: datetime
) -> list[Booking]:
    """Cancel the order's slot-holding bookings; returns those canceled (to give pass sessions back)."""
    rows = list(
        (
            await session.execute(
                select(Booking).where(
                    Booking.order_id == order_id, Booking.status.in_(("pending_payment", "confirmed"))
                )
            )
        ).scalars()
    )
    if rows:
        await session.execute(
            update(Booking)
            .where(Booking.id.in_([b.id for b in rows]))
            .values(status="canceled", canceled_by=by, cancel_reason=reason, canceled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return rows


async def revive_bookings(
    session: AsyncSession, order_id: uuid.UUID, *, canceled_by: str, now: datetime
) -> list[Booking]:
    """Put bookings canceled by expiry back to pending_payment; the overlap guard may refuse."""
    rows = list(
        (
            await session.execute(
                select(Booking).where(
                    Booking.order_id == order_id,
                    Booking.status == "canceled",
                    Booking.canceled_by == canceled_by,
                )
            )
        ).scalars()
    )
    for b in rows:
        await session.execute(
            update(Booking)
            .where(Booking.id == b.id)
            .values(
                status="pending_payment",
                canceled_by=None,
                cancel_reason=None,
                canceled_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return rows
