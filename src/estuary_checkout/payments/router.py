from __future__ import annotations

from fastapi import APIRouter, Response

from estuary_checkout.deps import CurrentUser, DbSession, IdempotencyKey, SettingsDep, State, rate_limit
from estuary_checkout.errors import RateLimited, error_responses
from estuary_checkout.idempotency import service as idempotency
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.orders.errors import OrderNotFound, PassUnavailable, SlotUnavailable
from estuary_checkout.orders.schemas import ConfirmRequest, ConfirmResult
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments import service as payments_service
from estuary_checkout.payments.errors import (
    PaymentFailed,
    PaymentMethodNotFound,
    PaymentMismatch,
    PaymentProviderUnavailable,
)
from estuary_checkout.payments.schemas import PaymentMethodList, PublicConfig

router = APIRouter(prefix=API_PREFIX, tags=["payments"])


@router.post(
    "/payment/confirm",
    response_model=ConfirmResult,
    responses=error_responses(
        OrderNotFound,
        PaymentMismatch,
        PaymentFailed,
        PaymentMethodNotFound,
        PaymentProviderUnavailable,
        SlotUnavailable,
        PassUnavailable,
        IdempotencyKeyReused,
        IdempotencyInProgress,
        RateLimited,
    ),
    dependencies=[rate_limit("payment_confirm")],
)
async def confirm_payment(
    body: ConfirmRequest,
    user: CurrentUser,
    session: DbSession,
    state: State,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Check the PaymentIntent at Stripe and fulfil the order (exactly once, however often called)."""
    stored = await idempotency.run(
        state.session_factory,
        session,
        user_id=user.id,
        route="payment/confirm",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        status_code=200,
        work=lambda: payments_service.confirm_payment(session, state.gateway, user, body),
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")


@router.get(
    "/payment-methods",
    response_model=PaymentMethodList,
    responses=error_responses(PaymentProviderUnavailable),
)
async def payment_methods(user: CurrentUser, session: DbSession, state: State) -> PaymentMethodList:
    """The caller's cards saved at Stripe."""
    return await payments_service.list_payment_methods(session, state.gateway, user)


@router.get("/config", response_model=PublicConfig, responses=error_responses())
async def public_config(user: CurrentUser, settings: SettingsDep) -> PublicConfig:
    """What the browser needs for Stripe: publishable key, Stripe.js URL, currencies (dev: the emulator URL)."""
    return payments_service.public_config(settings)
