from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.users.models import User


async def get_by_external_id(session: AsyncSession, external_id: str) -> User | None:
    return (await session.execute(select(User).where(User.external_id == external_id))).scalar_one_or_none()


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return (
        (await session.execute(select(User).where(User.email == email).order_by(User.id))).scalars().first()
    )


async def get(session: AsyncSession, user_id: int, *, for_update: bool = False) -> User | None:
    stmt = select(User).where(User.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_email_any_case(session: AsyncSession, email: str) -> User | None:
    return (
        (await session.execute(select(User).where(func.lower(User.email) == email.lower()).order_by(User.id)))
        .scalars()
        .first()
    )
