"""Catalog rules that do not depend on an order: purchasability, the public views and
availability (the rules themselves are in `catalog.availability`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.catalog import availability
from estuary_checkout.catalog import repository as catalog_repo
from estuary_checkout.catalog.errors import (
    InvalidRange,
    NotASession,
    OutsideAvailability,
    PractitionerMismatch,
    PractitionerNotFound,
    RangeTooLarge,
    ServiceNotFound,
    SlotUnavailable,
    StartInPast,
)
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.catalog.schemas import (
    Availability,
    BundleTerms,
    PackageChildTerms,
    PackageTerms,
    PractitionerPublic,
    Price,
    ServicePublic,
)
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import SessionOrConnection, orm_session
from estuary_checkout.errors import AppError
from estuary_checkout.pagination import PageOf, keyset, page_of

MAX_AVAILABILITY_RANGE = timedelta(days=31)

T = TypeVar("T")
Loader = Callable[[set[int]], Awaitable[dict[int, T]]]


def is_purchasable(service: Service, now: datetime) -> bool:
    if not service.is_active:
        return False
    if service.available_from is not None and now < service.available_from:
        return False
    return not (service.available_until is not None and now >= service.available_until)


def price_in(service: Service, currency: str) -> int | None:
    """The service's price in `currency` (its default price or one of `other_prices`, which must
    be loaded), or None if it is not sold in that currency."""
    if currency == service.currency:
        return service.price_cents
    return next((p.amount_cents for p in service.other_prices if p.currency == currency), None)


def prices(service: Service) -> list[Price]:
    """Every price of the service: its default currency first, then the others by code.
    Needs `other_prices` loaded."""
    out = (
        []
        if service.price_cents is None
        else [Price(currency=service.currency, amount_cents=service.price_cents)]
    )
    return out + [Price(currency=p.currency, amount_cents=p.amount_cents) for p in service.other_prices]


def service_public(service: Service) -> ServicePublic:
    """The public view of a service (SPEC 10.1); needs `children` and `other_prices` loaded."""
    bundle = None
    if service.type == "bundle" and service.bundle_child_service_id is not None:
        bundle = BundleTerms(
            child_service_id=service.bundle_child_service_id,
            sessions_included=service.sessions_included or 0,
            bonus_sessions=service.bonus_sessions or 0,
            validity_days=service.validity_days,
        )
    package = None
    if service.type == "package":
        package = PackageTerms(
            children=[
                PackageChildTerms(
                    service_id=c.child_service_id,
                    quantity=c.quantity,
                    is_required=c.is_required,
                    discount_percentage=c.discount_percentage,
                )
                for c in service.children
            ]
        )
    return ServicePublic(
        id=service.id,
        type=service.type,  # type: ignore[arg-type]
        name=service.name,
        description=service.description,
        practitioner_id=service.practitioner_id,
        price_cents=service.price_cents,
        currency=service.currency,
        prices=prices(service),
        duration_minutes=service.duration_minutes,
        bundle=bundle,
        package=package,
    )


def zone(name: str) -> ZoneInfo:
    """The practitioner's time zone; names are validated on the way in (admin API, import), so an
    unknown one here is a broken row, read as UTC rather than failing every request."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def rules_for(practitioner: Practitioner) -> availability.Rules:
    """The practitioner's availability rules (needs `availability` loaded)."""
    return availability.Rules(
        tz=zone(practitioner.timezone),
        windows=tuple(
            availability.Window(w.weekday, w.start_minute, w.end_minute) for w in practitioner.availability
        ),
        step=timedelta(minutes=practitioner.slot_step_minutes),
        buffer=timedelta(minutes=practitioner.buffer_minutes),
    )


def time_off_of(practitioner: Practitioner) -> availability.Intervals:
    """The practitioner's upcoming time off (needs `time_off` loaded, see catalog.repository)."""
    return availability.Intervals((t.start_at, t.end_at) for t in practitioner.time_off)


def slot_error(reason: availability.Refusal, field: str, min_lead_minutes: int) -> AppError:
    """The error a client sees for a session time the availability rules refuse."""
    if reason == "too_soon":
        return StartInPast(details={"field": field, "min_lead_minutes": min_lead_minutes})
    if reason == "busy":
        return SlotUnavailable(details={"field": field})
    if reason == "too_far":
        return OutsideAvailability(
            "Sessions can be booked at most two years ahead", details={"field": field, "reason": reason}
        )
    if reason == "time_off":
        return OutsideAvailability(
            "The practitioner is away at that time", details={"field": field, "reason": reason}
        )
    return OutsideAvailability(
        "That time is not one of the practitioner's slots (see GET /catalog/availability)",
        details={"field": field, "reason": reason},
    )


async def occupied(
    db: SessionOrConnection,
    practitioner: Practitioner,
    start: datetime,
    end: datetime,
    *,
    also: Iterable[tuple[datetime, datetime]] = (),
    except_booking: int | None = None,
) -> availability.Intervals:
    """The practitioner's slot-holding bookings that could refuse a session in [start, end)
    (plus `also`: sessions of the same cart, not yet written; minus `except_booking`: the one
    being moved)."""
    found = await catalog_repo.occupied(
        db,
        practitioner.id,
        start,
        end + timedelta(minutes=practitioner.buffer_minutes),
        except_booking=except_booking,
    )
    return availability.Intervals([*found, *also])


# ---------------------------------------------------------------------------------------------
# public reads


async def list_services(
    session: AsyncSession,
    *,
    service_type: str | None,
    practitioner_id: int | None,
    limit: int,
    cursor: str | None,
) -> PageOf[ServicePublic]:
    stmt = catalog_repo.public_services_query(utcnow())
    if service_type is not None:
        stmt = stmt.where(Service.type == service_type)
    if practitioner_id is not None:
        stmt = stmt.where(Service.practitioner_id == practitioner_id)
    rows = list((await session.execute(keyset(stmt, [Service.id], limit=limit, cursor=cursor))).scalars())
    page = page_of(rows, limit, lambda s: (s.id,))
    return PageOf([service_public(s) for s in page.rows], page.has_more, page.next_cursor)


async def _public_service(session: AsyncSession, service_id: int) -> Service:
    stmt = catalog_repo.public_services_query(utcnow()).where(Service.id == service_id)
    service: Service | None = (await session.execute(stmt)).scalar_one_or_none()
    if service is None:
        raise ServiceNotFound(details={"service_id": service_id})
    return service


async def get_service(session: AsyncSession, service_id: int) -> ServicePublic:
    return service_public(await _public_service(session, service_id))


async def get_practitioner(session: AsyncSession, practitioner_id: int) -> PractitionerPublic:
    now = utcnow()
    found = await catalog_repo.practitioners_by_id(session, [practitioner_id], now=now)
    practitioner = found.get(practitioner_id)
    if practitioner is None or not practitioner.is_active:
        raise PractitionerNotFound(details={"practitioner_id": practitioner_id})
    return PractitionerPublic(
        id=practitioner.id,
        name=practitioner.name,
        timezone=practitioner.timezone,
        service_ids=await catalog_repo.active_service_ids(session, practitioner.id, now),
    )


async def list_availability(
    db: SessionOrConnection,
    *,
    service_id: int,
    practitioner_id: int | None,
    range_start: datetime,
    range_end: datetime,
    min_lead: timedelta,
) -> Availability:
    """The service's bookable slots in [range_start, range_end), read fresh from the database:
    the same rules and the same bookings create checks (SPEC 10.1's contract). Plain reads on
    `db` (a bare connection from the route): a hot path, and no ORM object is needed."""
    if range_end <= range_start:
        raise InvalidRange(details={"field": "to"})
    if range_end - range_start > MAX_AVAILABILITY_RANGE:
        raise RangeTooLarge(details={"field": "to", "max_days": MAX_AVAILABILITY_RANGE.days})
    now = utcnow()
    found = await catalog_repo.schedule_of_service(db, service_id, now)
    if found is None:
        raise ServiceNotFound(details={"service_id": service_id})
    kind, minutes, owner, timezone, buffer_minutes, step_minutes = found
    if kind != "session" or not minutes:
        raise NotASession(details={"field": "service_id", "service_type": kind})
    if practitioner_id is not None and practitioner_id != owner:
        raise PractitionerMismatch(details={"field": "practitioner_id"})
    duration = timedelta(minutes=minutes)
    rules = availability.Rules(
        tz=zone(timezone),
        windows=tuple(availability.Window(*w) for w in await catalog_repo.windows(db, owner)),
        step=timedelta(minutes=step_minutes),
        buffer=timedelta(minutes=buffer_minutes),
    )
    reach = range_end + duration  # a slot starting before range_end ends by this
    found_slots = availability.slots(
        rules,
        duration,
        range_start,
        range_end,
        now=now,
        min_lead=min_lead,
        time_off=availability.Intervals(await catalog_repo.time_off_between(db, owner, range_start, reach)),
        busy=availability.Intervals(
            await catalog_repo.occupied(db, owner, range_start, reach + rules.buffer)
        ),
    )
    # validated in one call (pydantic's core walks the list) rather than one model per slot
    return Availability.model_validate(
        {
            "service_id": service_id,
            "practitioner_id": owner,
            "timezone": timezone,
            "slots": [{"start_time": s, "end_time": e} for s, e in found_slots],
        }
    )


class CatalogCache:
    """Catalog rows for price quotes, each kept `ttl_seconds` after it was read.

    Quotes (calculate-price) may be that stale; orders never are: checkout create reads the
    catalog inside its own transaction. Rows are read-only once loaded (relationships included),
    so requests can share them.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._services: dict[int, tuple[float, Service]] = {}
        self._practitioners: dict[int, tuple[float, Practitioner]] = {}
        # one load at a time per store: when rows expire under load, the first request reloads
        # them and the others wait for it instead of all reading the same rows at once
        self._services_loading = asyncio.Lock()
        self._practitioners_loading = asyncio.Lock()
        # bumped by clear(): a load that began before it must not store what it read
        self._generation = 0

    def clear(self) -> None:
        """Forget every row (an admin write committed): the next quote reads the catalog again."""
        self._generation += 1
        self._services.clear()
        self._practitioners.clear()

    def _fresh(self, store: dict[int, tuple[float, T]], wanted: set[int]) -> dict[int, T]:
        now = time.monotonic()
        return {i: store[i][1] for i in wanted if i in store and now - store[i][0] < self.ttl}

    async def _get(
        self, store: dict[int, tuple[float, T]], loading: asyncio.Lock, ids: Iterable[int], load: Loader[T]
    ) -> dict[int, T]:
        wanted = set(ids)
        found = self._fresh(store, wanted)
        if len(found) == len(wanted):
            return found
        async with loading:
            found = self._fresh(store, wanted)  # loaded by the request we waited for?
            missing = wanted - found.keys()
            if missing:
                now = time.monotonic()
                generation = self._generation
                loaded = await load(missing)
                if generation == self._generation:
                    for i, row in loaded.items():
                        store[i] = (now, row)
                found.update(loaded)
        return found

    async def services(self, db: SessionOrConnection, ids: Iterable[int]) -> dict[int, Service]:
        async def load(missing: set[int]) -> dict[int, Service]:
            async with orm_session(db) as session:
                return await catalog_repo.services_by_id(session, missing)

        return await self._get(self._services, self._services_loading, ids, load)

    async def practitioners(self, db: SessionOrConnection, ids: Iterable[int]) -> dict[int, Practitioner]:
        async def load(missing: set[int]) -> dict[int, Practitioner]:
            async with orm_session(db) as session:
                return await catalog_repo.practitioners_by_id(session, missing)

        return await self._get(self._practitioners, self._practitioners_loading, ids, load)


def clear_cache_after_commit(session: AsyncSession, cache: CatalogCache | None) -> None:
    """Drop this process's cached catalog once the session's transaction commits, so the next
    quote on this replica sees the write (other replicas within their TTL). After the commit,
    not before: a quote between the two would cache the old rows again."""
    if cache is not None:
        event.listen(session.sync_session, "after_commit", lambda _s: cache.clear(), once=True)
