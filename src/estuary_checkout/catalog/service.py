"""Catalog rules that do not depend on an order: purchasability and availability."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.catalog import repository as catalog_repo
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.catalog.schemas import (
    BundleTerms,
    PackageChildTerms,
    PackageTerms,
    Price,
    ServicePublic,
)
from estuary_checkout.db.session import SessionOrConnection, orm_session

T = TypeVar("T")
Loader = Callable[[set[int]], Awaitable[dict[int, T]]]


def is_purchasable(service: Service, now: datetime) -> bool:
    if not service.is_active:
        return False
    if service.available_from is not None and now < service.available_from:
        return False
    return not (service.available_until is not None and now >= service.available_until)


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


def within_availability(practitioner: Practitioner, start: datetime, end: datetime) -> bool:
    """True if [start, end) lies inside one weekly window (in the practitioner's timezone).

    A session may not straddle two windows or local midnight; windows are checked on the local
    calendar day of the start.
    """
    tz = ZoneInfo(practitioner.timezone or "UTC")
    local_start = start.astimezone(tz)
    local_end = end.astimezone(tz)
    if local_end.date() != local_start.date() and not (
        local_end.date() == local_start.date() + timedelta(days=1)
        and local_end.hour == 0
        and local_end.minute == 0
    ):
        return False
    start_min = local_start.hour * 60 + local_start.minute
    end_min = start_min + int((end - start).total_seconds() // 60)
    weekday = local_start.weekday()
    return any(
        w.weekday == weekday and w.start_minute <= start_min and end_min <= w.end_minute
        for w in practitioner.availability
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
