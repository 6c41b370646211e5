"""Database round trips of one request, counted on the wire.

The service's endpoints (calculate-price, the availability listing) run in process behind a
PostgreSQL wire-protocol proxy that counts the client's Sync and simple Query messages; SQLAlchemy
events group the statements by pool checkout. That shape (statements per checkout) is the plan
the matching baseline endpoint (`/db`, `/db-slots` in bench/baseline_app.py) follows, and the
baseline is counted through the same proxy to check it makes as many round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from bench.common import API, PG_HOST, PG_PORT, PG_USER, ROOT

CALLS = 20  # requests counted (after 5 warm-up ones); the figure is the mean per request


class WireCounter:
    """A PostgreSQL TCP proxy that counts client round trips (Sync and simple Query messages)."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(PG_HOST, PG_PORT)

        async def upstream_to_client() -> None:
            with contextlib.suppress(Exception):
                while data := await up_r.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        task = asyncio.create_task(upstream_to_client())
        try:
            startup = True
            while True:
                if startup:  # untyped messages: SSLRequest / GSSENCRequest / StartupMessage
                    head = await reader.readexactly(8)
                    body = await reader.readexactly(int.from_bytes(head[:4], "big") - 8)
                    up_w.write(head + body)
                    code = int.from_bytes(head[4:8], "big")
                    startup = code in (80877103, 80877104)  # SSL/GSS request: a startup follows
                    continue
                head = await reader.readexactly(5)
                body = await reader.readexactly(int.from_bytes(head[1:5], "big") - 4)
                if head[:1] in (b"S", b"Q"):
                    self.round_trips += 1
                up_w.write(head + body)
                await up_w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_w.close()
            task.cancel()


@dataclass
class RoundTrips:
    """One endpoint of the service next to its baseline."""

    service: float  # round trips per request of the service's endpoint
    baseline: float  # round trips per request of its baseline endpoint, which follows `plan`
    statements: list[str]  # the service's statements (first 90 characters each)
    plan: list[int]  # statements per pool checkout (transaction), in order
    response: dict[str, int] = field(default_factory=dict)  # what one response carried

    @property
    def checkouts(self) -> int:
        return len(self.plan)


@dataclass
class Probe:
    """One request to count: method, path (with query), body."""

    method: str
    path: str
    body: bytes = b""


async def count_round_trips(
    db: str, env: dict[str, str], token: str, slots_query: str | None = None
) -> dict[str, RoundTrips]:
    """Round trips of calculate-price (`calc`, baseline `/db`) and, given the availability query
    string, of the availability listing (`slots`, baseline `/db-slots`)."""
    import httpx
    from sqlalchemy import event

    sys.path.insert(0, str(ROOT))
    from bench.baseline_app import create_app as create_baseline
    from bench.loadgen import calc_body
    from estuary_checkout.app import create_app
    from estuary_checkout.config import Settings
    from estuary_checkout.state import AppState

    body = calc_body()
    probes = {"calc": Probe("POST", f"{API}/checkout/calculate-price", body)}
    baseline_probes = {"calc": Probe("POST", "/db", body)}
    if slots_query is not None:
        probes["slots"] = Probe("GET", f"{API}/catalog/availability?{slots_query}")
        baseline_probes["slots"] = Probe("GET", f"/db-slots?{slots_query}")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    counter = WireCounter()
    await counter.start()
    url = f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{counter.port}/{db}"

    async def count(client: httpx.AsyncClient, probe: Probe, before_each: Any = None) -> tuple[float, bytes]:
        for _ in range(5):  # warm: connections opened, statements prepared
            r = await client.request(probe.method, probe.path, content=probe.body, headers=headers)
            assert r.status_code == 200, r.text
        counter.round_trips = 0
        for _ in range(CALLS):
            if before_each is not None:
                before_each()
            r = await client.request(probe.method, probe.path, content=probe.body, headers=headers)
        return counter.round_trips / CALLS, r.content

    settings = Settings(
        **{k[len("CHECKOUT_") :].lower(): v for k, v in env.items() if k.startswith("CHECKOUT_")}
        | {"database_url": url}
    )
    state = AppState.build(settings)
    app = create_app(settings, state=state)
    groups: list[list[str]] = []

    @event.listens_for(state.engine.sync_engine.pool, "checkout")
    def _checkout(*_a: Any) -> None:
        groups.append([])

    @event.listens_for(state.engine.sync_engine, "before_cursor_execute")
    def _execute(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        groups[-1].append(" ".join(statement.split())[:90])

    measured: dict[str, tuple[float, list[int], list[str], bytes]] = {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
            for name, probe in probes.items():
                rt, content = await count(c, probe, groups.clear)
                measured[name] = (rt, [len(g) for g in groups], [s for g in groups for s in g], content)
    finally:
        await state.aclose()

    # the baseline app reads its plans and database from the environment, as when served
    saved = {k: os.environ.get(k) for k in ("BENCH_DB_PLAN", "BENCH_SLOTS_PLAN", "CHECKOUT_DATABASE_URL")}
    os.environ["BENCH_DB_PLAN"] = ",".join(map(str, measured["calc"][1]))
    if "slots" in measured:
        os.environ["BENCH_SLOTS_PLAN"] = ",".join(map(str, measured["slots"][1]))
    os.environ["CHECKOUT_DATABASE_URL"] = url
    result = {}
    try:
        base = create_baseline()
        async with (
            base.router.lifespan_context(base),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=base), base_url="http://bench") as c,
        ):
            for name, probe in baseline_probes.items():
                base_rt, _ = await count(c, probe)
                rt, plan, statements, content = measured[name]
                response = {"bytes": len(content)}
                if name == "slots":
                    response["slots"] = len(json.loads(content)["slots"])
                result[name] = RoundTrips(rt, base_rt, statements, plan, response)
    finally:
        await counter.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return result
