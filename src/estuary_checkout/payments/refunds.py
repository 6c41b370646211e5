"""Refunds recorded on orders (from our own automatic refunds and from Stripe's events)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.orders.models import Order
from estuary_checkout.payments.gateway import RefundInfo
from estuary_checkout.payments.models import Refund


async def record(session: AsyncSession, order: Order, refund: RefundInfo, *, reason: str | None) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(Refund).values(
        stripe_refund_id=refund.id,
        order_id=order.id,
        amount_cents=refund.amount,
        currency=refund.currency,
        status=refund.status,
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["stripe_refund_id"], set_={"status": refund.status, "updated_at": now}
        )
    )


async def refunded_total(session: AsyncSession, order: Order) -> int:
    value = (
        await session.execute(
            select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
                Refund.order_id == order.id, Refund.status.in_(("succeeded", "pending"))
            )
        )
    ).scalar_one()
    return int(value)
