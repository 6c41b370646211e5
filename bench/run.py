"""Checkout benchmark: `make bench` (full) or `make bench-quick` (a few minutes).

What it does, all on 127.0.0.1 and every process cleaned up on exit (even on failure):

1. creates a fresh PostgreSQL database (dropped at the end), applies migrations
   (`estuary-checkout migrate`), loads the demo catalog (`seed-demo`), adds bench practitioners
   (available 24 h a day) so single-session creates never run out of slots, and confirmed
   bookings for demo practitioner 456 over the availability scenario's 7 days (bench/seeding.py);
2. counts the database round trips of one calculate-price request and of one availability
   listing (in process, through a PostgreSQL wire-protocol proxy that counts Sync/Query messages)
   and configures the `db` and `db-slots` baselines to make exactly as many; the counts are
   checked on the baselines the same way (bench/roundtrips.py);
3. starts the Temporal dev server (free ports), the Stripe emulator (own process, zero latency,
   webhooks delivered to the API like `make run`), `estuary-checkout worker`, the API (uvicorn,
   ONE worker) and the baseline app (same uvicorn flags) (bench/stack.py), and samples the
   resident memory of the API, worker and emulator;
4. runs bench/loadgen.py as a separate process for each window (bench/measure.py): hello, db,
   calculate-price, db-slots, the availability listing (interleaved, repeated), then create and
   create→pay→confirm, at 20 and 50 clients (warm-up first, then a measured window);
5. grows the orders table (1k → 1M rows, seeded in SQL) and measures calculate-price (and create)
   at each size;
6. samples resident memory again, writes docs/benchmarks.md (between the markers) and
   docs/benchmark.png (bench/report.py), and prints one line:
   calc_vs_db=A slots_vs_db=B create_vs_hello=C flow_vs_hello=D growth_p99=E
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if sys.path[0] == str(ROOT / "bench"):  # run as a script: import `bench` as a package, not its files
    sys.path[0] = str(ROOT)

from bench.common import (  # noqa: E402
    AVAIL_DAYS,
    AVAIL_FIRST_DAY,
    AVAIL_GRID_STARTS_PER_DAY,
    AVAIL_PRACTITIONER,
    AVAIL_SERVICE,
    BASELINE_SCENARIOS,
    DOCS,
    FULL,
    JWT_SECRET,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PUBLISHABLE_KEY,
    QUICK,
    READ_SCENARIOS,
    SMOKE,
    WEBHOOK_SECRET,
    WRITE_SCENARIOS,
    Mode,
    availability_range,
    log,
)
from bench.measure import run_window, settle  # noqa: E402
from bench.report import ratios_of, write_chart, write_report  # noqa: E402
from bench.roundtrips import count_round_trips  # noqa: E402
from bench.seeding import (  # noqa: E402
    add_availability_bookings,
    add_bench_catalog,
    create_db,
    drop_db,
    grow_orders,
    mint_tokens,
    prepare_database,
    reset_orders,
    server_version,
)
from bench.stack import Stack, free_port, rss_snapshot, start_services  # noqa: E402


def service_env(db: str, ports: dict[str, int]) -> dict[str, str]:
    """The environment of every serving process (and of the CLI calls that prepare the database)."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CHECKOUT_ENV": "test",
        "CHECKOUT_DATABASE_URL": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}",
        "CHECKOUT_JWT_SECRET": JWT_SECRET,
        "CHECKOUT_STRIPE_API_BASE": f"http://127.0.0.1:{ports['emu']}",
        "CHECKOUT_STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "CHECKOUT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CHECKOUT_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "CHECKOUT_RATE_LIMIT_PER_MINUTE": "1000000",
        "CHECKOUT_MAX_PENDING_ORDERS": "1000000",
        "CHECKOUT_LOG_LEVEL": "WARNING",
        "CHECKOUT_HOST": "127.0.0.1",
        "CHECKOUT_PORT": str(ports["api"]),
    }


def hold_stack(info: dict[str, Any], stack: Stack, hold: float) -> None:
    """--hold: leave the stack up for profiling, its details in var/bench-stack.json."""
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "bench-stack.json").write_text(json.dumps(info, indent=1))
    log(f"stack up, details in var/bench-stack.json; holding for {hold:.0f} s")
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        stack.check_alive()
        time.sleep(1)
    raise SystemExit(0)  # the finally block in main() stops everything


def bench(
    mode: Mode, workdir: Path, stack: Stack, db: str, use_webhooks: bool, hold: float = 0
) -> dict[str, Any]:
    started = time.monotonic()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    ports = {k: free_port() for k in ("api", "base", "emu", "temporal", "temporal_ui")}
    api_url = f"http://127.0.0.1:{ports['api']}"
    emu_url = f"http://127.0.0.1:{ports['emu']}"
    env = service_env(db, ports)

    tokens = [prepare_database(db, env)]
    practitioners = asyncio.run(add_bench_catalog(db))
    avail_from, avail_to = availability_range()
    bookings = asyncio.run(add_availability_bookings(db, avail_from, avail_to))
    slots_query = urlencode(
        {
            "service_id": AVAIL_SERVICE,
            "practitioner_id": AVAIL_PRACTITIONER,
            "from": avail_from.isoformat(),
            "to": avail_to.isoformat(),
        }
    )
    log(f"availability: {bookings} confirmed bookings of practitioner {AVAIL_PRACTITIONER} in {slots_query}")
    n_users = max(mode.concurrencies)
    tokens += asyncio.run(mint_tokens(env, [f"bench-{i}@example.com" for i in range(1, n_users)]))

    log("counting database round trips of calculate-price and of the availability listing")
    rts = asyncio.run(count_round_trips(db, env, tokens[0], slots_query))
    for name, rt in rts.items():
        log(f"{name}: {rt.service:g} round trips (plan {rt.plan}); its baseline: {rt.baseline:g}")
    env["BENCH_DB_PLAN"] = ",".join(map(str, rts["calc"].plan))
    env["BENCH_SLOTS_PLAN"] = ",".join(map(str, rts["slots"].plan))

    log("starting temporal, emulator, worker, api, baselines")
    start_services(stack, ports, env, workdir, use_webhooks)
    rss = {"start": rss_snapshot(stack)}

    if hold:
        info = {
            "api": api_url,
            "baseline": f"http://127.0.0.1:{ports['base']}",
            "emulator": emu_url,
            "tokens": tokens,
            "practitioners": practitioners,
            "availability_query": slots_query,
            "db": db,
            "pids": {name: p.pid for name, p in stack.procs},
        }
        hold_stack(info, stack, hold)

    common = {
        "emulator": emu_url,
        "tokens": tokens,
        "practitioners": practitioners,
        "publishable_key": PUBLISHABLE_KEY,
        "slots_query": slots_query,
        "slot_base": 0,
    }
    slot_base = 0
    results: dict[tuple[str, int], dict[str, Any]] = {}

    def window(scenario: str, c: int, warm: float, dur: float) -> dict[str, Any]:
        nonlocal slot_base
        target = f"http://127.0.0.1:{ports['base']}" if scenario in BASELINE_SCENARIOS else api_url
        r = run_window(stack, scenario, c, warm, dur, {**common, "target": target, "slot_base": slot_base})
        slot_base += r["slots_used"] + 1
        return r

    # read-only windows first, then the writing ones (whose webhooks and workflow starts are
    # drained by settle() before the next window, so no window pays for another's aftermath)
    # 1. read-only windows on a quiet system, interleaved and repeated; each reported by its median
    for c in mode.concurrencies:
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in READ_SCENARIOS}
        for _rep in range(mode.reps):
            for s in runs:
                settle(db, emu_url, stack)
                runs[s].append(window(s, c, mode.warmup_s, mode.duration_s))
        for s, rs in runs.items():
            median = sorted(rs, key=lambda r: r["throughput"])[len(rs) // 2]
            results[(s, c)] = {**median, "all_throughputs": [r["throughput"] for r in rs]}
    rss["after_reads"] = rss_snapshot(stack)

    # the baselines are done: stop their server so its idle pool frees PostgreSQL connections
    stack.stop_one("baseline")

    # 2. the orders table grows (still quiet: no writes have run yet); its TRUNCATE also removes
    # the availability bookings, whose windows are done
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
        for s in WRITE_SCENARIOS:
            settle(db, emu_url, stack)
            results[(s, c)] = window(s, c, mode.write_warmup_s, mode.write_duration_s)
    rss["end"] = rss_snapshot(stack)
    for name, snap in rss["end"].items():
        log(f"rss {name}: {rss['start'][name]['rss_mb']:.1f} MB at start, {snap['rss_mb']:.1f} MB at the end")

    ratios = ratios_of(results, growth, max(mode.concurrencies))
    final_line = " ".join(f"{k}={v:.3f}" for k, v in ratios.items())
    windows = [*results.values(), *(g[k] for g in growth for k in ("calc", "create") if k in g)]
    complete = all(r["ops"] > 0 and not r["errors"] for r in windows)
    if not complete:
        log("WARNING: a window had errors or completed nothing; see the report")
    return {
        "mode": mode,
        "results": results,
        "growth": growth,
        "growth_clients": growth_clients,
        "round_trips": rts,
        "availability": {
            "from": avail_from.isoformat(),
            "to": avail_to.isoformat(),
            "days": AVAIL_DAYS,
            "first_day": AVAIL_FIRST_DAY,
            "bookings": bookings,
            "grid_starts": AVAIL_DAYS * AVAIL_GRID_STARTS_PER_DAY,
        },
        "rss": rss,
        "ratios": ratios,
        "final_line": final_line,
        "complete": complete,
        "loadavg": (load_before, Path("/proc/loadavg").read_text().split()[:3]),
        "pg_version": asyncio.run(server_version()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed": time.monotonic() - started,
    }


def write_raw(ctx: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "ratios": ctx["ratios"],
                "results": {f"{s}@{c}": r for (s, c), r in ctx["results"].items()},
                "growth": ctx["growth"],
                "round_trips": {k: rt.__dict__ for k, rt in ctx["round_trips"].items()},
                "availability": ctx["availability"],
                "rss_mb": ctx["rss"],
            },
            indent=1,
        )
    )


def _shown(path: str) -> str:
    """A path as the log shows it: relative to the project when it lies inside it (no machine's
    absolute paths in logs that end up in the README)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short windows, growth 1k and 1M (~10 min)")
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
        write_raw(ctx, ROOT / "var" / "bench-results.json")
        ctx["raw_path"] = "var/bench-results.json"
        write_report(ctx, Path(args.report))
        write_chart(ctx, Path(args.chart))
        log(f"wrote {_shown(args.report)} and {_shown(args.chart)}")
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
