"""Queries behind order history (client) and order search and timelines (operators). Read-only:
no commits, no rules. The timeline reads other domains' rows (events, outbox, notices) for one
order, each by an indexed column."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from estuary_checkout.bookings.models import BookingEvent
from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.orders.models import Order
from estuary_checkout.pagination import PageOf, keyset, page_of
from estuary_checkout.refunds.models import Refund
from estuary_checkout.users.models import User
from estuary_checkout.webhooks.models import StripeEvent
from estuary_checkout.workflows.models import Notification, OutboxMessage

NEWEST_FIRST = (Order.created_at, Order.id)


async def page_for_user(
    session: AsyncSession, user_id: int, *, status: str | None, limit: int, cursor: str | None
) -> PageOf[Order]:
    stmt = select(Order).where(Order.user_id == user_id).options(selectinload(Order.lines))
    if status is not None:
        stmt = stmt.where(Order.status == status)
    rows = list((await session.execute(keyset(stmt, NEWEST_FIRST, limit=limit, cursor=cursor))).scalars())
    return page_of(rows, limit, lambda o: (o.created_at, o.id))


async def search(
    session: AsyncSession,
    *,
    user_email: str | None,
    status: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    limit: int,
    cursor: str | None,
) -> PageOf[tuple[Order, User]]:
    stmt = select(Order, User).join(User, User.id == Order.user_id).options(selectinload(Order.lines))
    if user_email is not None:
        stmt = stmt.where(func.lower(User.email) == user_email.lower())
    if status is not None:
        stmt = stmt.where(Order.status == status)
    if created_from is not None:
        stmt = stmt.where(Order.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Order.created_at < created_to)
    result = await session.execute(keyset(stmt, NEWEST_FIRST, limit=limit, cursor=cursor))
    rows = [(r[0], r[1]) for r in result]
    return page_of(rows, limit, lambda r: (r[0].created_at, r[0].id))


async def get(session: AsyncSession, order_id: uuid.UUID, *, user_id: int | None = None) -> Order | None:
    """The order with its lines; with `user_id`, only if it is that user's."""
    stmt = select(Order).where(Order.id == order_id).options(selectinload(Order.lines))
    if user_id is not None:
        stmt = stmt.where(Order.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def user(session: AsyncSession, user_id: int) -> User:
    return (await session.execute(select(User).where(User.id == user_id))).scalar_one()


async def refunds(session: AsyncSession, order_id: uuid.UUID) -> list[Refund]:
    rows = await session.execute(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
    return list(rows.scalars())


async def ledger(session: AsyncSession, order_id: uuid.UUID) -> list[CreditLedgerEntry]:
    rows = await session.execute(
        select(CreditLedgerEntry)
        .where(CreditLedgerEntry.order_id == order_id)
        .order_by(CreditLedgerEntry.created_at, CreditLedgerEntry.id)
    )
    return list(rows.scalars())


async def stripe_events(session: AsyncSession, object_ids: Sequence[str]) -> list[StripeEvent]:
    if not object_ids:
        return []
    rows = await session.execute(
        select(StripeEvent)
        .where(StripeEvent.object_id.in_(list(object_ids)))
        .order_by(StripeEvent.received_at, StripeEvent.id)
    )
    return list(rows.scalars())


async def outbox(session: AsyncSession, workflow_ids: Sequence[str]) -> list[OutboxMessage]:
    """Workflow starts and signals addressed to these workflows. outbox.workflow_id has no index
    yet (workflows/ is being changed elsewhere): this reads the whole outbox, fine for one
    operator's page now, an index to add before the outbox is large (docs/decisions.md)."""
    if not workflow_ids:
        return []
    rows = await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.workflow_id.in_(list(workflow_ids)))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    return list(rows.scalars())


async def notifications(
    session: AsyncSession, *, user_id: int, booking_ids: Sequence[int], order_id: uuid.UUID
) -> list[Notification]:
    """The notices of the order's bookings and those about the order itself (refund notices carry
    `order_id` in their payload); among the user's own notices (indexed by user)."""
    about = [Notification.payload["order_id"].as_string() == str(order_id)]
    if booking_ids:
        about.append(Notification.booking_id.in_(list(booking_ids)))
    rows = await session.execute(
        select(Notification)
        .where(Notification.user_id == user_id, or_(*about))
        .order_by(Notification.created_at, Notification.id)
    )
    return list(rows.scalars())


async def booking_events(session: AsyncSession, booking_ids: Sequence[int]) -> list[BookingEvent]:
    if not booking_ids:
        return []
    rows = await session.execute(
        select(BookingEvent)
        .where(BookingEvent.booking_id.in_(list(booking_ids)))
        .order_by(BookingEvent.at, BookingEvent.id)
    )
    return list(rows.scalars())
