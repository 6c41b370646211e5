from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit.models import AuditLog
from estuary_checkout.pagination import PageOf, keyset, page_of


def add(session: AsyncSession, row: AuditLog) -> None:
    session.add(row)


async def page(
    session: AsyncSession,
    *,
    entity: str | None,
    entity_id: str | None,
    actor: str | None,
    limit: int,
    cursor: str | None,
) -> PageOf[AuditLog]:
    stmt = select(AuditLog)
    if entity is not None:
        stmt = stmt.where(AuditLog.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    if actor is not None:
        stmt = stmt.where(AuditLog.actor_sub == actor)
    rows = (await session.execute(keyset(stmt, [AuditLog.id], limit=limit, cursor=cursor))).scalars().all()
    return page_of(rows, limit, lambda r: (r.id,))
