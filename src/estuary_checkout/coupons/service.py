"""Coupons: validated at pricing, reserved with the order, final at fulfilment, released otherwise.

The total limit is a guarded counter (`UPDATE … WHERE redeemed_count < max_redemptions`, backed
by a CHECK); the per-user limit is counted under the caller's user-row lock taken at checkout.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.coupons import repository
from estuary_checkout.coupons.errors import (
    CouponAlreadyUsed,
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotFound,
    CouponNotStarted,
)
from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.pricing.service import CouponTerms


def normalize(code: str) -> str:
    return code.strip().upper()


async def validate(
    session: AsyncSession,
    *,
    code: str,
    user_id: int,
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
    if coupon.kind == "fixed" and coupon.currency and coupon.currency != currency:
        raise CouponNotApplicable(details={**details, "reason": "currency"})
    if subtotal_cents < coupon.min_subtotal_cents:
        raise CouponMinimumNotMet(details={**details, "min_subtotal_cents": coupon.min_subtotal_cents})
    if coupon.max_redemptions is not None and coupon.redeemed_count >= coupon.max_redemptions:
        raise CouponExhausted(details=details)
    if (
        coupon.max_per_user is not None
        and await repository.user_redemptions(session, coupon.id, user_id) >= coupon.max_per_user
    ):
        raise CouponAlreadyUsed(details=details)
    return coupon


def terms(coupon: Coupon) -> CouponTerms:
    return CouponTerms(
        kind=coupon.kind,
        percent_off=coupon.percent_off,
        amount_off_cents=coupon.amount_off_cents,
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
