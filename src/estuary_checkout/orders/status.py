"""Reading an order's state for its owner: `POST /checkout/status` and what a payment page
needs to take the payment of an open order (`GET /orders/{order_id}/payment`)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.orders import repository
from estuary_checkout.orders.errors import OrderNotFound
from estuary_checkout.orders.schemas import OrderPayment, OrderStatus, StatusRequest
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.users.models import User


async def payment_of(
    session: AsyncSession, gateway: StripeGateway, user: User, order_id: uuid.UUID
) -> OrderPayment:
    """The caller's own order and, while it can still be paid, its PaymentIntent's client secret
    (read from Stripe: the secret is never stored here)."""
    order = await repository.get(session, order_id)
    if order is None or order.user_id != user.id:
        raise OrderNotFound()
    payable = order.status in repository.OPEN_STATUSES and order.payment_intent_id is not None
    secret = None
    if payable:
        intent = await gateway.retrieve_intent(order.payment_intent_id)  # type: ignore[arg-type]
        payable = intent.status not in ("succeeded", "canceled", "processing")
        secret = intent.client_secret if payable else None
    return OrderPayment(
        order_id=order.id,
        status=order.status,
        total_cents=order.total_cents,
        currency=order.currency,
        expires_at=order.expires_at if order.status in repository.OPEN_STATUSES else None,
        requires_payment=payable,
        payment_intent_id=order.payment_intent_id,
        client_secret=secret,
    )


async def get_status(session: AsyncSession, user: User, body: StatusRequest) -> OrderStatus:
    order = await repository.get_for_user(
        session,
        user.id,
        order_id=body.order_id,
        payment_intent_id=body.payment_intent_id,
        checkout_session_id=body.checkout_session_id,
    )
    if order is None:
        raise OrderNotFound()
    return OrderStatus(
        order_id=order.id,
        status=order.status,
        payment_status=order.payment_status,
        booking_ids=await repository.booking_ids(session, order.id),
        created_at=order.created_at,
        completed_at=order.completed_at,
        expires_at=order.expires_at if order.status in repository.OPEN_STATUSES else None,
        total_cents=order.total_cents,
        currency=order.currency,
    )
