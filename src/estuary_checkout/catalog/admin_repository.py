"""Queries of the admin side of the catalog: rows with what their admin views need loaded,
keyset pages, and the set-replacing writes (windows, prices, package children)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from estuary_checkout.bookings.models import BLOCKING_STATUSES, Booking
from estuary_checkout.catalog.admin_rules import ChildDraft
from estuary_checkout.catalog.models import (
    AvailabilityWindow,
    PackageChild,
    Practitioner,
    Service,
    ServicePrice,
    TimeOff,
)
from estuary_checkout.pagination import PageOf, keyset, page_of

# --- practitioners -------------------------------------------------------------------------


def _practitioners() -> Select[Practitioner]:
    return select(Practitioner).options(selectinload(Practitioner.availability))


async def practitioner(
    session: AsyncSession, practitioner_id: int, *, lock: bool = False
) -> Practitioner | None:
    """The practitioner with its windows, read afresh; `lock` holds its row until commit (so
    concurrent writes of one practitioner take turns and each audit row's `before` is true)."""
    stmt = (
        _practitioners().where(Practitioner.id == practitioner_id).execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Practitioner)
    return (await session.execute(stmt)).scalar_one_or_none()


async def practitioner_page(
    session: AsyncSession, *, external_id: str | None, limit: int, cursor: str | None
) -> PageOf[Practitioner]:
    stmt = _practitioners()
    if external_id is not None:
        stmt = stmt.where(Practitioner.external_id == external_id)
    columns = [Practitioner.created_at, Practitioner.id]
    rows = (await session.execute(keyset(stmt, columns, limit=limit, cursor=cursor))).scalars().all()
    return page_of(rows, limit, lambda r: (r.created_at, r.id))


async def all_practitioners(session: AsyncSession) -> Sequence[Practitioner]:
    return (await session.execute(_practitioners().order_by(Practitioner.id))).scalars().all()


async def practitioners_by_external_id(
    session: AsyncSession, external_ids: Iterable[str], *, lock: bool = False
) -> dict[str, Practitioner]:
    wanted = set(external_ids)
    if not wanted:
        return {}
    stmt = _practitioners().where(Practitioner.external_id.in_(wanted))
    if lock:
        stmt = stmt.with_for_update(of=Practitioner)
    rows = await session.execute(stmt)
    return {p.external_id: p for p in rows.scalars() if p.external_id is not None}


async def existing_practitioner_ids(session: AsyncSession, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set((await session.execute(select(Practitioner.id).where(Practitioner.id.in_(wanted)))).scalars())


async def external_id_owner(session: AsyncSession, model: Any, external_id: str) -> int | None:
    """The id of the practitioner or service (`model`) that has this external id, if any."""
    return (  # type: ignore[no-any-return]
        await session.execute(select(model.id).where(model.external_id == external_id))
    ).scalar_one_or_none()


async def replace_windows(
    session: AsyncSession, practitioner_id: int, windows: Iterable[tuple[int, int, int]]
) -> None:
    """(weekday, start minute, end minute) windows instead of the practitioner's current ones."""
    await session.execute(
        delete(AvailabilityWindow).where(AvailabilityWindow.practitioner_id == practitioner_id)
    )
    session.add_all(
        AvailabilityWindow(practitioner_id=practitioner_id, weekday=d, start_minute=s, end_minute=e)
        for d, s, e in windows
    )
    await session.flush()


# --- time off ------------------------------------------------------------------------------


async def time_off(session: AsyncSession, practitioner_id: int, time_off_id: int) -> TimeOff | None:
    return (
        await session.execute(
            select(TimeOff).where(TimeOff.id == time_off_id, TimeOff.practitioner_id == practitioner_id)
        )
    ).scalar_one_or_none()


async def time_off_page(
    session: AsyncSession, practitioner_id: int, *, limit: int, cursor: str | None
) -> PageOf[TimeOff]:
    stmt = select(TimeOff).where(TimeOff.practitioner_id == practitioner_id)
    columns = [TimeOff.created_at, TimeOff.id]
    rows = (await session.execute(keyset(stmt, columns, limit=limit, cursor=cursor))).scalars().all()
    return page_of(rows, limit, lambda r: (r.created_at, r.id))


async def time_off_of(session: AsyncSession, practitioner_ids: Iterable[int]) -> dict[int, list[TimeOff]]:
    """Every time off of these practitioners, by start."""
    wanted = set(practitioner_ids)
    out: dict[int, list[TimeOff]] = {i: [] for i in wanted}
    if wanted:
        rows = await session.execute(
            select(TimeOff)
            .where(TimeOff.practitioner_id.in_(wanted))
            .order_by(TimeOff.start_at, TimeOff.end_at, TimeOff.id)
        )
        for row in rows.scalars():
            out[row.practitioner_id].append(row)
    return out


async def delete_time_off(session: AsyncSession, row: TimeOff) -> None:
    await session.delete(row)
    await session.flush()


async def conflicting_bookings(
    session: AsyncSession, practitioner_id: int, start: datetime, end: datetime
) -> list[int]:
    """Pending or confirmed bookings of the practitioner whose session overlaps [start, end)."""
    rows = await session.execute(
        select(Booking.id)
        .where(
            Booking.practitioner_id == practitioner_id,
            Booking.status.in_(BLOCKING_STATUSES),
            Booking.start_at < end,
            Booking.end_at > start,
        )
        .order_by(Booking.start_at, Booking.id)
    )
    return [int(i) for i in rows.scalars()]


# --- services ------------------------------------------------------------------------------


def _services() -> Select[Service]:
    return select(Service).options(selectinload(Service.children), selectinload(Service.other_prices))


async def service(session: AsyncSession, service_id: int, *, lock: bool = False) -> Service | None:
    stmt = _services().where(Service.id == service_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update(of=Service)
    return (await session.execute(stmt)).scalar_one_or_none()


async def service_page(
    session: AsyncSession, *, external_id: str | None, limit: int, cursor: str | None
) -> PageOf[Service]:
    stmt = _services()
    if external_id is not None:
        stmt = stmt.where(Service.external_id == external_id)
    columns = [Service.created_at, Service.id]
    rows = (await session.execute(keyset(stmt, columns, limit=limit, cursor=cursor))).scalars().all()
    return page_of(rows, limit, lambda r: (r.created_at, r.id))


async def all_services(session: AsyncSession) -> Sequence[Service]:
    return (await session.execute(_services().order_by(Service.id))).scalars().all()


async def services_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Service]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(_services().where(Service.id.in_(wanted)))
    return {s.id: s for s in rows.scalars()}


async def services_by_external_id(
    session: AsyncSession, external_ids: Iterable[str], *, lock: bool = False
) -> dict[str, Service]:
    wanted = set(external_ids)
    if not wanted:
        return {}
    stmt = _services().where(Service.external_id.in_(wanted))
    if lock:
        stmt = stmt.with_for_update(of=Service)
    rows = await session.execute(stmt)
    return {s.external_id: s for s in rows.scalars() if s.external_id is not None}


async def parents_of(session: AsyncSession, service_id: int) -> list[Service]:
    """Bundles and packages that hold this service."""
    in_package = select(PackageChild.package_id).where(PackageChild.child_service_id == service_id)
    rows = await session.execute(
        select(Service)
        .where((Service.bundle_child_service_id == service_id) | Service.id.in_(in_package))
        .order_by(Service.id)
    )
    return list(rows.scalars())


async def external_ids(session: AsyncSession, model: Any, ids: Iterable[int]) -> dict[int, str | None]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(model.id, model.external_id).where(model.id.in_(wanted)))
    return {int(i): e for i, e in rows.all()}


async def replace_prices(session: AsyncSession, row: Service, prices: dict[str, int]) -> None:
    """The service's prices in other currencies become `prices` (rows kept where they stay)."""
    current = {p.currency: p for p in row.other_prices}
    gone = set(current) - set(prices)
    if gone:
        await session.execute(
            delete(ServicePrice).where(ServicePrice.service_id == row.id, ServicePrice.currency.in_(gone))
        )
    for currency, amount in prices.items():
        if currency in current:
            current[currency].amount_cents = amount
        else:
            session.add(ServicePrice(service_id=row.id, currency=currency, amount_cents=amount))
    await session.flush()


async def replace_children(session: AsyncSession, row: Service, children: Sequence[ChildDraft[int]]) -> None:
    """The package's children become `children` (rows kept, and updated, where they stay: the
    (package, child) pair is unique, so a delete-and-insert would collide inside one flush)."""
    current = {c.child_service_id: c for c in row.children}
    wanted = {c.service: c for c in children}
    gone = set(current) - set(wanted)
    if gone:
        await session.execute(
            delete(PackageChild).where(
                PackageChild.package_id == row.id, PackageChild.child_service_id.in_(gone)
            )
        )
    for child_id, c in wanted.items():
        existing = current.get(child_id)
        if existing is None:
            session.add(
                PackageChild(
                    package_id=row.id,
                    child_service_id=child_id,
                    quantity=c.quantity,
                    is_required=c.is_required,
                    discount_percentage=c.discount_percentage,
                )
            )
        else:
            existing.quantity = c.quantity
            existing.is_required = c.is_required
            existing.discount_percentage = c.discount_percentage
    await session.flush()
