from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.db.base import utcnow


async def by_code(session: AsyncSession, code: str) -> Coupon | None:
    return (await session.execute(select(Coupon).where(Coupon.code == code.upper()))).scalar_one_or_none()


async def user_redemptions(session: AsyncSession, coupon_id: int, user_id: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(CouponRedemption)
                .where(
                    CouponRedemption.coupon_id == coupon_id,
                    CouponRedemption.user_id == user_id,
                    CouponRedemption.status.in_(("reserved", "final")),
                )
            )
        ).scalar_one()
    )


async def take_one(session: AsyncSession, coupon_id: int) -> bool:
    """Count one redemption if the coupon has any left: a guarded UPDATE, atomic under concurrency."""
    result = await session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            or_(Coupon.max_redemptions.is_(None), Coupon.redeemed_count < Coupon.max_redemptions),
        )
        .values(redeemed_count=Coupon.redeemed_count + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def give_back_one(session: AsyncSession, coupon_id: int) -> None:
    await session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id, Coupon.redeemed_count > 0)
        .values(redeemed_count=Coupon.redeemed_count - 1)
        .execution_options(synchronize_session=False)
    )


async def set_redemption_status(session: AsyncSession, order_id: uuid.UUID, *, from_: str, to: str) -> bool:
    result = await session.execute(
        update(CouponRedemption)
        .where(CouponRedemption.order_id == order_id, CouponRedemption.status == from_)
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def redemption_for_order(session: AsyncSession, order_id: uuid.UUID) -> CouponRedemption | None:
    return (
        await session.execute(select(CouponRedemption).where(CouponRedemption.order_id == order_id))
    ).scalar_one_or_none()
