from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.catalog.models import Service
from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.db.base import utcnow
from estuary_checkout.pagination import PageOf, keyset, page_of


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


async def for_update(session: AsyncSession, code: str) -> Coupon | None:
    """The coupon, its row held until commit: a redemption (`take_one`) waits for an admin
    change, so `max_redemptions` is checked against a count that cannot move meanwhile."""
    stmt = (
        select(Coupon)
        .where(Coupon.code == code.upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(session: AsyncSession, *, limit: int, cursor: str | None) -> PageOf[Coupon]:
    columns = [Coupon.created_at, Coupon.id]
    rows = (
        (await session.execute(keyset(select(Coupon), columns, limit=limit, cursor=cursor))).scalars().all()
    )
    return page_of(rows, limit, lambda r: (r.created_at, r.id))


async def all_coupons(session: AsyncSession) -> Sequence[Coupon]:
    return (await session.execute(select(Coupon).order_by(Coupon.id))).scalars().all()


async def by_codes(session: AsyncSession, codes: Iterable[str], *, lock: bool = False) -> dict[str, Coupon]:
    wanted = {c.upper() for c in codes}
    if not wanted:
        return {}
    stmt = select(Coupon).where(Coupon.code.in_(wanted))
    if lock:
        stmt = stmt.with_for_update()
    return {c.code: c for c in (await session.execute(stmt)).scalars()}


async def existing_service_ids(session: AsyncSession, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set((await session.execute(select(Service.id).where(Service.id.in_(wanted)))).scalars())
