from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.session import SessionOrConnection, core_connection, upsert_insert
from estuary_checkout.pagination import PageOf, keyset, page_of
from estuary_checkout.passes.models import Pass, PassService

_pass = Pass.__table__.c
_scope = PassService.__table__.c
# Built once: a hot read on every single-session quote and create (plain Core, no ORM objects).
_REDEEMABLE_LEFT = (
    select(_pass.id, _pass.sessions_total - _pass.sessions_used)
    .where(
        _pass.user_id == bindparam("user_id"),
        or_(
            # a bundle/package pass: its one service with its one practitioner
            and_(
                _pass.service_id == bindparam("service_id"),
                _pass.practitioner_id == bindparam("practitioner_id"),
            ),
            # a membership pass: any of the services it lists
            and_(
                _pass.service_id.is_(None),
                _pass.id.in_(select(_scope.pass_id).where(_scope.service_id == bindparam("service_id"))),
            ),
        ),
        _pass.status == "active",
        _pass.expires_at > bindparam("now"),
        _pass.sessions_used < _pass.sessions_total,
    )
    .order_by(_pass.expires_at, _pass.id)
)


async def redeemable_left(
    db: SessionOrConnection, *, user_id: int, service_id: int, practitioner_id: int, now: datetime
) -> list[tuple[int, int]]:
    """(pass id, sessions left) of the user's active, unexpired passes with sessions left for the
    service, soonest to expire first."""
    conn = await core_connection(db)
    rows = await conn.execute(
        _REDEEMABLE_LEFT,
        {"user_id": user_id, "service_id": service_id, "practitioner_id": practitioner_id, "now": now},
    )
    return [(int(r[0]), int(r[1])) for r in rows]


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


async def page_for_user(
    session: AsyncSession, user_id: int, *, limit: int, cursor: str | None
) -> PageOf[Pass]:
    """The user's passes, newest first."""
    stmt = keyset(
        select(Pass).where(Pass.user_id == user_id), [Pass.created_at, Pass.id], limit=limit, cursor=cursor
    )
    rows = list((await session.execute(stmt)).scalars())
    return page_of(rows, limit, lambda p: (p.created_at, p.id))


async def for_order(session: AsyncSession, order_id: uuid.UUID) -> list[Pass]:
    rows = await session.execute(select(Pass).where(Pass.order_id == order_id).order_by(Pass.id))
    return list(rows.scalars())


async def scopes(session: AsyncSession, pass_ids: list[int]) -> dict[int, list[int]]:
    """The eligible services of each membership pass among `pass_ids`."""
    out: dict[int, list[int]] = {}
    if pass_ids:
        rows = await session.execute(
            select(PassService.pass_id, PassService.service_id)
            .where(PassService.pass_id.in_(pass_ids))
            .order_by(PassService.pass_id, PassService.service_id)
        )
        for pass_id, service_id in rows:
            out.setdefault(pass_id, []).append(service_id)
    return out


async def insert_membership_pass(
    session: AsyncSession, service_ids: list[int], **values: object
) -> int | None:
    """The pass for one membership invoice, once (`grant_key` unique); its id if newly granted."""
    stmt = (
        upsert_insert(session, Pass)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["grant_key"])
        .returning(Pass.id)
    )
    pass_id = (await session.execute(stmt)).scalar_one_or_none()
    if pass_id is not None:
        await session.execute(
            insert(PassService), [{"pass_id": pass_id, "service_id": s} for s in service_ids]
        )
    return pass_id


async def membership_passes(session: AsyncSession, membership_id: int, *, lock: bool = False) -> list[Pass]:
    stmt = select(Pass).where(Pass.membership_id == membership_id).order_by(Pass.period_start_at, Pass.id)
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())


async def set_membership_status(session: AsyncSession, membership_id: int, *, old: str, new: str) -> None:
    await session.execute(
        update(Pass)
        .where(Pass.membership_id == membership_id, Pass.status == old)
        .values(status=new)
        .execution_options(synchronize_session=False)
    )
