from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.memberships.models import Membership
from estuary_checkout.pagination import PageOf, keyset, page_of


async def get(session: AsyncSession, membership_id: int) -> Membership | None:
    return await session.get(Membership, membership_id, populate_existing=True)


async def by_subscription(session: AsyncSession, subscription_id: str) -> Membership | None:
    rows = await session.execute(
        select(Membership).where(Membership.stripe_subscription_id == subscription_id)
    )
    return rows.scalar_one_or_none()


async def page_for_user(
    session: AsyncSession, user_id: int, *, limit: int, cursor: str | None
) -> PageOf[Membership]:
    """The user's memberships, newest first."""
    stmt = keyset(
        select(Membership).where(Membership.user_id == user_id),
        [Membership.created_at, Membership.id],
        limit=limit,
        cursor=cursor,
    )
    rows = list((await session.execute(stmt)).scalars())
    return page_of(rows, limit, lambda m: (m.created_at, m.id))
