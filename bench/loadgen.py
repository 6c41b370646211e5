"""Load generator for the checkout benchmark: one asyncio process, N keep-alive clients.

Run by bench/run.py as a separate process (so its CPU is not the server's):

    python bench/loadgen.py CONFIG.json   → prints one JSON result line on stdout

It speaks HTTP/1.1 over raw asyncio streams (keep-alive, Content-Length or chunked bodies) rather
than through httpx: a full-featured client costs ~10x more CPU per request, and on a small machine
that would cap the `hello` baseline at the client's speed instead of the server's.

Every client runs back to back (closed loop): a warm-up phase whose requests are not recorded,
then a measurement window. A request counts if it completes inside the window (throughput = those ÷
window length; the window starts in steady state, so latencies include no cold start). Loops are
bounded by time (the window) and by count (`max_ops_per_client`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

try:  # uvloop comes with uvicorn[standard]; the plain loop works too, just slower
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

API = "/stripe/fastapi/api/v1/stripe"
SLOTS_PER_DAY = 24  # bench practitioners are available 00:00-24:00 UTC every day
FIRST_DAY = 2  # days ahead of the first slot (well past the 60-minute minimum lead)


class HTTPError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection; reconnects after a close or an error."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> tuple[int, bytes]:
        try:
            return await self._request(method, path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self.close()
            raise

    async def _request(
        self, method: str, path: str, body: bytes, headers: tuple[tuple[bytes, bytes], ...]
    ) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None or self.reader.at_eof():
            self.close()  # the server closed an idle keep-alive connection: open a new one
            await self._open()
        assert self.reader is not None and self.writer is not None
        head = [
            f"{method} {path} HTTP/1.1".encode(),
            b"host: " + self.host_header,
            b"content-length: " + str(len(body)).encode(),
        ]
        head.extend(k + b": " + v for k, v in headers)
        self.writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            data = b"".join(parts)
        elif length is not None:
            data = await self.reader.readexactly(length)
        else:
            data = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, data


def json_headers(token: str | None) -> tuple[tuple[bytes, bytes], ...]:
    h: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json"),)
    if token:
        h += ((b"authorization", b"Bearer " + token.encode()),)
    return h


def slot(index: int) -> tuple[str, str]:
    """The index-th free slot of a bench practitioner (one hour, from FIRST_DAY days ahead)."""
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = base + timedelta(days=FIRST_DAY + index // SLOTS_PER_DAY, hours=index % SLOTS_PER_DAY)
    return start.isoformat(), (start + timedelta(hours=1)).isoformat()


def calc_body() -> bytes:
    """A single-session cart for the demo catalog (service 123 with practitioner 456)."""
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    return json.dumps(
        {
            "checkout_type": "single_session",
            "items": [
                {
                    "service_id": 123,
                    "practitioner_id": 456,
                    "start_time": start.isoformat(),
                    "end_time": (start + timedelta(hours=1)).isoformat(),
                }
            ],
            "use_credits": True,
            "metadata": {"source": "bench"},
        }
    ).encode()


@dataclass
class Recorder:
    window_start: float
    window_end: float
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    warmup_ops: int = 0

    def in_window(self, t1: float) -> bool:
        """Completions inside the window count (wherever they started): steady-state throughput."""
        return self.window_start <= t1 <= self.window_end

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


@dataclass
class Client:
    n: int
    cfg: dict[str, Any]
    rec: Recorder
    api: Conn
    emu: Conn | None = None
    slot_index: int = 0

    @property
    def token(self) -> str:
        tokens = self.cfg["tokens"]
        return str(tokens[self.n % len(tokens)])

    def next_create_body(self) -> bytes:
        pracs = self.cfg["practitioners"]
        service_id, practitioner_id = pracs[self.n % len(pracs)]
        start, end = slot(self.cfg["slot_base"] + self.slot_index)
        self.slot_index += 1
        return json.dumps(
            {
                "checkout_type": "single_session",
                "items": [
                    {
                        "service_id": service_id,
                        "practitioner_id": practitioner_id,
                        "start_time": start,
                        "end_time": end,
                    }
                ],
                "metadata": {"source": "bench"},
            }
        ).encode()

    async def op(self, scenario: str) -> dict[str, float] | None:
        """One operation; returns per-step latencies, or None after recording an error."""
        if scenario in ("hello", "db"):
            status, data = await self.api.request(
                "POST", f"/{scenario}", self.cfg["calc_body"], json_headers(None)
            )
            return {} if status == 200 else self._fail(scenario, status, data)
        if scenario == "calc":
            status, data = await self.api.request(
                "POST", f"{API}/checkout/calculate-price", self.cfg["calc_body"], json_headers(self.token)
            )
            return {} if status == 200 else self._fail(scenario, status, data)
        if scenario in ("slots", "db-slots"):
            path = f"{API}/catalog/availability" if scenario == "slots" else "/db-slots"
            status, data = await self.api.request(
                "GET", f"{path}?{self.cfg['slots_query']}", b"", json_headers(self.token)
            )
            return {} if status == 200 else self._fail(scenario, status, data)
        steps: dict[str, float] = {}
        t = time.perf_counter()
        status, data = await self.api.request(
            "POST", f"{API}/checkout/create", self.next_create_body(), json_headers(self.token)
        )
        steps["create"] = time.perf_counter() - t
        if status != 201:
            return self._fail("create", status, data)
        if scenario == "create":
            return steps
        created = json.loads(data)
        assert self.emu is not None
        t = time.perf_counter()
        form = urlencode(
            {"client_secret": created["client_secret"], "payment_method": "pm_card_visa"}
        ).encode()
        auth = b"Basic " + base64.b64encode(self.cfg["publishable_key"].encode() + b":")
        status, data = await self.emu.request(
            "POST",
            f"/v1/payment_intents/{created['payment_intent_id']}/confirm",
            form,
            ((b"content-type", b"application/x-www-form-urlencoded"), (b"authorization", auth)),
        )
        steps["pay"] = time.perf_counter() - t
        if status != 200 or json.loads(data).get("status") != "succeeded":
            return self._fail("pay", status, data)
        t = time.perf_counter()
        status, data = await self.api.request(
            "POST",
            f"{API}/payment/confirm",
            json.dumps({"payment_intent_id": created["payment_intent_id"]}).encode(),
            json_headers(self.token),
        )
        steps["confirm"] = time.perf_counter() - t
        if status != 200 or json.loads(data).get("status") != "completed":
            return self._fail("confirm", status, data)
        return steps

    def _fail(self, step: str, status: int, data: bytes) -> None:
        self.rec.error(f"{step}: HTTP {status} {data[:200]!r}")
        return None

    async def run(self, scenario: str, max_ops: int) -> None:
        for _ in range(max_ops):
            t0 = time.perf_counter()
            if t0 >= self.rec.window_end:
                return
            try:
                steps = await self.op(scenario)
            except Exception as exc:
                self.rec.error(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)
                continue
            t1 = time.perf_counter()
            if steps is None:
                continue
            if self.rec.in_window(t1):
                self.rec.latencies.append(t1 - t0)
                for k, v in steps.items():
                    self.rec.steps.setdefault(k, []).append(v)
            elif t1 < self.rec.window_start:
                self.rec.warmup_ops += 1


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k] * 1000


def summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {
        "p50_ms": pct(s, 50),
        "p95_ms": pct(s, 95),
        "p99_ms": pct(s, 99),
        "max_ms": s[-1] * 1000 if s else float("nan"),
        "mean_ms": sum(s) / len(s) * 1000 if s else float("nan"),
    }


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    scenario = cfg["scenario"]
    cfg["calc_body"] = calc_body()
    now = time.perf_counter()
    rec = Recorder(window_start=now + cfg["warmup_s"], window_end=now + cfg["warmup_s"] + cfg["duration_s"])
    clients = [
        Client(
            n,
            cfg,
            rec,
            Conn(cfg["target"]),
            Conn(cfg["emulator"]) if scenario == "flow" else None,
        )
        for n in range(cfg["concurrency"])
    ]
    hard_limit = cfg["warmup_s"] + cfg["duration_s"] + cfg.get("grace_s", 60)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(c.run(scenario, cfg["max_ops_per_client"]) for c in clients)), hard_limit
        )
    finally:
        for c in clients:
            c.api.close()
            if c.emu is not None:
                c.emu.close()
    ops = len(rec.latencies)
    return {
        "scenario": scenario,
        "concurrency": cfg["concurrency"],
        "duration_s": cfg["duration_s"],
        "ops": ops,
        "warmup_ops": rec.warmup_ops,
        "throughput": ops / cfg["duration_s"],
        **summary(rec.latencies),
        "steps": {k: summary(v) for k, v in rec.steps.items()},
        "errors": rec.errors,
        "error_samples": rec.error_samples,
        "slots_used": max((c.slot_index for c in clients), default=0),
    }


if __name__ == "__main__":
    config = json.loads(Path(sys.argv[1]).read_text())
    result = uvloop.run(main(config)) if uvloop is not None else asyncio.run(main(config))
    print(json.dumps(result), flush=True)
