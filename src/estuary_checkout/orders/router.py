from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from estuary_checkout.coupons import errors as coupon_errors
from estuary_checkout.credits.errors import InsufficientCredit
from estuary_checkout.deps import CurrentUser, DbSession, IdempotencyKey, State, app_state, rate_limit
from estuary_checkout.errors import RateLimited, error_responses
from estuary_checkout.idempotency import service as idempotency
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.orders import errors as e
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders import status as order_status
from estuary_checkout.orders.schemas import (
    CheckoutCreated,
    CheckoutRequest,
    OrderPayment,
    OrderStatus,
    PriceQuote,
    StatusRequest,
)
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentFailed, PaymentMethodNotFound, PaymentProviderUnavailable
from estuary_checkout.pricing.errors import AmountTooLarge, AmountTooSmall, CurrencyNotChargeable

router = APIRouter(prefix=API_PREFIX, tags=["checkout"])

CART_ERRORS = (
    e.ServiceNotFound,
    e.CheckoutTypeMismatch,
    e.PractitionerMismatch,
    e.ServiceNotPurchasable,
    e.CurrencyMismatch,
    e.TimesRequired,
    e.StartInPast,
    e.InvalidDuration,
    e.OutsideAvailability,
    e.InvalidChildSelection,
    e.QuantityOutOfRange,
    AmountTooSmall,
    AmountTooLarge,
    CurrencyNotChargeable,
    coupon_errors.CouponNotFound,
    coupon_errors.CouponInactive,
    coupon_errors.CouponNotStarted,
    coupon_errors.CouponExpired,
    coupon_errors.CouponMinimumNotMet,
    coupon_errors.CouponNotApplicable,
    coupon_errors.CouponExhausted,
    coupon_errors.CouponAlreadyUsed,
)


@router.post(
    "/checkout/create",
    status_code=201,
    response_model=CheckoutCreated,
    responses=error_responses(
        *CART_ERRORS,
        e.SlotUnavailable,
        e.TooManyPendingCheckouts,
        e.PassUnavailable,
        InsufficientCredit,
        PaymentFailed,
        PaymentMethodNotFound,
        PaymentProviderUnavailable,
        IdempotencyKeyReused,
        IdempotencyInProgress,
        RateLimited,
    ),
    dependencies=[rate_limit("checkout_create")],
)
async def create_checkout(
    body: CheckoutRequest,
    user: CurrentUser,
    session: DbSession,
    state: State,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an order for the cart, hold its slots, credit and coupon, and a PaymentIntent to pay it."""
    if body.coupon_code:
        state.rate_limiter.enforce("coupon_attempt", user.id)
    order_id = orders_service.order_id_for(user.id, idempotency_key)
    stored = await idempotency.run(
        state.session_factory,
        session,
        user_id=user.id,
        route="checkout/create",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        status_code=201,
        work=lambda: orders_service.create_checkout(
            session, state.settings, state.gateway, user, body, order_id=order_id
        ),
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")


@router.post(
    "/checkout/calculate-price",
    response_model=PriceQuote,
    responses=error_responses(*CART_ERRORS, RateLimited),
)
async def calculate_price(body: CheckoutRequest, user: CurrentUser, request: Request) -> Response:
    """Price a cart exactly as create would, writing nothing and calling no one."""
    state = app_state(request)  # not the State dependency: one less to solve on the hottest route
    if body.coupon_code:
        state.rate_limiter.enforce("coupon_attempt", user.id)
    # read-only: a bare connection (no ORM session: ~10 % of a quote), back in the pool (its
    # read transaction rolled back) before the response is serialized
    async with state.engine.connect() as conn:
        quote = await orders_service.quote(conn, state.settings, user, body, catalog=state.catalog_cache)
    # serialized once here: the quote is built by our own code as a PriceQuote, so FastAPI's
    # second validation of the return value would only repeat the work (response_model stays
    # for the schema; tests check the body against it)
    return Response(quote.model_dump_json(), media_type="application/json")


@router.get(
    "/orders/{order_id}/payment",
    tags=["orders"],
    response_model=OrderPayment,
    responses=error_responses(e.OrderNotFound, PaymentProviderUnavailable),
)
async def order_payment(
    order_id: uuid.UUID, user: CurrentUser, session: DbSession, state: State
) -> OrderPayment:
    """Take the payment of the caller's own open order (the hosted checkout page): its
    PaymentIntent's client secret for Stripe.js while it can still be paid."""
    return await order_status.payment_of(session, state.gateway, user, order_id)


@router.post("/checkout/status", response_model=OrderStatus, responses=error_responses(e.OrderNotFound))
async def checkout_status(body: StatusRequest, user: CurrentUser, session: DbSession) -> OrderStatus:
    """An order's status, found by order id, payment intent id or checkout session id (caller's own only)."""
    return await order_status.get_status(session, user, body)
