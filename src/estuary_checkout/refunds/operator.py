"""An operator's refund of an order (SPEC 11.4): any amount up to what is left, to the card or as
store credit, optionally canceling some of its bookings (their slots freed, pass sessions back,
workflows told; the amount is the operator's, not the policy's)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit_service
from estuary_checkout.bookings import changes as booking_changes
from estuary_checkout.bookings import repository as bookings_repo
from estuary_checkout.errors import Unprocessable
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.orders.errors import OrderNotFound
from estuary_checkout.orders.models import Order
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.refunds import service
from estuary_checkout.refunds.errors import OrderNotRefundable, RefundExceedsRefundable
from estuary_checkout.refunds.schemas import AdminRefundRequest, AdminRefundResult, Refundable, RefundPublic
from estuary_checkout.users.models import User


def _money(order: Order) -> dict[str, object]:
    return {
        "status": order.status,
        "refunded_cents": order.refunded_cents,
        "refund_from_card_cents": order.refund_from_card_cents,
        "refund_from_credit_cents": order.refund_from_credit_cents,
    }


async def refund_order(
    session: AsyncSession,
    gateway: StripeGateway,
    admin: User,
    order_id: uuid.UUID,
    body: AdminRefundRequest,
    *,
    idempotency_key: str,
    actor: audit_service.Actor,
) -> AdminRefundResult:
    """The refund, and its one audit row (entity "order") in the same transaction."""
    order = await orders_repo.get(session, order_id, for_update=True)
    if order is None:
        raise OrderNotFound(details={"order_id": str(order_id)})
    before = _money(order)
    if order.status not in service.PAID_STATUSES:
        raise OrderNotRefundable(details={"order_id": str(order_id), "status": order.status})
    left = service.refundable(order)
    if body.to == "card":
        from_card, from_credit = body.amount_cents, 0
    else:  # store credit: what credit paid first, then what the card paid
        from_credit = min(body.amount_cents, left.credit_cents)
        from_card = body.amount_cents - from_credit
    if from_card > left.card_cents or from_credit > left.credit_cents:
        raise RefundExceedsRefundable(details={"field": "amount_cents", "refundable": left.as_dict()})

    canceled = []
    for n, booking_id in enumerate(body.cancel_booking_ids or []):
        booking = await bookings_repo.get(session, booking_id)
        if booking is None or booking.order_id != order.id:
            raise Unprocessable(
                "That booking is not part of this order",
                code="BOOKING_NOT_IN_ORDER",
                details={"field": f"cancel_booking_ids[{n}]", "booking_id": booking_id},
            )
        if booking.status != "canceled":
            await booking_changes.cancel(
                session,
                gateway,
                booking,
                canceled_by="admin",
                reason=body.note or body.reason,
                actor_sub=admin.external_id,
                refund=False,
            )
        canceled.append(booking_id)

    rows = await service.give_back(
        session,
        gateway,
        order,
        key=f"admin:{order.id}:{admin.id}:{idempotency_key}",
        from_card=from_card,
        from_credit=from_credit,
        card_to_credit=body.to == "credit",
        reason=service.Reason(body.reason, created_by="admin", note=body.note, actor_sub=admin.external_id),
    )
    fresh = await orders_repo.get(session, order.id)
    assert fresh is not None
    left = service.refundable(fresh)
    await audit_service.record(
        session,
        actor,
        action="refund",
        entity="order",
        entity_id=str(order.id),
        before=before,
        after={
            **_money(fresh),
            "refund_ids": [r.id for r in rows],
            "amount_cents": body.amount_cents,
            "to": body.to,
            "reason": body.reason,
            "canceled_booking_ids": canceled,
        },
    )
    return AdminRefundResult(
        order_id=fresh.id,
        status=fresh.status,
        refunded_cents=fresh.refunded_cents,
        refundable=Refundable(card_cents=left.card_cents, credit_cents=left.credit_cents),
        refunds=[RefundPublic.of(r) for r in rows],
        canceled_booking_ids=canceled,
    )
