from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.session import upsert_insert
from estuary_checkout.passes.models import Pass


async def redeemable(
    session: AsyncSession, *, user_id: int, service_id: int, practitioner_id: int, now: datetime
) -> list[Pass]:
    """Active passes with sessions left, soonest to expire first."""
    rows = await session.execute(
        select(Pass)
        .where(
            Pass.user_id == user_id,
            Pass.service_id == service_id,
            Pass.practitioner_id == practitioner_id,
            Pass.status == "active",
            Pass.expires_at > now,
            Pass.sessions_used < Pass.sessions_total,
        )
        .order_by(Pass.expires_at, Pass.id)
    )
    return list(rows.scalars())


async def use_one(session: AsyncSession, pass_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(Pass)
        .where(
            Pass.id == pass_id,
            Pass.status == "active",
            Pass.expires_at > now,
            Pass.sessions_used < Pass.sessions_total,
        )
        .values(sessions_used=Pass.sessions_used + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def give_back_one(session: AsyncSession, pass_id: int) -> None:
    await session.execute(
        update(Pass)
        .where(Pass.id == pass_id, Pass.sessions_used > 0)
        .values(sessions_used=Pass.sessions_used - 1)
        .execution_options(synchronize_session=False)
    )


async def insert_once(session: AsyncSession, **values: object) -> bool:
    stmt = (
        upsert_insert(session, Pass)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["order_id", "order_line_id", "service_id"])
        .returning(Pass.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
