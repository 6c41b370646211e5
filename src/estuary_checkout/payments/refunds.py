"""Refunds recorded on orders (from our own automatic refunds and from Stripe's events)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.orders.models import Order
from estuary_checkout.payments.gateway import RefundInfo
from estuary_checkout.payments.models import Refund


async def record(session: AsyncSession, order: Order, refund: RefundInfo, *, reason: str | None) -> None:
    now = utcnow()
    stmt = upsert_insert(session, Refund).values(
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


async def sync_order_refunds(session: AsyncSession, order: Order, refunds: list[RefundInfo]) -> str:
    """Record Stripe's refunds on the order and move it to refunded / partially_refunded."""
    from estuary_checkout.orders import repository as orders_repo

    for refund in refunds:
        await record(session, order, refund, reason=None)
    refunded = min(order.total_cents, sum(r.amount for r in refunds if r.status == "succeeded"))
    if refunded <= 0 or order.status not in ("completed", "partially_refunded", "refunded"):
        return order.status
    new_status = "refunded" if refunded >= order.total_cents else "partially_refunded"
    await orders_repo.transition(
        session,
        order.id,
        from_=("completed", "partially_refunded", "refunded"),
        to=new_status,
        refunded_cents=refunded,
        payment_status=new_status,
    )
    return new_status
