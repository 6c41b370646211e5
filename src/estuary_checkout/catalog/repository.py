from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from estuary_checkout.catalog.models import PackageChild, Practitioner, Service


async def services_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Service]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (
        (
            await session.execute(
                select(Service)
                .where(Service.id.in_(wanted))
                # one statement (outer joins) rather than one per relationship: a hot read of create
                .options(joinedload(Service.children).joinedload(PackageChild.child))
            )
        )
        .unique()
        .scalars()
    )
    return {s.id: s for s in rows}


async def practitioners_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Practitioner]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (
        (
            await session.execute(
                select(Practitioner)
                .where(Practitioner.id.in_(wanted))
                .options(joinedload(Practitioner.availability))
            )
        )
        .unique()
        .scalars()
    )
    return {p.id: p for p in rows}
