"""An operator's refund of an order (SPEC 11.4)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from estuary_checkout.bookings import errors as booking_errors
from estuary_checkout.deps import AdminActor, AdminUser, DbSession, RequiredIdempotencyKey, State
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.idempotency import service as idempotency
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.orders.errors import OrderNotFound
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentProviderUnavailable
from estuary_checkout.refunds import operator
from estuary_checkout.refunds.errors import OrderNotRefundable, RefundExceedsRefundable
from estuary_checkout.refunds.schemas import AdminRefundRequest, AdminRefundResult

router = APIRouter(prefix=API_PREFIX, tags=["admin"])


@router.post(
    "/admin/orders/{order_id}/refunds",
    status_code=201,
    response_model=AdminRefundResult,
    responses=error_responses(
        OrderNotFound,
        OrderNotRefundable,
        RefundExceedsRefundable,
        booking_errors.CancelWindowClosed,
        booking_errors.BookingNotCancelable,
        PaymentProviderUnavailable,
        IdempotencyKeyReused,
        IdempotencyInProgress,
        Forbidden,
    ),
)
async def refund_order(
    order_id: uuid.UUID,
    body: AdminRefundRequest,
    admin: AdminUser,
    actor: AdminActor,
    session: DbSession,
    state: State,
    idempotency_key: RequiredIdempotencyKey,
) -> Response:
    """Refund part or all of a paid order to the card or as store credit (replay-safe by Idempotency-Key)."""
    stored = await idempotency.run(
        state.session_factory,
        session,
        user_id=admin.id,
        route=f"admin/orders/{order_id}/refunds",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        status_code=201,
        work=lambda: operator.refund_order(
            session, state.gateway, admin, order_id, body, idempotency_key=idempotency_key, actor=actor
        ),
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")
