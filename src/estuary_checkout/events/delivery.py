"""The worker's event relay: fan each new event out to the endpoints subscribed to it, then send
the due deliveries, signed, with retries and backoff.

* At least once. A delivery is claimed with a lease before it is sent and marked after the
  answer; a worker killed in between leaves the lease to run out and the delivery is sent again
  (same `webhook-id`: receivers dedupe on it).
* No receiver slows the others: at most `webhook_max_in_flight_per_endpoint` deliveries per
  endpoint are in flight (an endpoint at its limit is left out of the next claim, so its backlog
  never fills the claim), a hard timeout per attempt, and nothing runs on a request's path.
* Safe destinations: the connection goes through `GuardedBackend` (no private addresses in
  production), redirects are never followed (a 3xx is a failed attempt), a response body is read
  up to `RESPONSE_CAP` bytes and only a short excerpt is kept. Secrets and signatures are never
  logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpcore
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.config import Settings
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import transaction, upsert_insert
from estuary_checkout.events.emit import payload
from estuary_checkout.events.models import OutboundEvent, WebhookDelivery, WebhookEndpoint
from estuary_checkout.events.signing import signed_headers
from estuary_checkout.events.urls import GuardedBackend, UrlRefused

log = structlog.get_logger(__name__)

RESPONSE_CAP = 4096  # bytes of a response body read; the rest is never downloaded
ERROR_EXCERPT = 300  # characters of a response body kept in `error`
FAN_OUT_BATCH = 200


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    event: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay(attempts_made: int, schedule: Sequence[float]) -> timedelta | None:
    """The wait before the next attempt after `attempts_made` failed ones; None when the schedule
    has run out (the delivery is failed)."""
    if attempts_made > len(schedule):
        return None
    return timedelta(seconds=schedule[attempts_made - 1])


def active_secrets(endpoint: WebhookEndpoint | Any, now: datetime) -> tuple[str, ...]:
    """The secret, and the previous one while its overlap after a rotation lasts."""
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        return (endpoint.secret, endpoint.previous_secret)
    return (endpoint.secret,)


class DeliveryRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        retry_seconds: Sequence[float] | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.retry_seconds = list(
            retry_seconds if retry_seconds is not None else settings.webhook_retry_seconds
        )
        self.timeout = settings.webhook_timeout_seconds
        self.lease = timedelta(seconds=lease_seconds if lease_seconds is not None else self.timeout + 30)
        self.per_endpoint = settings.webhook_max_in_flight_per_endpoint
        self.max_in_flight = settings.webhook_max_in_flight
        self.disable_after = timedelta(hours=settings.webhook_disable_after_hours)
        self.in_flight: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(allow_private=settings.webhook_private_urls_allowed()),
            max_connections=self.max_in_flight,
            retries=0,
        )

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Until `stop` is set; deliveries in flight then get their timeout to finish."""
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except Exception:
                    log.exception("events.relay_failed")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, self._wake), timeout=interval)
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=self.timeout + 1)
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self._pool.aclose()

    async def step(self) -> int:
        """Fan out new events, then start the due deliveries there is room for; how many started."""
        await self.fan_out()
        room = self.max_in_flight - sum(self.in_flight.values())
        if room <= 0:
            return 0
        claimed = await self.claim(room)
        for item in claimed:
            self.in_flight[item.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(item))
            self.tasks.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    async def drain(self) -> None:
        """Run steps until nothing is due and nothing is in flight (tests, the listen command)."""
        while True:
            started = await self.step()
            if self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
            elif not started:
                return

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self._wake.set()

    # -- the database --------------------------------------------------------------------------

    async def fan_out(self) -> int:
        """A pending delivery for each new event and each enabled endpoint subscribed to its
        type (the endpoints at that moment); how many events were fanned out."""
        now = utcnow()
        async with transaction(self.session_factory) as session:
            events = (
                await session.execute(
                    select(OutboundEvent.id, OutboundEvent.type)
                    .where(OutboundEvent.fanned_out_at.is_(None))
                    .order_by(OutboundEvent.created_at)
                    .limit(FAN_OUT_BATCH)
                )
            ).all()
            if not events:
                return 0
            endpoints = (
                await session.execute(
                    select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                        WebhookEndpoint.enabled.is_(True)
                    )
                )
            ).all()
            rows = [
                {
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "status": "pending",
                    "attempt": 0,
                    "next_retry_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for event_id, event_type in events
                for endpoint_id, types in endpoints
                if not types or event_type in types
            ]
            if rows:
                await session.execute(
                    upsert_insert(session, WebhookDelivery)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["event_id", "endpoint_id"])
                )
            await session.execute(
                update(OutboundEvent)
                .where(OutboundEvent.id.in_([event_id for event_id, _ in events]))
                .values(fanned_out_at=now)
            )
        return len(events)

    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries of enabled endpoints that have room."""
        now = utcnow()
        full = [endpoint for endpoint, n in self.in_flight.items() if n >= self.per_endpoint]
        claimed: list[Claimed] = []
        async with transaction(self.session_factory) as session:
            stmt = (
                select(WebhookDelivery, WebhookEndpoint, OutboundEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(OutboundEvent, OutboundEvent.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_retry_at <= now,
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_retry_at, WebhookDelivery.id)
                .limit(limit * 4)
            )
            if full:
                stmt = stmt.where(WebhookDelivery.endpoint_id.not_in(full))
            taken: Counter[str] = Counter()
            for delivery, endpoint, event in await session.execute(stmt):
                if (
                    len(claimed) >= limit
                    or self.in_flight[endpoint.id] + taken[endpoint.id] >= self.per_endpoint
                ):
                    continue
                won = await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery.id,
                        WebhookDelivery.status == "pending",
                        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                    )
                    .values(lease_until=now + self.lease, updated_at=now)
                )
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker took it
                taken[endpoint.id] += 1
                claimed.append(
                    Claimed(
                        delivery_id=delivery.id,
                        endpoint_id=endpoint.id,
                        url=endpoint.url,
                        secrets=active_secrets(endpoint, now),
                        event=payload(event),
                    )
                )
        return claimed

    async def record(self, item: Claimed, outcome: Outcome) -> None:
        now = utcnow()
        async with transaction(self.session_factory) as session:
            delivery = await session.get(WebhookDelivery, item.delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "pending":
                return  # deleted with its endpoint, or already recorded by another worker
            attempts = delivery.attempt + 1
            values: dict[str, Any] = {
                "attempt": attempts,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "lease_until": None,
                "updated_at": now,
            }
            endpoint = update(WebhookEndpoint).where(WebhookEndpoint.id == item.endpoint_id)
            if outcome.ok:
                values |= {"status": "delivered", "delivered_at": now, "next_retry_at": None}
                await session.execute(endpoint.values(failing_since=None))
            else:
                delay = retry_delay(attempts, self.retry_seconds)
                values |= (
                    {"next_retry_at": now + delay}
                    if delay is not None
                    else {"status": "failed", "next_retry_at": None}
                )
                await self._endpoint_failed(session, item.endpoint_id, now, outcome)
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == item.delivery_id).values(values)
            )
        log.info(
            "events.delivery",
            delivery_id=item.delivery_id,
            endpoint_id=item.endpoint_id,
            event_type=item.event["type"],
            attempt=values["attempt"],
            status_code=outcome.status_code,
            error=outcome.error,
        )

    async def _endpoint_failed(
        self, session: AsyncSession, endpoint_id: str, now: datetime, outcome: Outcome
    ) -> None:
        """Remember since when the endpoint fails; past `disable_after` without a 2xx it is disabled."""
        endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None:
            return
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        elif endpoint.enabled and now - endpoint.failing_since >= self.disable_after:
            endpoint.enabled = False
            endpoint.disabled_reason = (
                f"disabled automatically at {now.isoformat()}: no successful delivery since "
                f"{endpoint.failing_since.isoformat()} (last error: {outcome.error or outcome.status_code})"
            )
            log.warning("events.endpoint_disabled", endpoint_id=endpoint_id)
        endpoint.updated_at = now
        await session.flush()

    # -- the network ---------------------------------------------------------------------------

    async def _deliver(self, item: Claimed) -> None:
        try:
            outcome = await self.send(item)
            await self.record(item, outcome)
        except Exception:
            log.exception("events.delivery_crashed", delivery_id=item.delivery_id)
        finally:
            self.in_flight[item.endpoint_id] -= 1
            if self.in_flight[item.endpoint_id] <= 0:
                del self.in_flight[item.endpoint_id]

    async def send(self, item: Claimed) -> Outcome:
        body = json.dumps(item.event, separators=(",", ":"))
        headers = signed_headers(event_id=item.event["id"], body=body, secrets_=item.secrets, at=utcnow())
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self.timeout):
                status, head, location = await self._post(item.url, headers, body.encode())
        except TimeoutError:
            return Outcome(None, took(), f"timed out after {self.timeout:g} s")
        except UrlRefused as exc:
            return Outcome(None, took(), f"destination refused: {exc}")
        except httpcore.UnsupportedProtocol as exc:
            return Outcome(None, took(), f"unsupported URL: {exc}")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException, OSError) as exc:
            return Outcome(None, took(), f"{type(exc).__name__}: {exc}"[:ERROR_EXCERPT])
        if 200 <= status < 300:
            return Outcome(status, took(), None)
        if 300 <= status < 400:
            return Outcome(status, took(), f"redirect to {location or '?'} not followed")
        excerpt = head.decode("utf-8", "replace")[:ERROR_EXCERPT]
        return Outcome(status, took(), f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}")

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str | None]:
        timeouts = {
            "connect": self.timeout,
            "read": self.timeout,
            "write": self.timeout,
            "pool": self.timeout,
        }
        async with self._pool.stream(
            "POST", url, headers=list(headers.items()), content=body, extensions={"timeout": timeouts}
        ) as response:
            head = b""
            async for chunk in response.aiter_stream():
                head += chunk
                if len(head) >= RESPONSE_CAP:
                    break  # the rest is never read; the connection is dropped
            location = next(
                (v.decode("latin-1") for k, v in response.headers if k.lower() == b"location"), None
            )
            return response.status, head[:RESPONSE_CAP], location


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
