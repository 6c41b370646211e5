"""In-memory state of the emulator: objects, events, idempotency records, faults and config.

All mutation happens under ``state.lock`` (a re-entrant thread lock). Request handlers are
synchronous and never await while holding it, so the state is safe both for asyncio (many requests
on one loop) and for the background threads that deliver webhooks and run delayed transitions.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import heapq
import hmac
import itertools
import json
import random
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

DEFAULT_API_VERSION = "2026-10-28.endive"

DEFAULT_CONFIG: dict[str, Any] = {
    # Webhook delivery: attempt n (1-based) failing is retried after
    # min(webhook_initial_delay * webhook_backoff_factor ** (n - 1), webhook_max_delay) seconds.
    "webhook_max_attempts": 6,
    "webhook_initial_delay": 1.0,
    "webhook_backoff_factor": 2.0,
    "webhook_max_delay": 60.0,
    "webhook_timeout": 10.0,
    # When > 0, a successful automatic-capture confirmation passes through `processing` for this
    # long (emitting payment_intent.processing) before `succeeded`.
    "processing_delay_ms": 0,
    # When > 0, refunds are created `pending` and become `succeeded` after this delay
    # (emitting refund.updated and charge.refund.updated).
    "refund_delay_ms": 0,
    # Stripe's asynchronous-success refund card (4000000000007726, pm_card_pendingRefund): its
    # refunds stay `pending` at least this long (or refund_delay_ms, if longer).
    "refund_pending_card_delay_ms": 200,
    # Stripe's asynchronous-failure refund card (4000000000005126, pm_card_refundFail): its refunds
    # become `failed` this long after they became `succeeded` (emitting refund.updated,
    # charge.refund.updated and refund.failed).
    "refund_failure_delay_ms": 200,
    "idempotency_ttl_seconds": 24 * 3600,
    # A subscription left `incomplete` (first invoice unpaid) becomes `incomplete_expired` this long
    # after its creation, as Stripe's 23 hours. Subscriptions on a test clock follow the clock instead.
    "subscription_incomplete_expiry_seconds": 23 * 3600,
    "api_version": DEFAULT_API_VERSION,
}

_CONFIG_TYPES: dict[str, type] = {
    "webhook_max_attempts": int,
    "webhook_initial_delay": float,
    "webhook_backoff_factor": float,
    "webhook_max_delay": float,
    "webhook_timeout": float,
    "processing_delay_ms": int,
    "refund_delay_ms": int,
    "refund_pending_card_delay_ms": int,
    "refund_failure_delay_ms": int,
    "idempotency_ttl_seconds": int,
    "subscription_incomplete_expiry_seconds": int,
    "api_version": str,
}

_ALNUM = string.ascii_letters + string.digits

# The time objects and events are stamped with: a test clock's frozen time while a request or an
# advance works on that clock's objects, else the wall clock (see ``frozen_at``).
_FROZEN_TIME: ContextVar[int | None] = ContextVar("stripe_emulator_frozen_time", default=None)


def now() -> int:
    frozen = _FROZEN_TIME.get()
    return frozen if frozen is not None else int(time.time())


@contextlib.contextmanager
def frozen_at(timestamp: int | None) -> Iterator[None]:
    """Stamp what happens inside with ``timestamp`` (a test clock's time); ``None`` changes nothing."""
    if timestamp is None:
        yield
        return
    token = _FROZEN_TIME.set(timestamp)
    try:
        yield
    finally:
        _FROZEN_TIME.reset(token)


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALNUM) for _ in range(length))


def sign_payload(payload: str, secret: str, timestamp: int) -> str:
    """Stripe's webhook signature header value for ``payload``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    drop_rate: float = 0.0
    route: str | None = None
    count: int | None = None
    # "before": the request is not executed; "after": it is executed, then the response is
    # replaced by the error / the connection is dropped (as if the reply got lost).
    phase: str = "before"
    # counters (read-only for clients)
    matched: int = 0
    errors_injected: int = 0
    drops_injected: int = 0

    def active(self) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        return bool(self.latency_ms or self.error_rate or self.drop_rate)

    def matches(self, method: str, path: str) -> bool:
        if not self.route:
            return True
        target = f"{method.upper()} {path}"
        try:
            return re.search(self.route, target) is not None
        except re.error:
            return self.route in target

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["active"] = self.active()
        return d


def build_faults(data: dict[str, Any]) -> Faults:
    """Validate a fault specification (raises ValueError with a readable message)."""
    allowed = {"latency_ms", "error_rate", "error_status", "drop_rate", "route", "count", "phase"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    f = Faults()
    if "latency_ms" in data:
        f.latency_ms = int(data["latency_ms"] or 0)
        if f.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
    for name in ("error_rate", "drop_rate"):
        if name in data:
            val = float(data[name] or 0.0)
            if not 0.0 <= val <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(f, name, val)
    if f.error_rate + f.drop_rate > 1.0:
        raise ValueError("error_rate + drop_rate must not exceed 1")
    if data.get("error_status") is not None:
        f.error_status = int(data["error_status"])
        if not (500 <= f.error_status <= 599 or f.error_status == 429):
            raise ValueError("error_status must be 429 or 5xx")
    if data.get("route"):
        f.route = str(data["route"])
    if data.get("count") is not None:
        f.count = int(data["count"])
        if f.count < 0:
            raise ValueError("count must be >= 0")
    if data.get("phase"):
        if data["phase"] not in ("before", "after"):
            raise ValueError("phase must be 'before' or 'after'")
        f.phase = data["phase"]
    return f


@dataclass
class IdempotencyRecord:
    method: str
    path: str
    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]
    created: float
    request_id: str


@dataclass
class Store:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscription_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_clocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)


class Scheduler:
    """Runs callables at a later time on a small thread pool (never on the API's event loop)."""

    def __init__(self, workers: int = 8) -> None:
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._workers = workers
        self._closed = False

    @property
    def generation(self) -> int:
        return self._generation

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cond:
            if self._closed:
                return
            if self._thread is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="stripe-emulator-job")
                self._thread = threading.Thread(
                    target=self._loop, name="stripe-emulator-scheduler", daemon=True
                )
                self._thread.start()
            heapq.heappush(
                self._heap, (time.monotonic() + max(delay, 0.0), next(self._seq), self._generation, fn)
            )
            self._cond.notify()

    def cancel_all(self) -> None:
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = (self._heap[0][0] - time.monotonic()) if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, gen, fn = heapq.heappop(self._heap)
                if gen != self._generation:
                    continue
            assert self._pool is not None
            try:
                self._pool.submit(self._run, gen, fn)
            except RuntimeError:  # pool shut down
                return

    def _run(self, gen: int, fn: Callable[[], None]) -> None:
        if gen != self._generation:
            return
        try:
            fn()
        except Exception:  # noqa: S110 - background job errors must not kill the pool
            pass


class EmulatorState:
    """Everything the emulator knows. One instance per app (a single Stripe test account)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.lock = threading.RLock()
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)
        if config:
            self.update_config(config)
        self.faults = Faults()
        self.scheduler = Scheduler()
        self.store = Store()
        self._http: httpx.Client | None = None
        # endpoints registered at startup (CLI flags) survive reset()
        self._persistent_endpoints: list[dict[str, Any]] = []
        self._last_purge = 0.0

    # --- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every object, event, idempotency key, pending delivery and fault."""
        with self.lock:
            self.scheduler.cancel_all()
            self.store = Store()
            self.faults = Faults()
            for ep in self._persistent_endpoints:
                self.store.webhook_endpoints[ep["id"]] = copy.deepcopy(ep)

    def close(self) -> None:
        self.scheduler.close()
        if self._http is not None:
            self._http.close()

    def update_config(self, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            for key, value in values.items():
                if key not in _CONFIG_TYPES:
                    raise ValueError(f"unknown config key: {key}")
                value = _CONFIG_TYPES[key](value)
                if isinstance(value, (int, float)) and value < 0:
                    raise ValueError(f"{key} must be >= 0")
                if key == "webhook_max_attempts" and value < 1:
                    raise ValueError("webhook_max_attempts must be >= 1")
                self.config[key] = value
            return dict(self.config)

    # --- webhook endpoints -------------------------------------------------------------------
    def add_webhook_endpoint(
        self,
        url: str,
        secret: str | None = None,
        enabled_events: list[str] | None = None,
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        api_version: str | None = None,
        persistent: bool = False,
    ) -> dict[str, Any]:
        with self.lock:
            ep = {
                "id": new_id("we"),
                "object": "webhook_endpoint",
                "api_version": api_version,
                "application": None,
                "created": int(time.time()),
                "description": description,
                "enabled_events": list(enabled_events or ["*"]),
                "livemode": False,
                "metadata": dict(metadata or {}),
                "secret": secret or ("whsec_" + secrets.token_hex(24)),
                "status": "enabled",
                "url": url,
            }
            self.store.webhook_endpoints[str(ep["id"])] = ep
            if persistent:
                self._persistent_endpoints.append(copy.deepcopy(ep))
            return copy.deepcopy(ep)

    # --- events and delivery ------------------------------------------------------------------
    def emit(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event (``obj`` must already be the public snapshot) and queue its delivery."""
        with self.lock:
            targets = [
                ep
                for ep in self.store.webhook_endpoints.values()
                if ep["status"] == "enabled"
                and ("*" in ep["enabled_events"] or type_ in ep["enabled_events"])
            ]
            data: dict[str, Any] = {"object": obj}
            if previous_attributes is not None:
                data["previous_attributes"] = previous_attributes
            event = {
                "id": new_id("evt"),
                "object": "event",
                "api_version": self.config["api_version"],
                "created": now(),
                "data": data,
                "livemode": False,
                "pending_webhooks": len(targets),
                "request": {"id": request_id, "idempotency_key": idempotency_key},
                "type": type_,
            }
            self.store.events[event["id"]] = event
            for ep in targets:
                payload_event = dict(event)
                if ep.get("api_version"):
                    payload_event["api_version"] = ep["api_version"]
                payload = json.dumps(payload_event, indent=2)
                self._schedule_delivery(ep["id"], ep["url"], ep["secret"], event["id"], payload, 1, 0.0)
            return event

    def _schedule_delivery(
        self, endpoint_id: str, url: str, secret: str, event_id: str, payload: str, attempt: int, delay: float
    ) -> None:
        gen = self.scheduler.generation

        def job() -> None:
            self._deliver(gen, endpoint_id, url, secret, event_id, payload, attempt)

        self.scheduler.schedule(delay, job)

    def _client(self) -> httpx.Client:
        with self.lock:
            if self._http is None:
                self._http = httpx.Client(follow_redirects=False)
            return self._http

    def _deliver(
        self, gen: int, endpoint_id: str, url: str, secret: str, event_id: str, payload: str, attempt: int
    ) -> None:
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign_payload(payload, secret, ts),
        }
        status: int | None = None
        error: str | None = None
        started = time.time()
        try:
            resp = self._client().post(
                url, content=payload.encode(), headers=headers, timeout=self.config["webhook_timeout"]
            )
            status = resp.status_code
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        with self.lock:
            if gen != self.scheduler.generation:
                return  # reset happened meanwhile
            max_attempts = self.config["webhook_max_attempts"]
            will_retry = not ok and attempt < max_attempts
            delay = 0.0
            if will_retry:
                delay = min(
                    self.config["webhook_initial_delay"]
                    * self.config["webhook_backoff_factor"] ** (attempt - 1),
                    self.config["webhook_max_delay"],
                )
            self.store.deliveries.append(
                {
                    "event_id": event_id,
                    "webhook_endpoint": endpoint_id,
                    "url": url,
                    "attempt": attempt,
                    "status_code": status,
                    "error": error,
                    "succeeded": ok,
                    "at": started,
                    "duration_ms": int((time.time() - started) * 1000),
                    "next_retry_in": delay if will_retry else None,
                }
            )
            event = self.store.events.get(event_id)
            if event is not None and (ok or not will_retry):
                event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            if will_retry:
                self._schedule_delivery(endpoint_id, url, secret, event_id, payload, attempt + 1, delay)

    # --- faults ------------------------------------------------------------------------------
    def pick_fault(self, method: str, path: str) -> tuple[int, str | None, Faults] | None:
        """Decide the fault for one request: (latency_ms, "error"|"drop"|None, faults snapshot)."""
        with self.lock:
            f = self.faults
            if not f.active() or not f.matches(method, path):
                return None
            f.matched += 1
            if f.count is not None:
                f.count -= 1
            roll = random.random()
            action: str | None = None
            if roll < f.drop_rate:
                action = "drop"
                f.drops_injected += 1
            elif roll < f.drop_rate + f.error_rate:
                action = "error"
                f.errors_injected += 1
            return f.latency_ms, action, copy.copy(f)

    # --- idempotency housekeeping --------------------------------------------------------------
    def purge_idempotency(self) -> None:
        """Forget idempotency records older than the TTL (at most one sweep every 10 s)."""
        ttl = self.config["idempotency_ttl_seconds"]
        now = time.time()
        with self.lock:
            if now - self._last_purge < 10 and ttl >= 10:
                return
            self._last_purge = now
            stale = [k for k, rec in self.store.idempotency.items() if now - rec.created > ttl]
            for k in stale:
                del self.store.idempotency[k]
