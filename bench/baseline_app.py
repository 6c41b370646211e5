"""The baselines of the checkout benchmark, served exactly like the service (uvicorn, one worker).

* `POST /hello` parses a checkout-shaped JSON body with a Pydantic model and returns a small JSON:
  the framework ceiling.
* `POST /db` parses the same body, then makes the same database round trips as one
  calculate-price request: the same number of pool checkouts (with the service's pre-ping setting),
  transactions and statements, on an engine built by the service's own `make_engine` (same pool
  settings) against the same PostgreSQL database. Plain primary-key / indexed SELECTs through
  SQLAlchemy Core, no ORM and no business logic. The shape comes from BENCH_DB_PLAN, e.g.
  "1,5" = one transaction with 1 statement, then one with 5 (bench/roundtrips.py measures it).
* `GET /db-slots?service_id=&practitioner_id=&from=&to=` is the same for the availability listing:
  it parses the listing's query parameters, then makes as many round trips as one listing
  (BENCH_SLOTS_PLAN) with the listing's reads in the listing's order — the service row, its package
  children and prices, the practitioner with her windows, her upcoming time off, the bookings that
  hold her time in the range (the same rows the listing gets) — and returns how many rows it read.
  No slots are computed and no ORM objects built: what the listing does on top of this is the gap.

All three apply the service's process settings: its pool settings and, with CHECKOUT_GC_TUNE (on by
default), its garbage-collector tuning.

    uvicorn bench.baseline_app:create_app --factory ...
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import FastAPI, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import text

from estuary_checkout.config import Settings, tune_gc
from estuary_checkout.db.session import make_engine

ItemId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Item(Strict):
    service_id: ItemId
    practitioner_id: ItemId
    quantity: int = Field(default=1, ge=1, le=100)
    start_time: datetime | None = None
    end_time: datetime | None = None
    use_pass: bool = True


class Cart(Strict):
    checkout_type: Literal["single_session", "bundle", "package"]
    items: list[Item] = Field(min_length=1, max_length=10)
    save_payment_method: bool = False
    use_credits: bool = False
    credits_to_apply: int | None = Field(default=None, ge=0)
    coupon_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=20)


class Answer(BaseModel):
    ok: bool
    items: int
    rows: int = 0


# One indexed lookup per table that calculate-price reads, cycled through as the plan needs.
QUERIES = [
    (text('SELECT id, external_id, email, roles FROM "user" WHERE external_id = :s'), {"s": "demo|x"}),
    (text("SELECT id, type, name, price_cents FROM service WHERE id = :i"), {"i": 123}),
    (text("SELECT id, child_service_id FROM package_child WHERE package_id = :i"), {"i": 123}),
    (text("SELECT id, name, timezone, is_active FROM practitioner WHERE id = :i"), {"i": 456}),
    (
        text("SELECT weekday, start_minute, end_minute FROM availability_window WHERE practitioner_id = :i"),
        {"i": 456},
    ),
    (text("SELECT id, sessions_total FROM pass WHERE user_id = :i AND service_id = :s"), {"i": 1, "s": 123}),
    (text("SELECT balance_cents, held_cents FROM credit_balance WHERE user_id = :i"), {"i": 1}),
]

# What the availability listing reads, in its order; cycled through as the plan needs.
SLOTS_QUERIES = [
    text(
        "SELECT s.id, s.type, s.name, s.practitioner_id, s.price_cents, s.currency, s.duration_minutes"
        " FROM service s JOIN practitioner p ON p.id = s.practitioner_id"
        " WHERE s.id = :service_id AND s.is_active AND p.is_active"
    ),
    text("SELECT id, child_service_id, quantity FROM package_child WHERE package_id = :service_id"),
    text("SELECT service_id, currency, amount_cents FROM service_price WHERE service_id = :service_id"),
    text(
        "SELECT p.id, p.name, p.timezone, p.buffer_minutes, p.slot_step_minutes,"
        " w.weekday, w.start_minute, w.end_minute"
        " FROM practitioner p LEFT JOIN availability_window w ON w.practitioner_id = p.id"
        " WHERE p.id = :practitioner_id"
    ),
    text("SELECT start_at, end_at FROM time_off WHERE practitioner_id = :practitioner_id AND end_at > now()"),
    text(
        "SELECT start_at, blocked_until FROM booking WHERE practitioner_id = :practitioner_id"
        " AND status IN ('pending_payment', 'confirmed') AND start_at < :until AND blocked_until > :since"
    ),
]
SLOT_SESSION = timedelta(minutes=60)  # service 123's duration: the listing reads bookings up to `to` + it

Id = Annotated[int, Query(ge=1, le=2_147_483_647)]


def _plan(var: str, default: str) -> list[int]:
    return [int(n) for n in os.environ.get(var, default).split(",") if n.strip()]


def create_app() -> FastAPI:
    plan = _plan("BENCH_DB_PLAN", "1,5")
    slots_plan = _plan("BENCH_SLOTS_PLAN", "6")
    settings = Settings()  # the service's own pool settings (CHECKOUT_DB_POOL_SIZE, ...), same engine factory
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_tune:  # the same process settings as the service (CHECKOUT_GC_TUNE)
            tune_gc()
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/hello")
    async def hello(body: Cart) -> Answer:
        return Answer(ok=True, items=len(body.items))

    @app.post("/db")
    async def db(body: Cart) -> Answer:
        rows = 0
        q = 0
        for statements in plan:
            async with engine.connect() as conn:
                for _ in range(statements):
                    stmt, params = QUERIES[q % len(QUERIES)]
                    rows += len((await conn.execute(stmt, params)).all())
                    q += 1
                await conn.commit()
        return Answer(ok=True, items=len(body.items), rows=rows)

    @app.get("/db-slots")
    async def db_slots(
        service_id: Id,
        range_start: Annotated[AwareDatetime, Query(alias="from")],
        range_end: Annotated[AwareDatetime, Query(alias="to")],
        practitioner_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    ) -> Answer:
        params = {
            "service_id": service_id,
            "practitioner_id": practitioner_id or 456,
            "since": range_start,
            "until": range_end + SLOT_SESSION,
        }
        rows = 0
        q = 0
        for statements in slots_plan:
            async with engine.connect() as conn:
                for _ in range(statements):
                    rows += len((await conn.execute(SLOTS_QUERIES[q % len(SLOTS_QUERIES)], params)).all())
                    q += 1
                await conn.commit()
        return Answer(ok=True, items=1, rows=rows)

    return app
