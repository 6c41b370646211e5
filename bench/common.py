"""What every part of the benchmark shares: paths, connection settings, run modes, the log."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

# The availability scenario: demo practitioner 456 (Maya Chen, UTC, 08:00-20:00 every day, step 15,
# buffer 0) and her 60-minute service 123, over AVAIL_DAYS whole days from AVAIL_FIRST_DAY days
# ahead, with confirmed 30-minute bookings of a bench service (AVAIL_BOOKING_SERVICE) in that range.
AVAIL_SERVICE, AVAIL_PRACTITIONER = 123, 456
AVAIL_DAYS, AVAIL_FIRST_DAY = 7, 2
AVAIL_BOOKING_SERVICE = 20_000  # inactive, 30 minutes, practitioner 456: what the seeded bookings are of
AVAIL_GRID_STARTS_PER_DAY = (12 * 60 - 60) // 15 + 1  # 08:00, 08:15, ..., 19:00: a 60-minute session fits

# the scenarios hello, db, calc, db-slots and slots; the first two and db-slots hit the baseline app
BASELINE_SCENARIOS = ("hello", "db", "db-slots")
READ_SCENARIOS = ("hello", "db", "calc", "db-slots", "slots")
WRITE_SCENARIOS = ("create", "flow")
ALL_SCENARIOS = (*READ_SCENARIOS, *WRITE_SCENARIOS)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def availability_range(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to) of the availability scenario: AVAIL_DAYS whole UTC days, AVAIL_FIRST_DAY days on.
    Computed once per run, so the seeded bookings and every request agree across midnight."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today + timedelta(days=AVAIL_FIRST_DAY)
    return start, start + timedelta(days=AVAIL_DAYS)


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
    # the read scenarios (hello, db, calc, db-slots, slots) run this many times, interleaved; each
    # is reported by its median window, so one noisy window cannot make a ratio
    reps: int = 1


QUICK = Mode("quick", 2, 5, (20, 50), (1_000, 1_000_000), 2, 8, 3, 8, False, reps=5)
FULL = Mode("full", 5, 20, (20, 50), (1_000, 10_000, 100_000, 1_000_000), 5, 20, 5, 30, True, reps=3)
SMOKE = Mode("smoke", 1, 2, (20, 50), (1_000, 10_000), 1, 2, 1, 3, True)  # harness check only
