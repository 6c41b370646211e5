"""Instructions per request of calculate-price, the availability listing and their baselines,
counted by valgrind.

CPU time on a shared VM moves by 15-30 % between identical runs, which hides the 3-5 % steps a
hot-path change makes. Instruction counts repeat to within ~1 %, so this is how the changes to
calculate-price in docs/decisions.md were measured:

* a fresh PostgreSQL database with the migrations, the demo catalog, one bench user and the
  availability scenario's bookings (bench/seeding.py);
* each app (the served checkout app, the bench baseline app's `/db`, `/db-slots` and `/hello`) called
  in-process through ASGI (no HTTP server: uvicorn's share is the same for every app), 20
  requests at a time, after 200 warm-up requests;
* run under `valgrind --tool=callgrind` for N and 3N requests: (count(3N) - count(N)) / 2N is
  the per-request figure, with imports, connection setup and warm-up cancelled out.

Instructions are not time (pure-Python code runs more instructions per microsecond than code that
waits on sockets), so compare changes with this and report speed from `make bench`.

    .venv/bin/python bench/instructions.py [--requests 200] [--only calc]
    .venv/bin/python bench/instructions.py --requests 60 --only db-slots --only slots

Needs `valgrind` on the PATH (Debian: apt install valgrind). Takes ~5 min for the default
targets (hello, db, calc); the availability listing costs ~5x a quote, so ask for it with --only
and fewer requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench` as a package when run as a script

from bench.common import (  # noqa: E402
    API,
    AVAIL_PRACTITIONER,
    AVAIL_SERVICE,
    JWT_SECRET,
    PG_HOST,
    PG_PORT,
    PG_USER,
    availability_range,
    log,
)
from bench.roundtrips import count_round_trips  # noqa: E402
from bench.seeding import add_availability_bookings, create_db, drop_db, prepare_database  # noqa: E402

TARGETS = ("hello", "db", "calc", "db-slots", "slots")
DEFAULT_TARGETS = ("hello", "db", "calc")
CONCURRENCY = 20
WARMUP = 200
CALC_PATH = f"{API}/checkout/calculate-price"


# ---------------------------------------------------------------------------------------------
# child: drive one app in-process (this part runs under valgrind)


async def _drive(target: str, requests: int, token: str, query: str) -> None:
    from bench.loadgen import calc_body

    if target in ("calc", "slots"):
        from estuary_checkout.app import create_app

        app: Any = create_app()
        path = CALC_PATH if target == "calc" else f"{API}/catalog/availability"
    else:
        from bench.baseline_app import create_app as create_baseline

        app = create_baseline()
        path = f"/{target}"
    # the availability listing and its baseline are GETs with the scenario's query string
    method, body, query_string = (
        ("GET", b"", query.encode()) if "slots" in target else ("POST", calc_body(), b"")
    )
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", b"Bearer " + token.encode()),
    ]
    lifespan_state: dict[str, Any] = {}

    async def one() -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query_string,
            "headers": list(headers),
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": dict(lifespan_state),
        }
        sent = False
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # a client that stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async def client(n: int) -> list[int]:
        return [await one() for _ in range(n)]

    to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await to_app.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": lifespan_state},
            to_app.get,
            from_app.put,
        )
    )
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    for total in (WARMUP, requests):
        codes = await asyncio.gather(*(client(total // CONCURRENCY) for _ in range(CONCURRENCY)))
        bad = [c for cs in codes for c in cs if c != 200]
        if bad:
            raise SystemExit(f"{target}: {len(bad)} responses were not 200 (first: {bad[0]})")
    await to_app.put({"type": "lifespan.shutdown"})
    await from_app.get()
    await lifespan


# ---------------------------------------------------------------------------------------------
# parent: database, valgrind runs, the table


def _count(target: str, requests: int, env: dict[str, str], token: str, query: str) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        target,
        "--requests",
        str(requests),
        "--token",
        token,
        "--query",
        query,
    ]
    # the system allocator, so valgrind sees every allocation the same way on every run
    run = subprocess.run(cmd, cwd=ROOT, env={**env, "PYTHONMALLOC": "malloc"}, capture_output=True, text=True)
    found = re.search(r"Collected\s*:\s*(\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"{target} x{requests} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=200, help="N: runs N and 3N requests (multiple of 20)"
    )
    parser.add_argument("--only", choices=TARGETS, action="append", help="measure only these (repeatable)")
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--query", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import uvloop

        uvloop.run(_drive(args.child, args.requests, args.token, args.query))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt install valgrind)", file=sys.stderr)
        return 2

    db = f"bench_instr_{os.getpid()}_{int(time.time())}"
    env = {
        **os.environ,
        "CHECKOUT_ENV": "test",
        "CHECKOUT_DATABASE_URL": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}",
        "CHECKOUT_JWT_SECRET": JWT_SECRET,
        "CHECKOUT_STRIPE_API_BASE": "http://127.0.0.1:9",  # never called by a price quote
        "CHECKOUT_RATE_LIMIT_PER_MINUTE": "1000000000",
        "CHECKOUT_LOG_LEVEL": "WARNING",
    }
    asyncio.run(create_db(db))
    try:
        token = prepare_database(db, env)
        avail_from, avail_to = availability_range()
        asyncio.run(add_availability_bookings(db, avail_from, avail_to))
        query = urlencode(
            {
                "service_id": AVAIL_SERVICE,
                "practitioner_id": AVAIL_PRACTITIONER,
                "from": avail_from.isoformat(),
                "to": avail_to.isoformat(),
            }
        )
        rts = asyncio.run(count_round_trips(db, env, token, query))
        # the baselines mirror the quote's and the listing's round trips
        env["BENCH_DB_PLAN"] = ",".join(map(str, rts["calc"].plan))
        env["BENCH_SLOTS_PLAN"] = ",".join(map(str, rts["slots"].plan))
        results: dict[str, float] = {}
        for target in args.only or DEFAULT_TARGETS:
            sizes = (args.requests, 3 * args.requests)
            log(f"{target}: {sizes[0]} and {sizes[1]} requests under callgrind (side by side)")
            with ThreadPoolExecutor(2) as pool:  # counts do not depend on what else runs
                small, large = pool.map(
                    _count, (target, target), sizes, (env, env), (token, token), (query, query)
                )
            results[target] = (large - small) / (sizes[1] - sizes[0])
            log(f"{target}: {results[target] / 1e6:.3f}M instructions per request")
    finally:
        asyncio.run(drop_db(db))
    print(json.dumps({k: round(v) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
