"""Public routes of payment links (SPEC 13.1): the offer (the service's one unauthenticated read,
limited per client address) and a signed-in checkout from it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from estuary_checkout.deps import CurrentUser, DbSession, IdempotencyKey, State, rate_limit
from estuary_checkout.errors import RateLimited, error_responses
from estuary_checkout.idempotency import service as idempotency
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.links import service
from estuary_checkout.links.errors import (
    CouponCodesNotAllowed,
    LinkLimitReached,
    LinkNotFound,
    LinkRestricted,
    LinkUnavailable,
)
from estuary_checkout.links.schemas import LinkCheckout, Offer
from estuary_checkout.orders import errors as order_errors
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders.router import CART_ERRORS
from estuary_checkout.orders.schemas import CheckoutCreated, PriceQuote
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentFailed, PaymentMethodNotFound, PaymentProviderUnavailable

router = APIRouter(prefix=API_PREFIX, tags=["payment links"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get(
    "/links/{slug}",
    response_model=Offer,
    responses=error_responses(LinkNotFound, LinkUnavailable, RateLimited),
)
async def get_offer(slug: str, request: Request, session: DbSession, state: State) -> Offer:
    """The offer behind a link: no sign-in needed. Unknown → 404; inactive, expired or used up →
    410 `LINK_UNAVAILABLE` with the link's own message."""
    state.public_limiter.enforce("link_offer", client_address(request))
    link_id, offer = await service.offer(session, state.settings, slug)
    state.link_views.add(link_id, state.session_factory)
    return offer


@router.post(
    "/links/{slug}/quote",
    response_model=PriceQuote,
    responses=error_responses(
        LinkNotFound, LinkUnavailable, LinkRestricted, CouponCodesNotAllowed, *CART_ERRORS, RateLimited
    ),
)
async def quote_from_link(
    slug: str, body: LinkCheckout, user: CurrentUser, session: DbSession, state: State
) -> PriceQuote:
    """What checking out from the link would cost the caller now (their credit and passes, the
    link's coupon or theirs), writing nothing: the hosted page's price breakdown."""
    if body.coupon_code:
        state.rate_limiter.enforce("coupon_attempt", user.id)
    _link, request = await service.checkout_request(session, user, slug, body)
    return await orders_service.quote(session, state.settings, user, request)


@router.post(
    "/links/{slug}/checkout",
    status_code=201,
    response_model=CheckoutCreated,
    responses=error_responses(
        LinkNotFound,
        LinkUnavailable,
        LinkRestricted,
        LinkLimitReached,
        CouponCodesNotAllowed,
        *CART_ERRORS,
        order_errors.SlotUnavailable,
        order_errors.TooManyPendingCheckouts,
        PaymentFailed,
        PaymentMethodNotFound,
        PaymentProviderUnavailable,
        IdempotencyKeyReused,
        IdempotencyInProgress,
        RateLimited,
    ),
    dependencies=[rate_limit("checkout_create")],
)
async def checkout_from_link(
    slug: str,
    body: LinkCheckout,
    user: CurrentUser,
    session: DbSession,
    state: State,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create the order the link sells (the create response of `/checkout/create`); the link's
    use is reserved in the same transaction and given back if the order expires unpaid."""
    if body.coupon_code:
        state.rate_limiter.enforce("coupon_attempt", user.id)
    order_id = orders_service.order_id_for(user.id, f"link:{idempotency_key}" if idempotency_key else None)

    async def work() -> CheckoutCreated:
        link, request = await service.checkout_request(session, user, slug, body)
        return await orders_service.create_checkout(
            session, state.settings, state.gateway, user, request, order_id=order_id, link=link
        )

    stored = await idempotency.run(
        state.session_factory,
        session,
        user_id=user.id,
        route="links/checkout",
        key=idempotency_key,
        payload=service.request_payload(slug, body),
        status_code=201,
        work=work,
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")
