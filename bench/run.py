"""Checkout benchmark: `make bench` (full) or `make bench-quick` (a few minutes).

What it does, all on 127.0.0.1 and every process cleaned up on exit (even on failure):

1. creates a fresh PostgreSQL database (dropped at the end), applies migrations
   (`estuary-checkout migrate`), loads the demo catalog (`seed-demo`) and adds bench
   practitioners (available 24 h a day) so single-session creates never run out of slots;
2. counts the database round trips of one calculate-price request (in process, through a
   PostgreSQL wire-protocol proxy that counts Sync/Query messages) and configures the `db`
   baseline to make exactly as many; the count is checked on the baseline the same way;
3. starts the Temporal dev server (free ports), the Stripe emulator (own process, zero latency,
   webhooks delivered to the API like `make run`), `estuary-checkout worker`, the API (uvicorn,
   ONE worker) and the baseline app (same uvicorn flags);
4. runs bench/loadgen.py as a separate process for each window: hello, db, calculate-price,
   create, create→pay→confirm at 20 and 50 clients (warm-up first, then a measured window);
5. grows the orders table (1k → 1M rows, seeded in SQL) and measures calculate-price (and create)
   at each size;
6. writes docs/benchmarks.md (between the markers) and docs/benchmark.png, and prints one line:
   calc_vs_db=X create_vs_hello=Y flow_vs_hello=Z growth_p99=W
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCS = ROOT / "docs"
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
JWT_SECRET = "bench-jwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PUBLISHABLE_KEY = "pk_test_bench_publishable"
WEBHOOK_SECRET = "whsec_bench_webhook_secret"
API = "/stripe/fastapi/api/v1/stripe"
UVICORN_FLAGS = ["--host", "127.0.0.1", "--workers", "1", "--log-level", "warning", "--no-access-log"]
BENCH_PRACTITIONERS = 64  # one per client at 50 clients: no two clients ever race for a slot
PRAC_BASE, SERVICE_BASE = 10_001, 20_001
SEED_USERS = 10_000  # owners of the seeded orders
MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Mode:
    name: str
    warmup_s: float
    duration_s: float
    concurrencies: tuple[int, ...]
    growth_sizes: tuple[int, ...]
    growth_warmup_s: float
    growth_duration_s: float
    write_warmup_s: float
    write_duration_s: float
    growth_create: bool
    # hello, db and calculate-price run this many times, interleaved (hello, db, calc, hello, …);
    # each is reported by its median window, so one noisy window cannot make a ratio
    reps: int = 1


QUICK = Mode("quick", 2, 5, (20, 50), (1_000, 1_000_000), 2, 8, 3, 8, False, reps=5)
FULL = Mode("full", 5, 20, (20, 50), (1_000, 10_000, 100_000, 1_000_000), 5, 20, 5, 30, True, reps=3)
SMOKE = Mode("smoke", 1, 2, (20, 50), (1_000, 10_000), 1, 2, 1, 3, True)  # harness check only


# ---------------------------------------------------------------------------------------------
# processes


@dataclass
class Stack:
    workdir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(  # own process group: stopped as a group, never by name
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((name, proc))
        return proc

    def stop_one(self, name: str) -> None:
        for i, (n, proc) in enumerate(self.procs):
            if n == name:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
                del self.procs[i]
                return

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.workdir / name}.log")

    def stop(self) -> None:
        """Stop in reverse start order (the worker before Temporal), each group TERM then KILL."""
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()


def wait_for(what: str, check: Any, timeout: float, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.25)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s; logs in {stack.workdir}")


def http_ok(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=2).status_code == 200


# ---------------------------------------------------------------------------------------------
# database


async def pg(db: str = "postgres") -> asyncpg.Connection:
    return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=db)


async def create_db(name: str) -> None:
    conn = await pg()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_db(name: str) -> None:
    conn = await pg()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def add_bench_catalog(db: str) -> list[list[int]]:
    """Practitioners available all day, each with a 60-minute session service (usd 100.00)."""
    conn = await pg(db)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO practitioner (id, name, timezone, is_active, created_at)
                SELECT g, 'Bench practitioner ' || g, 'UTC', true, now()
                FROM generate_series($1::int, $2::int) g;
                """,
                PRAC_BASE,
                PRAC_BASE + BENCH_PRACTITIONERS - 1,
            )
            await conn.execute(
                """
                INSERT INTO availability_window (practitioner_id, weekday, start_minute, end_minute)
                SELECT p, d, 0, 1440 FROM generate_series($1::int, $2::int) p, generate_series(0, 6) d;
                """,
                PRAC_BASE,
                PRAC_BASE + BENCH_PRACTITIONERS - 1,
            )
            await conn.execute(
                """
                INSERT INTO service (id, type, name, practitioner_id, price_cents, currency, duration_minutes,
                                     is_active, max_per_customer, bonus_sessions, created_at)
                SELECT $3::int + (p - $1::int), 'session', 'Bench Session ' || p, p, 10000, 'usd', 60,
                       true, 5, 0, now()
                FROM generate_series($1::int, $2::int) p;
                """,
                PRAC_BASE,
                PRAC_BASE + BENCH_PRACTITIONERS - 1,
                SERVICE_BASE,
            )
    finally:
        await conn.close()
    return [[SERVICE_BASE + i, PRAC_BASE + i] for i in range(BENCH_PRACTITIONERS)]


async def reset_orders(db: str) -> None:
    """Empty the orders table (and what hangs off it) before the growth series."""
    conn = await pg(db)
    try:
        await conn.execute("SET lock_timeout = '60s'")
        await conn.execute('TRUNCATE "order" CASCADE')
        await conn.execute(
            """
            INSERT INTO "user" (external_id, email, roles, created_at, updated_at)
            SELECT 'seed|' || g, 'seed' || g || '@example.com', '[]'::jsonb, now(), now()
            FROM generate_series(1, $1::int) g
            ON CONFLICT DO NOTHING;
            """,
            SEED_USERS,
        )
    finally:
        await conn.close()


async def grow_orders(db: str, target: int) -> tuple[int, float]:
    """Insert completed past orders (valid for every CHECK) until the table holds `target` rows."""
    conn = await pg(db)
    started = time.monotonic()
    try:
        have = int(await conn.fetchval('SELECT count(*) FROM "order"'))
        first_user = int(await conn.fetchval("SELECT min(id) FROM \"user\" WHERE external_id LIKE 'seed|%'"))
        step = 250_000
        while have < target:
            n = min(step, target - have)
            await conn.execute(
                """
                INSERT INTO "order" (id, user_id, checkout_type, status, currency, subtotal_cents,
                    discount_cents, tax_cents, credits_applied_cents, total_cents, refunded_cents,
                    save_payment_method, payment_status, metadata, expires_at, completed_at,
                    created_at, updated_at, payment_intent_id)
                SELECT gen_random_uuid(), $1::bigint + (g % $2::int),
                    (ARRAY['single_session', 'bundle', 'package'])[1 + g % 3],
                    (ARRAY['completed', 'completed', 'completed', 'expired', 'refunded'])[1 + g % 5],
                    'usd', 10000, (g % 3) * 500, 875 - (g % 3) * 44, (g % 2) * 1000,
                    10000 - (g % 3) * 500 + 875 - (g % 3) * 44 - (g % 2) * 1000, 0,
                    false, 'paid', '{}'::jsonb, t + interval '15 minutes', t + interval '2 minutes', t, t,
                    'pi_seed_' || $3::bigint + g
                FROM (SELECT g, now() - (g % 525600) * interval '1 minute' - interval '1 day' AS t
                      FROM generate_series(1, $4::int) g) s;
                """,
                first_user,
                SEED_USERS,
                have,
                n,
            )
            have += n
        await conn.execute('VACUUM ANALYZE "order"')
        return int(await conn.fetchval('SELECT count(*) FROM "order"')), time.monotonic() - started
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------
# round trips of one calculate-price request


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
    calc: float
    db: float
    statements: list[str]
    plan: list[int]
    checkouts: int


async def count_round_trips(db: str, env: dict[str, str], token: str) -> RoundTrips:
    import httpx
    from sqlalchemy import event

    sys.path.insert(0, str(ROOT))
    from bench.baseline_app import create_app as create_baseline
    from estuary_checkout.app import create_app
    from estuary_checkout.config import Settings
    from estuary_checkout.state import AppState

    counter = WireCounter()
    await counter.start()
    url = f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{counter.port}/{db}"
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

    from bench.loadgen import calc_body

    body = calc_body()
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    calls = 20
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
            for _ in range(5):  # warm: connections opened, statements prepared
                r = await c.post(f"{API}/checkout/calculate-price", content=body, headers=headers)
                assert r.status_code == 200, r.text
            counter.round_trips = 0
            for _ in range(calls):
                groups.clear()
                await c.post(f"{API}/checkout/calculate-price", content=body, headers=headers)
            calc_rt = counter.round_trips / calls
        plan = [len(g) for g in groups]
        statements = [s for g in groups for s in g]
    finally:
        await state.aclose()
    os.environ["BENCH_DB_PLAN"] = ",".join(map(str, plan))
    os.environ["CHECKOUT_DATABASE_URL"] = url
    base = create_baseline()
    try:
        async with (
            base.router.lifespan_context(base),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=base), base_url="http://bench") as c,
        ):
            for _ in range(5):
                r = await c.post("/db", content=body, headers=headers)
                assert r.status_code == 200, r.text
            counter.round_trips = 0
            for _ in range(calls):
                await c.post("/db", content=body, headers=headers)
            db_rt = counter.round_trips / calls
    finally:
        await counter.close()
    return RoundTrips(calc_rt, db_rt, statements, plan, len(plan))


# ---------------------------------------------------------------------------------------------
# load windows


CLK_TCK = os.sysconf("SC_CLK_TCK")
LOADGEN_STARTUP_S = 0.3  # about how long the load generator takes to start before its clock runs


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _postgres_cpu_s() -> float:
    """All PostgreSQL processes on the machine (server and backends; pooled backends live on)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(entry.path, "comm").read_text().strip() == "postgres":
                    total += _cpu_s(int(entry.name))
            except OSError:
                continue
    return total


def cpu_snapshot(stack: Stack, loadgen_pid: int) -> dict[str, float]:
    snap = {name: _cpu_s(proc.pid) for name, proc in stack.procs}
    snap["postgres"] = _postgres_cpu_s()
    snap["loadgen"] = _cpu_s(loadgen_pid)
    return snap


def run_window(
    stack: Stack, scenario: str, concurrency: int, warmup: float, duration: float, extra: dict[str, Any]
) -> dict[str, Any]:
    """One load window. Also samples every process's CPU time across (about) the measured part,
    so the report can say where the CPU of one operation goes."""
    stack.check_alive()
    cfg = {
        "scenario": scenario,
        "concurrency": concurrency,
        "warmup_s": warmup,
        "duration_s": duration,
        "max_ops_per_client": 1_000_000,
        "grace_s": 60,
        **extra,
    }
    path = stack.workdir / f"load-{scenario}-{concurrency}.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(LOADGEN_STARTUP_S + warmup)
    before, t0 = cpu_snapshot(stack, proc.pid), time.monotonic()
    time.sleep(duration)
    after, t1 = cpu_snapshot(stack, proc.pid), time.monotonic()
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {scenario}/{concurrency} failed: {stderr[-2000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    ops = result["throughput"] * (t1 - t0)
    result["cpu_ms_per_op"] = {
        name: (after[name] - before.get(name, after[name])) * 1000 / ops if ops else float("nan")
        for name in after
    }
    log(
        f"{scenario:>6} c={concurrency:<3} {result['throughput']:8.1f}/s  p50 {result['p50_ms']:7.1f}  "
        f"p95 {result['p95_ms']:7.1f}  p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}"
    )
    if result["errors"]:
        log(f"  error samples: {result['error_samples'][:3]}")
    return result


def settle(db: str, emu_url: str, stack: Stack, limit: float = 120) -> None:
    """Wait until earlier windows' aftermath is done: webhook deliveries and outbox rows (workflow
    starts the worker relays to Temporal). Bounded by `limit` seconds."""
    import httpx

    async def backlog() -> int:
        conn = await pg(db)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE dispatched_at IS NULL AND available_at <= now()"
                )
            )
        finally:
            await conn.close()

    started = time.monotonic()
    while time.monotonic() - started < limit:
        stack.check_alive()
        pending = httpx.get(f"{emu_url}/_emulator/webhook_deliveries?event_id=none", timeout=10).json()[
            "pending"
        ]
        outbox = asyncio.run(backlog())
        if not pending and not outbox:
            break
        time.sleep(0.5)
    else:
        log(f"settle: still busy after {limit:.0f} s (webhooks {pending}, outbox {outbox}); going on")
    waited = time.monotonic() - started
    if waited > 1:
        log(f"settle: {waited:.1f} s for webhooks and outbox to drain")
    time.sleep(1)


# ---------------------------------------------------------------------------------------------
# report


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    import importlib.metadata as md

    versions = {}
    for pkg in ("fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "asyncpg", "stripe", "uvloop"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[pkg] = md.version(pkg)
    return {
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs)",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


LABELS = {
    "hello": "hello (baseline: bare FastAPI, parse body)",
    "db": "db (baseline: bare FastAPI + same DB round trips)",
    "calc": "calculate-price",
    "create": "create (single session, PaymentIntent at emulator)",
    "flow": "create → pay at emulator → confirm (completed orders)",
}


CPU_COLUMNS = ("api", "baseline", "postgres", "emulator", "worker", "temporal", "loadgen")
# the targets for the final line's ratios
RATIO_TARGETS = {
    "calc_vs_db": (0.8, "≥"),
    "create_vs_hello": (0.10, "≥"),
    "flow_vs_hello": (0.03, "≥"),
    "growth_p99": (1.3, "≤"),
}


def cpu_section(ctx: dict[str, Any]) -> list[str]:
    """Where one operation's CPU goes, and what CPU per operation the targets leave."""
    res: dict[tuple[str, int], dict[str, Any]] = ctx["results"]
    c = max(ctx["mode"].concurrencies)
    if "cpu_ms_per_op" not in res[("hello", c)]:
        return []
    ncpu = os.cpu_count() or 1
    lines = [
        "",
        f"### Where the CPU of one operation goes ({c} clients)",
        "",
        "CPU time (user + system, from `/proc`) each process used during the measured window, divided "
        "by the operations completed in it: ms of CPU per request (per completed order for flow). "
        "`postgres` is every PostgreSQL process; `loadgen` is the load generator.",
        "",
        "| scenario | " + " | ".join(CPU_COLUMNS) + " | total |",
        "|---|" + "---:|" * (len(CPU_COLUMNS) + 1),
    ]
    for sc in ("hello", "db", "calc", "create", "flow"):
        cpu = res[(sc, c)]["cpu_ms_per_op"]
        cells = [cpu.get(k, 0.0) for k in CPU_COLUMNS]
        lines.append(f"| {sc} | " + " | ".join(fmt(v, 2) for v in cells) + f" | {fmt(sum(cells), 2)} |")
    hello = res[("hello", c)]["throughput"]
    lines += [
        "",
        f"What the targets ask for, on this machine's {ncpu} CPUs: the target rate is the ratio × "
        f"hello's {fmt(hello)} req/s, and {ncpu} CPU-seconds per second shared by every process "
        "allow at most this much CPU per operation:",
        "",
        "| scenario | target rate /s | CPU budget per op (ms) | measured total (ms) | Temporal + worker alone (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for sc in ("create", "flow"):
        ratio = RATIO_TARGETS[f"{sc}_vs_hello"][0]
        cpu = res[(sc, c)]["cpu_ms_per_op"]
        total = sum(cpu.get(k, 0.0) for k in CPU_COLUMNS)
        rate = ratio * hello
        lines.append(
            f"| {sc} | {fmt(rate)} | {fmt(ncpu * 1000 / rate, 2)} | {fmt(total, 2)} | "
            f"{fmt(cpu.get('temporal', 0.0) + cpu.get('worker', 0.0), 2)} |"
        )
    return lines


def render_report(ctx: dict[str, Any]) -> str:
    res: dict[tuple[str, int], dict[str, Any]] = ctx["results"]
    mode: Mode = ctx["mode"]
    rt: RoundTrips = ctx["round_trips"]
    info = machine_info()
    lines = [
        MARK_BEGIN,
        "<!-- generated by bench/run.py; edit outside the markers -->",
        "",
        f"**Last run:** {ctx['date']} · mode `{mode.name}` (warm-up + measured window: "
        f"{mode.warmup_s:g} + {mode.duration_s:g} s for hello/db/calculate-price, "
        f"{mode.write_warmup_s:g} + {mode.write_duration_s:g} s for create and flow) · "
        f"total {ctx['elapsed']:.0f} s",
        "",
        "```",
        ctx["final_line"],
        "```",
        "",
        "| ratio (50 clients) | value | target |",
        "|---|---:|---:|",
    ]
    for key, (target, op) in RATIO_TARGETS.items():
        v = ctx["ratios"][key]
        ok = v >= target if op == "≥" else v <= target
        lines.append(f"| `{key}` | {v:.3f} | {op} {target} {'✅' if ok else '❌'} |")
    lines += [
        "",
        "### Throughput and latency",
        "",
        "Closed loop: each client sends its next request when the previous one answered. Latency is "
        "per request (per completed flow for the flow row). `vs hello` / `vs db` = throughput ÷ the "
        "baseline's at the same concurrency.",
        "",
        "| scenario | clients | req/s | p50 ms | p95 ms | p99 ms | errors | vs hello | vs db |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in mode.concurrencies:
        hello, dbr = res[("hello", c)]["throughput"], res[("db", c)]["throughput"]
        for s in ("hello", "db", "calc", "create", "flow"):
            r = res[(s, c)]
            lines.append(
                f"| {LABELS[s]} | {c} | {fmt(r['throughput'])} | {fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} | "
                f"{fmt(r['p99_ms'])} | {r['errors']} | {r['throughput'] / hello:.3f} | "
                f"{r['throughput'] / dbr:.3f} |"
            )
    if mode.reps > 1:
        lines += [
            "",
            f"hello, db and calculate-price each ran {mode.reps} times, interleaved; each row is the "
            "median window. All windows (req/s):",
            "",
        ]
        for c in mode.concurrencies:
            lines.append(
                f"* {c} clients: "
                + "; ".join(
                    f"{s} " + ", ".join(fmt(t) for t in res[(s, c)].get("all_throughputs", []))
                    for s in ("hello", "db", "calc")
                )
            )
    lines += cpu_section(ctx)
    lines += ["", "Flow steps (p50 / p99 ms, as seen by the client):", ""]
    for c in mode.concurrencies:
        steps = res[("flow", c)]["steps"]
        lines.append(
            f"* {c} clients: "
            + "; ".join(f"{k} {fmt(v['p50_ms'])} / {fmt(v['p99_ms'])}" for k, v in steps.items())
        )
    lines += [
        "",
        "### Latency as the orders table grows",
        "",
        "Orders seeded in SQL (completed/expired/refunded past orders of "
        f"{SEED_USERS:,} users, every CHECK satisfied), then `VACUUM ANALYZE`; "
        f"{ctx['growth_clients']} clients, {mode.growth_warmup_s:g} s warm-up + "
        f"{mode.growth_duration_s:g} s per point.",
        "",
        "| orders rows | seeding s | calc req/s | calc p50 ms | calc p99 ms | create req/s | create p50 ms | create p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    nan = {"throughput": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan")}
    for g in ctx["growth"]:
        c, k = g["calc"], g.get("create", nan)
        lines.append(
            f"| {g['rows']:,} | {g['seed_s']:.1f} | {fmt(c['throughput'])} | {fmt(c['p50_ms'])} | "
            f"{fmt(c['p99_ms'])} | {fmt(k['throughput'])} | {fmt(k['p50_ms'])} | {fmt(k['p99_ms'])} |"
        )
    if not mode.growth_create:
        lines += ["", "(create is measured at each size only in the full run.)"]
    lines += [
        "",
        "### Database round trips of one calculate-price request",
        "",
        f"Measured on the wire (PostgreSQL Sync/Query messages through a counting proxy, after warm-up): "
        f"**{rt.calc:g}** per calculate-price request; the `db` baseline makes **{rt.db:g}**. "
        f"They come from {rt.checkouts} pool checkouts (transactions) with "
        f"{' + '.join(map(str, rt.plan))} statements; each checkout also costs BEGIN and COMMIT (plus 3 round trips of "
        "SQLAlchemy's pre-ping where `CHECKOUT_DB_POOL_PRE_PING` is on; off by default). Statements:",
        "",
    ]
    lines += [f"{i + 1}. `{s}`" for i, s in enumerate(rt.statements)]
    lines += [
        "",
        "### Setup",
        "",
        f"* Machine: {info['cpu']}, {info['memory']} RAM, {info['os']}, Python {info['python']}, "
        f"{ctx['pg_version']}",
        f"* Packages: {info['packages']}",
        "* Everything on one machine: the API (one uvicorn worker), PostgreSQL, the Stripe emulator, "
        "the worker, the Temporal dev server and the load generator share the CPUs. Load average "
        f"(1/5/15 min) before the run {' '.join(ctx['loadavg'][0])}, after {' '.join(ctx['loadavg'][1])} "
        "(anything else running on the machine shows up here and in the numbers).",
        f"* Server: `uvicorn estuary_checkout.app:create_app --factory {' '.join(UVICORN_FLAGS)}`; "
        f"baselines: `uvicorn bench.baseline_app:create_app --factory` with the same flags.",
        "* Settings: `CHECKOUT_ENV=test`, a fresh PostgreSQL database per run (dropped at the end), "
        "emulator with zero latency and webhook delivery to the API, `CHECKOUT_RATE_LIMIT_PER_MINUTE` "
        "and `CHECKOUT_MAX_PENDING_ORDERS` = 1000000, `CHECKOUT_LOG_LEVEL=WARNING`.",
        f"* Load: `bench/loadgen.py` (raw asyncio HTTP/1.1 keep-alive, uvloop), one user and one "
        f"connection per client; creates use {BENCH_PRACTITIONERS} bench practitioners (one per client) "
        "available 24 h, each slot used once; calculate-price prices service 123 with practitioner 456 "
        "(`use_credits`).",
        "",
        "Rerun: `make bench` (full: ~12 min) or `make bench-quick` (~7 min). Raw results: "
        f"`{ctx['raw_path']}`.",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"


def write_report(ctx: dict[str, Any], path: Path) -> None:
    generated = render_report(ctx)
    if path.exists() and MARK_BEGIN in (old := path.read_text()) and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        path.write_text(head + generated + ("\n" + tail if tail else ""))
    else:
        path.write_text("# Benchmarks\n\n" + generated)


def write_chart(ctx: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = ctx["results"]
    mode: Mode = ctx["mode"]
    scen = ["hello", "db", "calc", "create", "flow"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    width = 0.8 / len(mode.concurrencies)
    for i, c in enumerate(mode.concurrencies):
        xs = [j + i * width for j in range(len(scen))]
        ys = [res[(s, c)]["throughput"] for s in scen]
        bars = ax.bar(xs, ys, width, label=f"{c} clients")
        ax.bar_label(bars, labels=[f"{y:.0f}" for y in ys], fontsize=7)
    ax.set_xticks([j + width * (len(mode.concurrencies) - 1) / 2 for j in range(len(scen))], scen)
    ax.set_yscale("log")
    ax.set_ylabel("requests (flows) per second")
    ax.set_title("Throughput, one uvicorn worker")
    ax.legend()
    ax = axes[1]
    c = max(mode.concurrencies)
    for k, p in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        xs = [j + k * 0.27 for j in range(len(scen))]
        ax.bar(xs, [res[(s, c)][p] for s in scen], 0.27, label=p.replace("_ms", ""))
    ax.set_xticks([j + 0.27 for j in range(len(scen))], scen)
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title(f"Latency at {c} clients")
    ax.legend()
    ax = axes[2]
    rows = [g["rows"] for g in ctx["growth"]]
    for key, label in (("calc", "calculate-price"), ("create", "create")):
        if not all(key in g for g in ctx["growth"]):
            continue
        ax.plot(rows, [g[key]["p50_ms"] for g in ctx["growth"]], "o-", label=f"{label} p50")
        ax.plot(rows, [g[key]["p99_ms"] for g in ctx["growth"]], "s--", label=f"{label} p99")
    ax.set_xscale("log")
    ax.set_xlabel("rows in orders table")
    ax.set_ylabel("ms")
    ax.set_title(f"Latency vs orders table size ({ctx['growth_clients']} clients)")
    ax.legend()
    fig.suptitle(f"Estuary Checkout benchmark ({mode.name}, {ctx['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# main


def bench(
    mode: Mode, workdir: Path, stack: Stack, db: str, use_webhooks: bool, hold: float = 0
) -> dict[str, Any]:
    started = time.monotonic()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    ports = {k: free_port() for k in ("api", "base", "emu", "temporal", "temporal_ui")}
    api_url = f"http://127.0.0.1:{ports['api']}"
    emu_url = f"http://127.0.0.1:{ports['emu']}"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CHECKOUT_ENV": "test",
        "CHECKOUT_DATABASE_URL": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}",
        "CHECKOUT_JWT_SECRET": JWT_SECRET,
        "CHECKOUT_STRIPE_API_BASE": emu_url,
        "CHECKOUT_STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "CHECKOUT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CHECKOUT_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "CHECKOUT_RATE_LIMIT_PER_MINUTE": "1000000",
        "CHECKOUT_MAX_PENDING_ORDERS": "1000000",
        "CHECKOUT_LOG_LEVEL": "WARNING",
        "CHECKOUT_HOST": "127.0.0.1",
        "CHECKOUT_PORT": str(ports["api"]),
    }
    cli = str(BIN / "estuary-checkout")
    tokens = [prepare_database(db, env)]
    practitioners = asyncio.run(add_bench_catalog(db))
    n_users = max(mode.concurrencies)
    tokens += asyncio.run(mint_tokens(env, [f"bench-{i}@example.com" for i in range(1, n_users)]))

    log("counting database round trips of calculate-price")
    rt = asyncio.run(count_round_trips(db, env, tokens[0]))
    log(f"calculate-price: {rt.calc:g} round trips (plan {rt.plan}); db baseline: {rt.db:g}")
    env["BENCH_DB_PLAN"] = ",".join(map(str, rt.plan))

    log("starting temporal, emulator, worker, api, baselines")
    stack.start(
        "temporal",
        [
            str(BIN / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(ports["temporal"]),
            "--ui-port",
            str(ports["temporal_ui"]),
            "--headless",
            "--db-filename",
            str(workdir / "temporal.db"),
            "--log-level",
            "error",
        ],
        env,
    )
    emu_cmd = [cli, "stripe-emulator", "--port", str(ports["emu"])]
    if use_webhooks:
        emu_cmd += [
            "--webhook-url",
            f"{api_url}{API}/webhooks/stripe",
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--webhook-events",
            "handled",  # the service's own subscription list, as a production endpoint would have
        ]
    stack.start("emulator", emu_cmd, env)
    uv = str(BIN / "uvicorn")
    stack.start(
        "api",
        [uv, "estuary_checkout.app:create_app", "--factory", "--port", str(ports["api"]), *UVICORN_FLAGS],
        env,
    )
    stack.start(
        "baseline",
        [uv, "bench.baseline_app:create_app", "--factory", "--port", str(ports["base"]), *UVICORN_FLAGS],
        env,
    )
    wait_for("temporal", lambda: port_open(ports["temporal"]), 60, stack)
    stack.start("worker", [cli, "worker"], env)
    wait_for("emulator", lambda: port_open(ports["emu"]), 30, stack)
    wait_for("api", lambda: http_ok(f"{api_url}/stripe/fastapi/stripe/ready"), 60, stack)
    wait_for("baseline", lambda: port_open(ports["base"]), 30, stack)
    time.sleep(2)
    stack.check_alive()

    if hold:
        info = {
            "api": api_url,
            "baseline": f"http://127.0.0.1:{ports['base']}",
            "emulator": emu_url,
            "tokens": tokens,
            "practitioners": practitioners,
            "db": db,
            "pids": {name: p.pid for name, p in stack.procs},
        }
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "bench-stack.json").write_text(json.dumps(info, indent=1))
        log(f"stack up, details in var/bench-stack.json; holding for {hold:.0f} s")
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            stack.check_alive()
            time.sleep(1)
        raise SystemExit(0)  # the finally block in main() stops everything

    common = {
        "emulator": emu_url,
        "tokens": tokens,
        "practitioners": practitioners,
        "publishable_key": PUBLISHABLE_KEY,
        "slot_base": 0,
    }
    slot_base = 0
    results: dict[tuple[str, int], dict[str, Any]] = {}

    def window(scenario: str, c: int, warm: float, dur: float) -> dict[str, Any]:
        nonlocal slot_base
        target = f"http://127.0.0.1:{ports['base']}" if scenario in ("hello", "db") else api_url
        r = run_window(stack, scenario, c, warm, dur, {**common, "target": target, "slot_base": slot_base})
        slot_base += r["slots_used"] + 1
        return r

    # read-only windows first, then the writing ones (whose webhooks and workflow starts are
    # drained by settle() before the next window, so no window pays for another's aftermath)
    # 1. read-only windows on a quiet system
    for c in mode.concurrencies:
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in ("hello", "db", "calc")}
        for _rep in range(mode.reps):
            for s in runs:
                settle(db, emu_url, stack)
                runs[s].append(window(s, c, mode.warmup_s, mode.duration_s))
        for s, rs in runs.items():
            median = sorted(rs, key=lambda r: r["throughput"])[len(rs) // 2]
            results[(s, c)] = {**median, "all_throughputs": [r["throughput"] for r in rs]}

    # the baselines are done: stop their server so its idle pool frees PostgreSQL connections
    stack.stop_one("baseline")

    # 2. the orders table grows (still quiet: no writes have run yet)
    growth_clients = max(mode.concurrencies)
    log("growth: seeding users for the orders")
    asyncio.run(reset_orders(db))
    growth = []
    for size in mode.growth_sizes:
        rows, seed_s = asyncio.run(grow_orders(db, size))
        log(f"growth: {rows:,} orders (seeded in {seed_s:.1f} s)")
        point: dict[str, Any] = {"rows": rows, "seed_s": seed_s}
        settle(db, emu_url, stack)
        point["calc"] = window("calc", growth_clients, mode.growth_warmup_s, mode.growth_duration_s)
        if mode.growth_create:
            settle(db, emu_url, stack)
            point["create"] = window("create", growth_clients, mode.growth_warmup_s, mode.growth_duration_s)
        growth.append(point)
    asyncio.run(reset_orders(db))

    # 3. writing windows; settle() drains each one's webhooks and workflow starts before the next
    for c in mode.concurrencies:
        for s in ("create", "flow"):
            settle(db, emu_url, stack)
            results[(s, c)] = window(s, c, mode.write_warmup_s, mode.write_duration_s)

    r50 = {s: results[(s, max(mode.concurrencies))] for s in ("hello", "db", "calc", "create", "flow")}
    ratios = {
        "calc_vs_db": r50["calc"]["throughput"] / r50["db"]["throughput"],
        "create_vs_hello": r50["create"]["throughput"] / r50["hello"]["throughput"],
        "flow_vs_hello": r50["flow"]["throughput"] / r50["hello"]["throughput"],
        "growth_p99": growth[-1]["calc"]["p99_ms"] / growth[0]["calc"]["p99_ms"],
    }
    final_line = " ".join(f"{k}={v:.3f}" for k, v in ratios.items())
    windows = [*results.values(), *(g[k] for g in growth for k in ("calc", "create") if k in g)]
    complete = all(r["ops"] > 0 and not r["errors"] for r in windows)
    if not complete:
        log("WARNING: a window had errors or completed nothing; see the report")
    pg_version = asyncio.run(server_version())
    return {
        "mode": mode,
        "results": results,
        "growth": growth,
        "growth_clients": growth_clients,
        "round_trips": rt,
        "ratios": ratios,
        "final_line": final_line,
        "complete": complete,
        "loadavg": (load_before, Path("/proc/loadavg").read_text().split()[:3]),
        "pg_version": pg_version,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed": time.monotonic() - started,
    }


async def server_version() -> str:
    conn = await pg()
    try:
        return "PostgreSQL " + str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


def prepare_database(db: str, env: dict[str, str]) -> str:
    """Migrations and the demo catalog on env's database (`db`); returns a token for the first
    bench user (the CLI creates the user on first sight)."""
    cli = str(BIN / "estuary-checkout")
    log(f"database {db}: migrate + seed-demo")
    subprocess.run([cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([cli, "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    token = subprocess.run(
        [cli, "token", "--user-email", "bench-0@example.com", "--ttl", "7200"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return token.stdout.strip().splitlines()[-1]


async def mint_tokens(env: dict[str, str], emails: list[str]) -> list[str]:
    """What `estuary-checkout token --user-email E` does, for many users in one process."""
    from estuary_checkout.auth.service import create_token
    from estuary_checkout.config import Settings
    from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
    from estuary_checkout.users import service as users_service

    settings = Settings(
        **{k[len("CHECKOUT_") :].lower(): v for k, v in env.items() if k.startswith("CHECKOUT_")}
    )
    engine = make_engine(settings.database_url)
    tokens = []
    try:
        async for session in session_scope(make_session_factory(engine)):
            for email in emails:
                sub = users_service.demo_sub(email)
                await users_service.get_or_create(session, sub=sub, email=email, roles=[])
                tokens.append(create_token(settings, sub=sub, email=email, roles=[], ttl_seconds=7200))
    finally:
        await engine.dispose()
    return tokens


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short windows, growth 1k and 1M (~7 min)")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-webhooks", action="store_true", help="do not deliver emulator webhooks to the API"
    )
    parser.add_argument("--report", default=str(DOCS / "benchmarks.md"))
    parser.add_argument("--chart", default=str(DOCS / "benchmark.png"))
    parser.add_argument("--hold", type=float, default=0, help=argparse.SUPPRESS)  # debug/profiling
    parser.add_argument("--keep-logs", action="store_true", help="keep process logs (printed path)")
    args = parser.parse_args()
    mode = SMOKE if args.smoke else QUICK if args.quick else FULL

    workdir = Path(tempfile.mkdtemp(prefix="checkout-bench-"))
    db = f"bench_{os.getpid()}_{int(time.time())}"
    stack = Stack(workdir)

    def _terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    ok = False
    try:
        asyncio.run(create_db(db))
        ctx = bench(mode, workdir, stack, db, use_webhooks=not args.no_webhooks, hold=args.hold)
        raw = ROOT / "var" / "bench-results.json"
        raw.parent.mkdir(exist_ok=True)
        raw.write_text(
            json.dumps(
                {
                    "ratios": ctx["ratios"],
                    "results": {f"{s}@{c}": r for (s, c), r in ctx["results"].items()},
                    "growth": ctx["growth"],
                    "round_trips": ctx["round_trips"].__dict__,
                },
                indent=1,
            )
        )
        ctx["raw_path"] = "var/bench-results.json"
        write_report(ctx, Path(args.report))
        write_chart(ctx, Path(args.chart))
        log(f"wrote {args.report} and {args.chart}")
        ok = True
    finally:
        stack.stop()
        with contextlib.suppress(Exception):
            asyncio.run(drop_db(db))
        if ok and not args.keep_logs:
            for p in workdir.iterdir():
                p.unlink()
            workdir.rmdir()
        else:
            log(f"process logs kept in {workdir}")
    print(ctx["final_line"], flush=True)
    return 0 if ctx["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
