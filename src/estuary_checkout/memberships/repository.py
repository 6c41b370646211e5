from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.memberships.models import Membership


async def get(session: AsyncSession, membership_id: int) -> Membership | None:
    return await session.get(Membership, membership_id, populate_existing=True)


async def by_subscription(session: AsyncSession, subscription_id: str) -> Membership | None:
    rows = await session.execute(
        select(Membership).where(Membership.stripe_subscription_id == subscription_id)
    )
    return rows.scalar_one_or_none()
