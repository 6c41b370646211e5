"""Catalog queries. No commits and no rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from estuary_checkout.bookings.models import BLOCKING_STATUSES, Booking
from estuary_checkout.catalog.models import AvailabilityWindow, PackageChild, Practitioner, Service, TimeOff
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import SessionOrConnection, core_connection


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
                .options(
                    joinedload(Service.children)
                    .joinedload(PackageChild.child)
                    .joinedload(Service.other_prices),
                    joinedload(Service.other_prices),
                )
            )
        )
        .unique()
        .scalars()
    )
    return {s.id: s for s in rows}


def _upcoming_time_off(now: datetime) -> Any:
    """Practitioner.time_off restricted to periods not over yet (past ones cannot refuse a slot)."""
    return selectinload(Practitioner.time_off.and_(TimeOff.end_at > now))


async def practitioners_by_id(
    session: AsyncSession, ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, Practitioner]:
    """Practitioners with their windows and upcoming time off (everything availability needs)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (
        (
            await session.execute(
                select(Practitioner)
                .where(Practitioner.id.in_(wanted))
                .options(joinedload(Practitioner.availability), _upcoming_time_off(now or utcnow()))
            )
        )
        .unique()
        .scalars()
    )
    return {p.id: p for p in rows}


def public_services_query(now: datetime) -> Select[Any]:
    """Active, on-sale services of active practitioners, with what their public view shows."""
    return (
        select(Service)
        .join(Practitioner, Practitioner.id == Service.practitioner_id)
        .where(
            Service.is_active.is_(True),
            Practitioner.is_active.is_(True),
            (Service.available_from.is_(None)) | (Service.available_from <= now),
            (Service.available_until.is_(None)) | (Service.available_until > now),
        )
        .options(selectinload(Service.children), selectinload(Service.other_prices))
    )


async def active_service_ids(session: AsyncSession, practitioner_id: int, now: datetime) -> list[int]:
    rows = await session.execute(
        public_services_query(now)
        .where(Service.practitioner_id == practitioner_id)
        .order_by(Service.id)
        .with_only_columns(Service.id)
    )
    return [int(r) for r in rows.scalars()]


_booking = Booking.__table__.c
# Built once: read by every availability listing and every session checkout.
_OCCUPIED = select(_booking.start_at, _booking.blocked_until).where(
    _booking.practitioner_id == bindparam("practitioner_id"),
    _booking.status.in_(BLOCKING_STATUSES),
    _booking.start_at < bindparam("until"),
    _booking.blocked_until > bindparam("since"),
)


async def occupied(
    db: SessionOrConnection,
    practitioner_id: int,
    since: datetime,
    until: datetime,
    *,
    except_booking: int | None = None,
) -> list[tuple[datetime, datetime]]:
    """[start, blocked_until) of the practitioner's slot-holding bookings that reach into [since, until)."""
    conn = await core_connection(db)
    stmt = _OCCUPIED if except_booking is None else _OCCUPIED.where(_booking.id != except_booking)
    rows = await conn.execute(stmt, {"practitioner_id": practitioner_id, "since": since, "until": until})
    return [(r[0], r[1]) for r in rows]


# The availability listing's reads, built once and run on a bare connection (no ORM objects):
# the listing is a hot read, and these are all it needs.
_svc, _prac = Service.__table__.c, Practitioner.__table__.c
_SCHEDULE = (
    select(
        _svc.type,
        _svc.duration_minutes,
        _svc.practitioner_id,
        _prac.timezone,
        _prac.buffer_minutes,
        _prac.slot_step_minutes,
    )
    .join_from(Service.__table__, Practitioner.__table__, _prac.id == _svc.practitioner_id)
    .where(
        _svc.id == bindparam("service_id"),
        _svc.is_active.is_(True),
        _prac.is_active.is_(True),
        (_svc.available_from.is_(None)) | (_svc.available_from <= bindparam("now")),
        (_svc.available_until.is_(None)) | (_svc.available_until > bindparam("now")),
    )
)
_window = AvailabilityWindow.__table__.c
_WINDOWS = select(_window.weekday, _window.start_minute, _window.end_minute).where(
    _window.practitioner_id == bindparam("practitioner_id")
)
_off = TimeOff.__table__.c
_TIME_OFF = select(_off.start_at, _off.end_at).where(
    _off.practitioner_id == bindparam("practitioner_id"),
    _off.start_at < bindparam("until"),
    _off.end_at > bindparam("since"),
)


async def schedule_of_service(db: SessionOrConnection, service_id: int, now: datetime) -> Any | None:
    """(type, duration_minutes, practitioner_id, timezone, buffer_minutes, slot_step_minutes) of an
    active service on sale now whose practitioner is active, or None."""
    conn = await core_connection(db)
    return (await conn.execute(_SCHEDULE, {"service_id": service_id, "now": now})).one_or_none()


async def windows(db: SessionOrConnection, practitioner_id: int) -> list[tuple[int, int, int]]:
    conn = await core_connection(db)
    rows = await conn.execute(_WINDOWS, {"practitioner_id": practitioner_id})
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


async def time_off_between(
    db: SessionOrConnection, practitioner_id: int, since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    conn = await core_connection(db)
    rows = await conn.execute(_TIME_OFF, {"practitioner_id": practitioner_id, "since": since, "until": until})
    return [(r[0], r[1]) for r in rows]
