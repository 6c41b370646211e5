"""Orders after the sale: a client's own orders (SPEC 11.1) and the operator's search and detail
with its timeline (SPEC 11.4). Read-only. A client asking for someone else's order gets exactly
what a missing order gets (404 ORDER_NOT_FOUND)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings import history_service as bookings_history
from estuary_checkout.db.base import utcnow
from estuary_checkout.errors import Unprocessable
from estuary_checkout.orders import history_repository as repository
from estuary_checkout.orders import timeline, views
from estuary_checkout.orders.errors import OrderNotFound
from estuary_checkout.orders.history_schemas import (
    AdminOrderDetail,
    AdminOrderSummary,
    CreditMovementView,
    OrderDetail,
    OrderStatusName,
    OrderSummary,
    OrderUser,
    PaymentView,
    RefundView,
)
from estuary_checkout.orders.models import Order
from estuary_checkout.pagination import PageOf
from estuary_checkout.passes import service as passes_service
from estuary_checkout.users.models import User


class InvalidCreatedRange(Unprocessable):
    code = "INVALID_RANGE"
    message = "created_to must be after created_from"


def summary(order: Order) -> OrderSummary:
    return OrderSummary(**_summary_fields(order))


def _summary_fields(order: Order) -> dict[str, object]:
    return views.summary_fields(order, order.lines)


def _user(user: User) -> OrderUser:
    return OrderUser(id=user.id, email=user.email, external_id=user.external_id)


async def list_for_user(
    session: AsyncSession, user_id: int, *, status: OrderStatusName | None, limit: int, cursor: str | None
) -> PageOf[OrderSummary]:
    page = await repository.page_for_user(session, user_id, status=status, limit=limit, cursor=cursor)
    return page.map(summary)


async def _detail(session: AsyncSession, order: Order) -> tuple[dict[str, object], timeline.OrderFacts]:
    """The client detail's fields, and the rows they came from (the operator's timeline reads them too)."""
    now = utcnow()
    bookings = await bookings_history.of_order(session, order.id)
    refunds = await repository.refunds(session, order.id)
    ledger = await repository.ledger(session, order.id)
    fields = _summary_fields(order) | {
        "subtotal_cents": order.subtotal_cents,
        "discount_cents": order.discount_cents,
        "tax_cents": order.tax_cents,
        "credits_applied_cents": order.credits_applied_cents,
        "bookings": bookings_history.views_for_order(bookings, order, order.lines, now),
        "passes": await passes_service.granted_by_order(session, order.id),
        # from the order as this service recorded it: no Stripe call on a read
        "payments": [
            PaymentView(
                payment_intent_id=order.payment_intent_id,
                amount_cents=order.total_cents,
                status=order.payment_status,
            )
        ]
        if order.payment_intent_id
        else [],
        "refunds": [
            RefundView(
                refund_id=r.id,
                amount_cents=r.amount_cents,
                to=r.destination,  # type: ignore[arg-type]
                status=r.status,
                reason=r.reason,
                created_at=r.created_at,
            )
            for r in refunds
        ],
        "credit_movements": [
            CreditMovementView(
                kind=row.kind,
                amount_cents=row.amount_cents,
                balance_delta_cents=row.balance_delta_cents,
                created_at=row.created_at,
            )
            for row in ledger
        ],
    }
    return fields, timeline.OrderFacts(order=order, bookings=bookings, refunds=refunds, ledger=ledger)


async def get_for_user(session: AsyncSession, user_id: int, order_id: uuid.UUID) -> OrderDetail:
    order = await repository.get(session, order_id, user_id=user_id)
    if order is None:
        raise OrderNotFound()
    fields, _ = await _detail(session, order)
    return OrderDetail.model_validate(fields)


async def search(
    session: AsyncSession,
    *,
    user_email: str | None,
    status: OrderStatusName | None,
    created_from: datetime | None,
    created_to: datetime | None,
    limit: int,
    cursor: str | None,
) -> PageOf[AdminOrderSummary]:
    """Any user's orders, newest first; created_from inclusive, created_to exclusive."""
    if created_from is not None and created_to is not None and created_to <= created_from:
        raise InvalidCreatedRange(details={"field": "created_to"})
    page = await repository.search(
        session,
        user_email=user_email,
        status=status,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )
    return page.map(lambda row: AdminOrderSummary(**_summary_fields(row[0]), user=_user(row[1])))


async def get_for_operator(session: AsyncSession, order_id: uuid.UUID) -> AdminOrderDetail:
    order = await repository.get(session, order_id)
    if order is None:
        raise OrderNotFound()
    fields, facts = await _detail(session, order)
    user = await repository.user(session, order.user_id)
    return AdminOrderDetail.model_validate(
        fields | {"user": _user(user), "timeline": await timeline.build(session, facts)}
    )
