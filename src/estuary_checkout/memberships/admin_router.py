"""Admin routes of membership plans (SPEC 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from estuary_checkout.deps import AdminActor, AdminUser, DbSession, ListCursor, ListLimit, State
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.memberships import plans
from estuary_checkout.memberships.errors import PlanNotFound
from estuary_checkout.memberships.schemas import PlanAdmin, PlanCreate, PlanUpdate
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentProviderUnavailable
from estuary_checkout.problems import InvalidFields

router = APIRouter(prefix=API_PREFIX, tags=["admin"])
PlanId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/admin/membership-plans",
    status_code=201,
    response_model=PlanAdmin,
    responses=error_responses(Forbidden, InvalidFields, PaymentProviderUnavailable),
)
async def create_plan(body: PlanCreate, actor: AdminActor, session: DbSession, state: State) -> PlanAdmin:
    """A membership plan: a Stripe Product with a recurring Price per currency."""
    return await plans.create_plan(session, state.gateway, actor, body)


@router.get(
    "/admin/membership-plans",
    response_model=Page[PlanAdmin],
    responses=error_responses(Forbidden, InvalidCursor),
)
async def list_plans(
    _admin: AdminUser, session: DbSession, limit: ListLimit = DEFAULT_LIMIT, cursor: ListCursor = None
) -> Page[PlanAdmin]:
    """Every plan, active or not, oldest first."""
    page = await plans.list_plans_admin(session, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.get(
    "/admin/membership-plans/{plan_id}",
    response_model=PlanAdmin,
    responses=error_responses(Forbidden, PlanNotFound),
)
async def get_plan(plan_id: PlanId, _admin: AdminUser, session: DbSession) -> PlanAdmin:
    """One plan with its Stripe ids."""
    return await plans.get_plan(session, plan_id)


@router.patch(
    "/admin/membership-plans/{plan_id}",
    response_model=PlanAdmin,
    responses=error_responses(Forbidden, PlanNotFound, InvalidFields, PaymentProviderUnavailable),
)
async def update_plan(
    plan_id: PlanId, body: PlanUpdate, actor: AdminActor, session: DbSession, state: State
) -> PlanAdmin:
    """Change a plan; new prices apply to new members, current members keep theirs."""
    return await plans.update_plan(session, state.gateway, actor, plan_id, body)
