"""Refund queries. No commits and no rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.orders.models import Order
from estuary_checkout.refunds.models import Refund

# the paying method's column on the order and what that method paid
_USED = {"card": Order.refund_from_card_cents, "credit": Order.refund_from_credit_cents}
_PAID = {"card": Order.total_cents, "credit": Order.credits_applied_cents}


async def reserve(session: AsyncSession, order_id: uuid.UUID, source: str, amount: int) -> bool:
    """Count `amount` of `source`'s payment as given back, only if that stays within what the
    method paid: the money-never-leaks guard (a conditional UPDATE, backed by CHECKs). On
    PostgreSQL a concurrent reservation waits for this row lock, then re-checks the sum."""
    used, paid = _USED[source], _PAID[source]
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, used + amount <= paid)
        .values({used: used + amount, Order.updated_at: utcnow()})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def insert_once(session: AsyncSession, **values: Any) -> Refund | None:
    """Insert the refund unless its key exists; the new row, or None if the key was taken."""
    now = utcnow()
    stmt = (
        upsert_insert(session, Refund)
        .values(created_at=now, updated_at=now, **values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Refund.id)
    )
    refund_id = (await session.execute(stmt)).scalar_one_or_none()
    return None if refund_id is None else await get(session, refund_id)


async def get(session: AsyncSession, refund_id: int) -> Refund | None:
    return (
        await session.execute(
            select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def by_key(session: AsyncSession, key: str) -> Refund | None:
    return (
        await session.execute(
            select(Refund).where(Refund.key == key).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def with_key_prefix(session: AsyncSession, prefix: str) -> list[Refund]:
    rows = await session.execute(
        select(Refund).where(Refund.key.startswith(prefix, autoescape=True)).order_by(Refund.id)
    )
    return list(rows.scalars())


async def by_stripe_id(session: AsyncSession, stripe_refund_id: str) -> Refund | None:
    return (
        await session.execute(
            select(Refund)
            .where(Refund.stripe_refund_id == stripe_refund_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def for_order(session: AsyncSession, order_id: uuid.UUID) -> list[Refund]:
    rows = await session.execute(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
    return list(rows.scalars())


async def succeeded_total(session: AsyncSession, order_id: uuid.UUID) -> int:
    total = await session.execute(
        select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
            Refund.order_id == order_id, Refund.status == "succeeded"
        )
    )
    return int(total.scalar_one())


async def set_status(
    session: AsyncSession,
    refund_id: int,
    *,
    from_: tuple[str, ...],
    to: str,
    failure_reason: str | None = None,
    stripe_refund_id: str | None = None,
) -> bool:
    """Move a refund between statuses; False if it was not in `from_` (another caller moved it)."""
    values: dict[str, Any] = {"status": to, "updated_at": utcnow()}
    if failure_reason is not None:
        values["failure_reason"] = failure_reason
    if stripe_refund_id is not None:
        values["stripe_refund_id"] = stripe_refund_id
    result = await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status.in_(from_))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def card_refunds_pending(
    session: AsyncSession, *, older_than: datetime, limit: int = 200
) -> list[Refund]:
    """Card refunds Stripe has not finished with, the oldest first (for the reconciler)."""
    rows = await session.execute(
        select(Refund)
        .where(
            Refund.destination == "card",
            Refund.status.in_(("pending", "requires_action")),
            Refund.updated_at < older_than,
        )
        .order_by(Refund.updated_at)
        .limit(limit)
    )
    return list(rows.scalars())
