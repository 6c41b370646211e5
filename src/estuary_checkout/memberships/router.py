"""Client routes of memberships (SPEC 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from estuary_checkout.deps import CurrentUser, DbSession, IdempotencyKey, ListCursor, ListLimit, State
from estuary_checkout.errors import error_responses
from estuary_checkout.idempotency import service as idempotency
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.memberships import plans, service
from estuary_checkout.memberships.errors import (
    MembershipEnded,
    MembershipExists,
    MembershipNotFound,
    PaymentMethodRequired,
    PlanCurrencyNotOffered,
    PlanInactive,
    PlanNotFound,
)
from estuary_checkout.memberships.schemas import (
    CancelRequest,
    MembershipCreate,
    MembershipCreated,
    MembershipView,
    PlanPublic,
)
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentFailed, PaymentMethodNotFound, PaymentProviderUnavailable

router = APIRouter(prefix=API_PREFIX, tags=["memberships"])
MembershipId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/membership-plans", response_model=Page[PlanPublic], responses=error_responses(InvalidCursor))
async def list_plans(
    _user: CurrentUser, session: DbSession, limit: ListLimit = DEFAULT_LIMIT, cursor: ListCursor = None
) -> Page[PlanPublic]:
    """The plans on offer, with their price in each currency."""
    page = await plans.list_plans_public(session, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.post(
    "/memberships",
    status_code=201,
    response_model=MembershipCreated,
    responses=error_responses(
        PlanNotFound,
        PlanInactive,
        PlanCurrencyNotOffered,
        PaymentMethodRequired,
        MembershipExists,
        PaymentFailed,
        PaymentMethodNotFound,
        PaymentProviderUnavailable,
        IdempotencyKeyReused,
        IdempotencyInProgress,
    ),
)
async def subscribe(
    body: MembershipCreate,
    user: CurrentUser,
    session: DbSession,
    state: State,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Subscribe to a plan: confirm the first invoice with `client_secret`, or pass a saved card."""
    stored = await idempotency.run(
        state.session_factory,
        session,
        user_id=user.id,
        route="memberships/create",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        status_code=201,
        work=lambda: service.subscribe(session, state.settings, state.gateway, user, body),
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")


@router.get("/memberships", response_model=Page[MembershipView], responses=error_responses(InvalidCursor))
async def list_memberships(
    user: CurrentUser, session: DbSession, limit: ListLimit = DEFAULT_LIMIT, cursor: ListCursor = None
) -> Page[MembershipView]:
    """The caller's memberships, newest first, with their credits."""
    page = await service.list_for_user(session, user.id, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.get(
    "/memberships/{membership_id}",
    response_model=MembershipView,
    responses=error_responses(MembershipNotFound),
)
async def get_membership(
    membership_id: MembershipId, user: CurrentUser, session: DbSession
) -> MembershipView:
    """One of the caller's memberships."""
    return await service.get_for_user(session, user, membership_id)


@router.post(
    "/memberships/{membership_id}/cancel",
    response_model=MembershipView,
    responses=error_responses(MembershipNotFound, PaymentProviderUnavailable),
)
async def cancel_membership(
    membership_id: MembershipId,
    user: CurrentUser,
    session: DbSession,
    state: State,
    body: Annotated[CancelRequest | None, Body()] = None,
) -> MembershipView:
    """Cancel at the period end (default) or now; canceling an ended membership changes nothing."""
    at_period_end = body.at_period_end if body is not None else True
    return await service.cancel(session, state.gateway, user, membership_id, at_period_end=at_period_end)


@router.post(
    "/memberships/{membership_id}/resume",
    response_model=MembershipView,
    responses=error_responses(MembershipNotFound, MembershipEnded, PaymentProviderUnavailable),
)
async def resume_membership(
    membership_id: MembershipId, user: CurrentUser, session: DbSession, state: State
) -> MembershipView:
    """Keep a membership that was set to cancel at the period end."""
    return await service.resume(session, state.gateway, user, membership_id)
