"""The run's database: created and dropped per run, migrated, seeded in SQL (bench catalog,
availability bookings, the orders of the growth series) and users with tokens."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime

import asyncpg

from bench.common import (
    AVAIL_BOOKING_SERVICE,
    AVAIL_PRACTITIONER,
    BENCH_PRACTITIONERS,
    BIN,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PRAC_BASE,
    ROOT,
    SEED_USERS,
    SERVICE_BASE,
    log,
)


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


async def add_bench_catalog(db: str) -> list[list[int]]:
    """Practitioners available all day, each with a 60-minute session service (usd 100.00)."""
    conn = await pg(db)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO practitioner (id, name, timezone, is_active, created_at, updated_at)
                SELECT g, 'Bench practitioner ' || g, 'UTC', true, now(), now()
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
                                     is_active, max_per_customer, bonus_sessions, created_at, updated_at)
                SELECT $3::int + (p - $1::int), 'session', 'Bench Session ' || p, p, 10000, 'usd', 60,
                       true, 5, 0, now(), now()
                FROM generate_series($1::int, $2::int) p;
                """,
                PRAC_BASE,
                PRAC_BASE + BENCH_PRACTITIONERS - 1,
                SERVICE_BASE,
            )
    finally:
        await conn.close()
    return [[SERVICE_BASE + i, PRAC_BASE + i] for i in range(BENCH_PRACTITIONERS)]


# Which half hours of the availability range hold a confirmed 30-minute booking (practitioner 456
# works 08:00-20:00 UTC): every half hour outside her hours, and inside them the first hour of
# each three (08, 11, 14, 17 h), which leaves four two-hour gaps a day, five 60-minute slots each.
AVAIL_BOOKED_HALF_HOUR = (
    "extract(hour FROM t AT TIME ZONE 'UTC')::int NOT BETWEEN 8 AND 19"
    " OR (extract(hour FROM t AT TIME ZONE 'UTC')::int - 8) % 3 = 0"
)


async def add_availability_bookings(db: str, start: datetime, end: datetime) -> int:
    """Confirmed bookings of practitioner 456 in [start, end), in SQL: back-to-back 30-minute
    bookings of an inactive bench service (blocked_until = end_at: her buffer is 0, and no two
    overlap, so the exclusion constraint accepts them), owned by the demo user. Returns how many.

    `TRUNCATE "order" CASCADE` (the growth series) empties the booking table too: the
    availability windows run before it."""
    conn = await pg(db)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO service (id, type, name, practitioner_id, price_cents, currency, duration_minutes,
                                     is_active, max_per_customer, bonus_sessions, created_at, updated_at)
                VALUES ($1, 'session', 'Bench check-in', $2, 3000, 'usd', 30, false, 5, 0, now(), now())
                """,
                AVAIL_BOOKING_SERVICE,
                AVAIL_PRACTITIONER,
            )
            status = await conn.execute(
                f"""
                INSERT INTO booking (user_id, practitioner_id, service_id, start_at, end_at, blocked_until,
                                     status, confirmed_at, reschedule_count, created_at, updated_at)
                SELECT u.id, $1, $2, t, t + interval '30 minutes', t + interval '30 minutes',
                       'confirmed', now(), 0, now(), now()
                FROM (SELECT id FROM "user" WHERE email = 'demo@example.com') u,
                     generate_series($3::timestamptz, $4::timestamptz - interval '30 minutes',
                                     interval '30 minutes') t
                WHERE ({AVAIL_BOOKED_HALF_HOUR})
                """,
                AVAIL_PRACTITIONER,
                AVAIL_BOOKING_SERVICE,
                start,
                end,
            )
        await conn.execute("ANALYZE booking")
        return int(status.split()[-1])
    finally:
        await conn.close()


async def reset_orders(db: str) -> None:
    """Empty the orders table (and what hangs off it, bookings included) before the growth series."""
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
