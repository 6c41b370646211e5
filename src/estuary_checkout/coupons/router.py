"""Admin routes of coupons (SPEC 10.2); checkout applies them through the orders routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from estuary_checkout.coupons import service as coupons_service
from estuary_checkout.coupons.errors import CouponCodeTaken, UnknownCoupon
from estuary_checkout.coupons.schemas import CouponAdmin, CouponCreate, CouponUpdate
from estuary_checkout.deps import AdminActor, AdminUser, DbSession, ListCursor, ListLimit
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["admin"])

Code = Annotated[str, Path(min_length=1, max_length=64, description="case-insensitive")]


@router.post(
    "/admin/coupons",
    status_code=201,
    response_model=CouponAdmin,
    responses=error_responses(Forbidden, CouponCodeTaken),
)
async def create_coupon(body: CouponCreate, actor: AdminActor, session: DbSession) -> CouponAdmin:
    """Create a coupon: percent_off, or amount_off per currency."""
    return await coupons_service.create_coupon(session, actor, body)


@router.get(
    "/admin/coupons", response_model=Page[CouponAdmin], responses=error_responses(Forbidden, InvalidCursor)
)
async def list_coupons(
    _admin: AdminUser, session: DbSession, limit: ListLimit = DEFAULT_LIMIT, cursor: ListCursor = None
) -> Page[CouponAdmin]:
    """Coupons, newest first, active or not."""
    return await coupons_service.list_coupons(session, limit=limit, cursor=cursor)


@router.get(
    "/admin/coupons/{code}", response_model=CouponAdmin, responses=error_responses(Forbidden, UnknownCoupon)
)
async def get_coupon(code: Code, _admin: AdminUser, session: DbSession) -> CouponAdmin:
    """One coupon with its redemption count."""
    return await coupons_service.get_coupon(session, code)


@router.patch(
    "/admin/coupons/{code}", response_model=CouponAdmin, responses=error_responses(Forbidden, UnknownCoupon)
)
async def update_coupon(code: Code, body: CouponUpdate, actor: AdminActor, session: DbSession) -> CouponAdmin:
    """Change the fields the body sends; retire with `is_active: false`."""
    return await coupons_service.update_coupon(session, actor, code, body)
