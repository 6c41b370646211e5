"""Coupons: validated at pricing, reserved with the order, final at fulfilment, released otherwise.

The total limit is a guarded counter (`UPDATE … WHERE redeemed_count < max_redemptions`, backed
by a CHECK); the per-user limit is counted under the caller's user-row lock taken at checkout.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit
from estuary_checkout.audit.service import Actor
from estuary_checkout.coupons import repository, rules
from estuary_checkout.coupons.errors import (
    CouponAlreadyUsed,
    CouponCodeTaken,
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotFound,
    CouponNotStarted,
    UnknownCoupon,
)
from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.coupons.schemas import CouponAdmin, CouponCreate, CouponUpdate
from estuary_checkout.pagination import Page
from estuary_checkout.pricing.service import CouponTerms
from estuary_checkout.problems import Problem, raise_any


def normalize(code: str) -> str:
    return code.strip().upper()


async def validate(
    session: AsyncSession,
    *,
    code: str,
    user_id: int | None,
    checkout_type: str,
    service_ids: set[int],
    subtotal_cents: int,
    currency: str,
    now: datetime,
) -> Coupon:
    coupon = await repository.by_code(session, normalize(code))
    if coupon is None:
        raise CouponNotFound(details={"coupon_code": code})
    details = {"coupon_code": coupon.code}
    if not coupon.is_active:
        raise CouponInactive(details=details)
    if coupon.starts_at is not None and now < coupon.starts_at:
        raise CouponNotStarted(details=details)
    if coupon.ends_at is not None and now >= coupon.ends_at:
        raise CouponExpired(details=details)
    if coupon.allowed_checkout_types and checkout_type not in coupon.allowed_checkout_types:
        raise CouponNotApplicable(details={**details, "reason": "checkout_type"})
    if coupon.allowed_service_ids and not (service_ids & set(coupon.allowed_service_ids)):
        raise CouponNotApplicable(details={**details, "reason": "services"})
    if coupon.kind == "fixed" and currency not in (coupon.amount_off or {}):
        # a fixed amount is per currency (SPEC 14): none for this cart's currency, no discount
        raise CouponNotApplicable(details={**details, "reason": "currency"})
    if subtotal_cents < coupon.min_subtotal_cents:
        raise CouponMinimumNotMet(details={**details, "min_subtotal_cents": coupon.min_subtotal_cents})
    if coupon.max_redemptions is not None and coupon.redeemed_count >= coupon.max_redemptions:
        raise CouponExhausted(details=details)
    if (
        coupon.max_per_user is not None
        and user_id is not None  # None: a price for nobody in particular (a payment link's offer)
        and await repository.user_redemptions(session, coupon.id, user_id) >= coupon.max_per_user
    ):
        raise CouponAlreadyUsed(details=details)
    return coupon


def terms(coupon: Coupon) -> CouponTerms:
    return CouponTerms(
        kind=coupon.kind,
        percent_off=coupon.percent_off,
        amount_off=dict(coupon.amount_off) if coupon.amount_off else None,
        allowed_service_ids=frozenset(coupon.allowed_service_ids) if coupon.allowed_service_ids else None,
    )


async def reserve(
    session: AsyncSession, coupon: Coupon, *, user_id: int, order_id: uuid.UUID, discount_cents: int
) -> None:
    """Take one redemption for the order; the caller holds the user's row lock."""
    if (
        coupon.max_per_user is not None
        and await repository.user_redemptions(session, coupon.id, user_id) >= coupon.max_per_user
    ):
        raise CouponAlreadyUsed(details={"coupon_code": coupon.code})
    if not await repository.take_one(session, coupon.id):
        raise CouponExhausted(details={"coupon_code": coupon.code})
    session.add(
        CouponRedemption(
            coupon_id=coupon.id,
            user_id=user_id,
            order_id=order_id,
            status="reserved",
            discount_cents=discount_cents,
        )
    )
    await session.flush()


async def finalize(session: AsyncSession, order_id: uuid.UUID) -> None:
    await repository.set_redemption_status(session, order_id, from_="reserved", to="final")


async def release(session: AsyncSession, order_id: uuid.UUID) -> None:
    """Give the reservation back (order expired, canceled or failed); a no-op if none or not reserved."""
    redemption = await repository.redemption_for_order(session, order_id)
    if redemption is None:
        return
    if await repository.set_redemption_status(session, order_id, from_="reserved", to="released"):
        await repository.give_back_one(session, redemption.coupon_id)


async def re_reserve(session: AsyncSession, order_id: uuid.UUID) -> bool:
    """For a payment that succeeded after its order expired: take the released redemption again."""
    redemption = await repository.redemption_for_order(session, order_id)
    if redemption is None or redemption.status != "released":
        return True
    if not await repository.take_one(session, redemption.coupon_id):
        return False
    return await repository.set_redemption_status(session, order_id, from_="released", to="reserved")


# --- admin (SPEC 10.2) ---------------------------------------------------------------------


def coupon_admin(c: Coupon) -> CouponAdmin:
    return CouponAdmin(
        code=c.code,
        percent_off=c.percent_off,
        amount_off=dict(c.amount_off) if c.amount_off else None,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        max_redemptions=c.max_redemptions,
        max_per_user=c.max_per_user,
        min_subtotal_cents=c.min_subtotal_cents,
        allowed_checkout_types=list(c.allowed_checkout_types) if c.allowed_checkout_types else None,  # type: ignore[arg-type]
        allowed_service_ids=list(c.allowed_service_ids) if c.allowed_service_ids else None,
        is_active=c.is_active,
        redeemed_count=c.redeemed_count,
        created_at=c.created_at,
    )


def draft_of(c: Coupon) -> rules.CouponDraft[int]:
    return rules.CouponDraft(
        code=c.code,
        percent_off=c.percent_off,
        amount_off=dict(c.amount_off) if c.amount_off else None,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        max_redemptions=c.max_redemptions,
        max_per_user=c.max_per_user,
        min_subtotal_cents=c.min_subtotal_cents,
        allowed_checkout_types=tuple(c.allowed_checkout_types) if c.allowed_checkout_types else None,
        allowed_services=tuple(c.allowed_service_ids) if c.allowed_service_ids else None,
        is_active=c.is_active,
    )


async def write_coupon(
    session: AsyncSession, actor: Actor, row: Coupon | None, draft: rules.CouponDraft[int]
) -> Coupon:
    """Create (row None) or update a coupon to be `draft` (which passed the rules); its audit
    row names the coupon by code."""
    before = None if row is None else coupon_admin(row)
    if row is None:
        row = Coupon(code=draft.code, redeemed_count=0)
        session.add(row)
    row.kind = "percent" if draft.percent_off is not None else "fixed"
    row.percent_off = draft.percent_off
    row.amount_off = dict(draft.amount_off) if draft.amount_off else None
    row.starts_at = draft.starts_at
    row.ends_at = draft.ends_at
    row.max_redemptions = draft.max_redemptions
    row.max_per_user = draft.max_per_user
    row.min_subtotal_cents = draft.min_subtotal_cents
    row.allowed_checkout_types = list(draft.allowed_checkout_types) if draft.allowed_checkout_types else None
    row.allowed_service_ids = list(draft.allowed_services) if draft.allowed_services else None
    row.is_active = draft.is_active
    try:
        await session.flush()
    except IntegrityError as exc:
        if before is None and "code" in str(exc.orig):
            raise CouponCodeTaken(details={"field": "code", "code": draft.code}) from exc
        raise
    await audit.record(
        session,
        actor,
        action="create" if before is None else "update",
        entity="coupon",
        entity_id=row.code,
        before=before,
        after=coupon_admin(row),
    )
    return row


async def _service_problems(
    session: AsyncSession, draft: rules.CouponDraft[int], redeemed: int
) -> list[Problem]:
    known = await repository.existing_service_ids(session, draft.allowed_services or ())
    return rules.coupon_problems(draft, known_services=known, redeemed_count=redeemed)


async def create_coupon(session: AsyncSession, actor: Actor, body: CouponCreate) -> CouponAdmin:
    draft = rules.draft_from_create(body)
    raise_any(await _service_problems(session, draft, 0))
    if await repository.by_code(session, draft.code) is not None:
        raise CouponCodeTaken(details={"field": "code", "code": draft.code})
    return coupon_admin(await write_coupon(session, actor, None, draft))


async def get_coupon(session: AsyncSession, code: str) -> CouponAdmin:
    coupon = await repository.by_code(session, normalize(code))
    if coupon is None:
        raise UnknownCoupon(details={"code": code})
    return coupon_admin(coupon)


async def list_coupons(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[CouponAdmin]:
    got = await repository.page(session, limit=limit, cursor=cursor)
    return Page(data=[coupon_admin(c) for c in got.rows], has_more=got.has_more, next_cursor=got.next_cursor)


async def update_coupon(session: AsyncSession, actor: Actor, code: str, body: CouponUpdate) -> CouponAdmin:
    row = await repository.for_update(session, normalize(code))
    if row is None:
        raise UnknownCoupon(details={"code": code})
    draft = rules.draft_from_patch(draft_of(row), body)
    raise_any(await _service_problems(session, draft, row.redeemed_count))
    return coupon_admin(await write_coupon(session, actor, row, draft))
