"""Migrations both ways on both databases, the overlap guard, the balance CHECK, seed idempotence."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.conftest import _pg_admin, _pg_exec

from estuary_checkout.bookings.models import Booking
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.credits.models import CreditBalance
from estuary_checkout.db.base import Base
from estuary_checkout.db.migrate import downgrade, upgrade
from estuary_checkout.db.session import make_engine, session_scope
from estuary_checkout.seed import seed_demo
from estuary_checkout.users.models import User


@pytest.fixture
def scratch_url(database_url, tmp_path):
    """An empty database of the same backend, for migration round trips."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    server, base = _pg_admin(database_url)
    name = f"checkout_scratch_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_exec(server, f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    asyncio.run(_pg_exec(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


def test_migrations_upgrade_from_empty_and_downgrade_to_base(scratch_url):
    upgrade(scratch_url)
    assert asyncio.run(_tables(scratch_url)) == set(Base.metadata.tables)
    downgrade(scratch_url, "base")
    assert asyncio.run(_tables(scratch_url)) == set()
    upgrade(scratch_url)
    assert asyncio.run(_tables(scratch_url)) == set(Base.metadata.tables)


async def _practitioner_and_service(session) -> tuple[int, int, int]:
    p = Practitioner(name="Overlap Tester", timezone="UTC")
    session.add(p)
    await session.flush()
    s = Service(type="session", name="t", practitioner_id=p.id, price_cents=1000, duration_minutes=60)
    u = User(external_id=f"test|{uuid.uuid4().hex}")
    session.add_all([s, u])
    await session.flush()
    return p.id, s.id, u.id


async def test_overlapping_bookings_refused_by_the_database(app_state):
    """The guard is in the database: raw inserts, no service code involved."""
    base = datetime(2031, 3, 3, 10, tzinfo=UTC)
    async for session in session_scope(app_state.session_factory):
        pid, sid, uid = await _practitioner_and_service(session)

    def booking(start, minutes=60, status="pending_payment"):
        return Booking(
            user_id=uid,
            practitioner_id=pid,
            service_id=sid,
            start_at=start,
            end_at=start + timedelta(minutes=minutes),
            status=status,
        )

    async for session in session_scope(app_state.session_factory):
        session.add(booking(base))
    # back-to-back on both sides is fine (half-open intervals)
    async for session in session_scope(app_state.session_factory):
        session.add_all(
            [booking(base + timedelta(hours=1)), booking(base - timedelta(hours=1), status="confirmed")]
        )
    for start, minutes in (
        (base, 60),
        (base + timedelta(minutes=30), 60),
        (base - timedelta(minutes=10), 20),
    ):
        with pytest.raises((IntegrityError, DBAPIError)):
            async for session in session_scope(app_state.session_factory):
                session.add(booking(start, minutes))
    # a canceled booking does not hold the slot, and a canceled overlap may be recorded
    async for session in session_scope(app_state.session_factory):
        session.add(booking(base, status="canceled"))
    async for session in session_scope(app_state.session_factory):
        count = (
            await session.execute(
                select(func.count()).select_from(Booking).where(Booking.practitioner_id == pid)
            )
        ).scalar_one()
    assert count == 4
    # reviving a canceled booking into an occupied slot is refused too
    with pytest.raises((IntegrityError, DBAPIError)):
        async for session in session_scope(app_state.session_factory):
            row = (
                await session.execute(
                    select(Booking).where(Booking.practitioner_id == pid, Booking.status == "canceled")
                )
            ).scalar_one()
            row.status = "confirmed"


async def test_balance_cannot_go_negative_in_the_database(app_state):
    async for session in session_scope(app_state.session_factory):
        u = User(external_id=f"test|{uuid.uuid4().hex}")
        session.add(u)
        await session.flush()
        session.add(CreditBalance(user_id=u.id, currency="usd", balance_cents=100, held_cents=0))
    with pytest.raises(IntegrityError):
        async for session in session_scope(app_state.session_factory):
            await session.execute(
                text("UPDATE credit_balance SET balance_cents = balance_cents - 101 WHERE user_id = :u"),
                {"u": u.id},
            )


async def _snapshot(session) -> dict[str, list[tuple]]:
    out = {}
    for name in (
        "practitioner",
        "availability_window",
        "service",
        "package_child",
        "coupon",
        "user",
        "credit_ledger",
        "credit_balance",
    ):
        table = Base.metadata.tables[name]
        cols = [c for c in table.columns if c.name not in ("updated_at",)]
        rows = (await session.execute(select(*cols).order_by(*table.primary_key.columns))).all()
        out[name] = [tuple(r) for r in rows]
    return out


async def test_seed_demo_twice_changes_nothing(app_state):
    async for session in session_scope(app_state.session_factory):
        await seed_demo(session)
        before = await _snapshot(session)
    async for session in session_scope(app_state.session_factory):
        await seed_demo(session)
        after = await _snapshot(session)
    assert before == after
    demo = [r for r in after["service"] if r[0] in (123, 101, 102, 789, 999)]
    assert len(demo) == 5
    async for session in session_scope(app_state.session_factory):
        user = (await session.execute(select(User).where(User.email == "demo@example.com"))).scalar_one()
        bal = (
            await session.execute(select(CreditBalance).where(CreditBalance.user_id == user.id))
        ).scalar_one()
    assert bal.balance_cents + bal.held_cents >= 0
    names = [c.name for c in Base.metadata.tables["credit_ledger"].columns]
    ledger = [dict(zip(names, r, strict=True)) for r in after["credit_ledger"]]
    seeded = [r for r in ledger if r["key"] == "demo-seed:demo@example.com"]
    assert len(seeded) == 1 and (seeded[0]["amount_cents"], seeded[0]["currency"]) == (2000, "usd")


def _drift(url: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async def run() -> list:
        engine = make_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
        await engine.dispose()
        return diff

    return asyncio.run(run())


def test_migrations_match_the_models(scratch_url):
    """What the migrations build is what the models declare (columns, types, nullability,
    indexes, unique constraints): a model change without its migration fails here."""
    upgrade(scratch_url)
    assert _drift(scratch_url) == []


async def _exec(url: str, *statements: str) -> list:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            out = []
            for sql in statements:
                result = await conn.execute(text(sql))
                out.append(result.all() if result.returns_rows else None)
            return out
    finally:
        await engine.dispose()


def test_catalog_migration_keeps_existing_rows(scratch_url):
    """0001 → 0002 on a database with a practitioner, windows, services and bookings in it:
    nothing is lost (SQLite rebuilds tables for it, with cascading foreign keys pointing at
    them), existing bookings block exactly their own time, and the widened guard is in place."""
    upgrade(scratch_url, "0001")
    ts = "'2031-03-03 10:00:00.000000'" if scratch_url.startswith("sqlite") else "'2031-03-03 10:00:00+00'"
    te = "'2031-03-03 11:00:00.000000'" if scratch_url.startswith("sqlite") else "'2031-03-03 11:00:00+00'"
    now = ts
    asyncio.run(
        _exec(
            scratch_url,
            f"INSERT INTO practitioner (id, name, timezone, is_active, created_at) VALUES (7, 'P', 'UTC', true, {now})",
            "INSERT INTO availability_window (practitioner_id, weekday, start_minute, end_minute) VALUES (7, 0, 480, 1200)",
            "INSERT INTO service (id, type, name, practitioner_id, price_cents, currency, duration_minutes, is_active,"
            f" max_per_customer, bonus_sessions, created_at) VALUES (9, 'session', 'S', 7, 100, 'usd', 60, true, 5, 0, {now})",
            "INSERT INTO package_child (package_id, child_service_id, quantity, is_required, discount_percentage)"
            " VALUES (9, 9, 1, true, 0)",
            f"INSERT INTO \"user\" (id, external_id, roles, created_at, updated_at) VALUES (5, 'u', '[]', {now}, {now})",
            "INSERT INTO booking (id, user_id, practitioner_id, service_id, start_at, end_at, status, reschedule_count,"
            f" created_at, updated_at) VALUES (3, 5, 7, 9, {ts}, {te}, 'confirmed', 0, {now}, {now})",
            "INSERT INTO notification (dedupe_key, user_id, booking_id, kind, channel, payload, created_at)"
            f" VALUES ('k', 5, 3, 'confirmation', 'log', '{{}}', {now})",
        )
    )
    upgrade(scratch_url)
    counts = asyncio.run(
        _exec(
            scratch_url,
            "SELECT count(*) FROM availability_window",
            "SELECT count(*) FROM package_child",
            "SELECT count(*) FROM notification",
            "SELECT buffer_minutes, slot_step_minutes FROM practitioner WHERE id = 7",
            "SELECT count(*) FROM booking WHERE blocked_until = end_at",
        )
    )
    assert [c[0] for c in counts] == [(1,), (1,), (1,), (0, 15), (1,)]
    # the guard still refuses an overlap, and now compares blocked_until
    with pytest.raises((IntegrityError, DBAPIError)):
        asyncio.run(
            _exec(
                scratch_url,
                "INSERT INTO booking (user_id, practitioner_id, service_id, start_at, end_at, blocked_until, status,"
                f" reschedule_count, created_at, updated_at) VALUES (5, 7, 9, {ts}, {te}, {te}, 'pending_payment', 0,"
                f" {now}, {now})",
            )
        )
    downgrade(scratch_url, "0001")
    assert asyncio.run(_exec(scratch_url, "SELECT count(*) FROM booking"))[0] == [(1,)]


def test_after_sale_migration_keeps_orders_and_apportions_their_lines(scratch_url):
    """0002 → 0004 on a database with a paid two-line order (coupon on one service, store
    credit) and a refund recorded the old way: the lines get shares that add up to the order,
    refunds get keys, and the per-method budget counts the old refund."""
    upgrade(scratch_url, "0002")
    sqlite = scratch_url.startswith("sqlite")
    now = "'2031-03-03 10:00:00.000000'" if sqlite else "'2031-03-03 10:00:00+00'"
    # how each backend stores a UUID column
    oid = "'1f0c6f8a9a5c4f53a0d5e2b1c3d4e5f6'" if sqlite else "'1f0c6f8a-9a5c-4f53-a0d5-e2b1c3d4e5f6'"
    asyncio.run(
        _exec(
            scratch_url,
            f"INSERT INTO practitioner (id, name, timezone, is_active, created_at, updated_at) VALUES (7, 'P', 'UTC', true, {now}, {now})",
            *(
                "INSERT INTO service (id, type, name, practitioner_id, price_cents, currency, duration_minutes, is_active,"
                f" max_per_customer, bonus_sessions, created_at, updated_at) VALUES ({i}, 'session', 'S', 7, {p}, 'usd', 60,"
                f" true, 5, 0, {now}, {now})"
                for i, p in ((8, 3333), (9, 6667))
            ),
            f"INSERT INTO \"user\" (id, external_id, roles, created_at, updated_at) VALUES (5, 'u', '[]', {now}, {now})",
            "INSERT INTO coupon (id, code, kind, percent_off, min_subtotal_cents, allowed_service_ids, redeemed_count,"
            f" is_active, created_at) VALUES (3, 'TEN', 'percent', 10, 0, '[9]', 1, true, {now})",
            'INSERT INTO "order" (id, user_id, checkout_type, status, currency, subtotal_cents, discount_cents, tax_cents,'
            " credits_applied_cents, total_cents, refunded_cents, coupon_id, payment_intent_id, save_payment_method,"
            " payment_status, metadata, expires_at, completed_at, created_at, updated_at) VALUES"
            f" ({oid}, 5, 'single_session', 'partially_refunded', 'usd', 10000, 667, 817, 1000, 9150, 150, 3, 'pi_1', false,"
            f" 'partially_refunded', '{{}}', {now}, {now}, {now}, {now})",
            *(
                "INSERT INTO order_line (order_id, line_no, service_id, practitioner_id, service_type, description, quantity,"
                f" unit_price_cents, line_total_cents, breakdown) VALUES ({oid}, {n}, {sid}, 7, 'session', 'S', 1, {p}, {p}, '{{}}')"
                for n, sid, p in ((0, 8, 3333), (1, 9, 6667))
            ),
            "INSERT INTO refund (stripe_refund_id, order_id, amount_cents, currency, status, reason, created_at, updated_at)"
            f" VALUES ('re_1', {oid}, 150, 'usd', 'succeeded', 'made at Stripe', {now}, {now})",
        )
    )
    upgrade(scratch_url)
    lines, refund, order = asyncio.run(
        _exec(
            scratch_url,
            "SELECT discount_share_cents, tax_share_cents, credit_share_cents, card_share_cents FROM order_line ORDER BY line_no",
            "SELECT key, source, destination, reason, note FROM refund",
            'SELECT refund_from_card_cents, refund_from_credit_cents, refunded_cents FROM "order"',
        )
    )
    assert [r[0] for r in lines] == [0, 667]  # the coupon applied to service 9 only
    assert (
        sum(r[1] for r in lines) == 817
        and sum(r[2] for r in lines) == 1000
        and sum(r[3] for r in lines) == 9150
    )
    assert refund == [("stripe:re_1", "card", "card", "other", "made at Stripe")]
    assert order == [(150, 0, 150)]
    downgrade(scratch_url, "0002")
    assert asyncio.run(_exec(scratch_url, "SELECT count(*) FROM refund"))[0] == [(1,)]


def test_coupon_amount_migration_keeps_the_amounts(scratch_url):
    """0002 → 0003 turns `amount_off_cents` + `currency` into `amount_off: {currency: cents}`
    (no currency meant the default, usd), keeps percent coupons and redemptions; the downgrade
    gives each fixed coupon one amount back (usd when it has one)."""
    import json

    upgrade(scratch_url, "0002")
    now = "'2031-03-03 10:00:00.000000'" if scratch_url.startswith("sqlite") else "'2031-03-03 10:00:00+00'"
    coupon = (
        "INSERT INTO coupon (id, code, kind, percent_off, amount_off_cents, currency, min_subtotal_cents,"
        " redeemed_count, is_active, created_at) VALUES "
    )
    asyncio.run(
        _exec(
            scratch_url,
            coupon + f"(1, 'PCT', 'percent', 15, NULL, NULL, 0, 0, true, {now})",
            coupon + f"(2, 'FIX', 'fixed', NULL, 2000, 'usd', 5000, 1, true, {now})",
            coupon + f"(3, 'ANY', 'fixed', NULL, 500, NULL, 0, 0, true, {now})",
            # the old CHECK let a fixed coupon keep a stray percent_off; an upper-case currency
            coupon + f"(4, 'EURO', 'fixed', 5, 700, 'EUR', 0, 0, false, {now})",
            f"INSERT INTO \"user\" (id, external_id, roles, created_at, updated_at) VALUES (5, 'u', '[]', {now}, {now})",
            "INSERT INTO coupon_redemption (coupon_id, user_id, order_id, status, discount_cents, details,"
            f" created_at, updated_at) VALUES (2, 5, '{uuid.uuid4()}', 'final', 2000, '{{}}', {now}, {now})",
        )
    )
    upgrade(scratch_url, "0003")

    def coupons() -> dict:
        (rows,) = asyncio.run(
            _exec(
                scratch_url, "SELECT code, kind, percent_off, amount_off, is_active FROM coupon ORDER BY id"
            )
        )
        return {
            code: (kind, pct, json.loads(amount) if isinstance(amount, str) else amount, bool(active))
            for code, kind, pct, amount, active in rows
        }

    assert coupons() == {
        "PCT": ("percent", 15, None, True),
        "FIX": ("fixed", None, {"usd": 2000}, True),
        "ANY": ("fixed", None, {"usd": 500}, True),
        "EURO": ("fixed", None, {"eur": 700}, False),
    }
    counts = asyncio.run(
        _exec(
            scratch_url,
            "SELECT count(*) FROM coupon_redemption WHERE coupon_id = 2",
            "SELECT count(*) FROM audit_log",
        )
    )
    assert [c[0] for c in counts] == [(1,), (0,)]
    # the new CHECK: exactly one of percent_off / amount_off, matching the kind
    for bad in (
        f"INSERT INTO coupon (code, kind, percent_off, min_subtotal_cents, redeemed_count, is_active, created_at) VALUES ('B1', 'fixed', 5, 0, 0, true, {now})",
        f"INSERT INTO coupon (code, kind, percent_off, amount_off, min_subtotal_cents, redeemed_count, is_active, created_at) VALUES ('B2', 'percent', 5, '{{\"usd\": 1}}', 0, 0, true, {now})",
    ):
        with pytest.raises((IntegrityError, DBAPIError)):
            asyncio.run(_exec(scratch_url, bad))
    asyncio.run(
        _exec(
            scratch_url,
            "INSERT INTO coupon (id, code, kind, amount_off, min_subtotal_cents, redeemed_count, is_active, created_at)"
            f" VALUES (6, 'MULTI', 'fixed', '{{\"gbp\": 300, \"usd\": 400, \"eur\": 350}}', 0, 0, true, {now})",
            "INSERT INTO coupon (id, code, kind, amount_off, min_subtotal_cents, redeemed_count, is_active, created_at)"
            f" VALUES (7, 'NOUSD', 'fixed', '{{\"jpy\": 900, \"eur\": 350}}', 0, 0, true, {now})",
        )
    )
    downgrade(scratch_url, "0002")
    (rows,) = asyncio.run(
        _exec(
            scratch_url, "SELECT code, kind, percent_off, amount_off_cents, currency FROM coupon ORDER BY id"
        )
    )
    assert [tuple(r) for r in rows] == [
        ("PCT", "percent", 15, None, None),
        ("FIX", "fixed", None, 2000, "usd"),
        ("ANY", "fixed", None, 500, "usd"),
        ("EURO", "fixed", None, 700, "eur"),
        ("MULTI", "fixed", None, 400, "usd"),
        ("NOUSD", "fixed", None, 350, "eur"),
    ]
    assert "audit_log" not in asyncio.run(_tables(scratch_url))
    assert asyncio.run(_exec(scratch_url, "SELECT count(*) FROM coupon_redemption"))[0] == [(1,)]


def test_credit_per_currency_migration_keeps_balances_and_ledger(scratch_url):
    """0006 → 0007 on a database with store credit in it (a held amount, a captured one, a
    balance row spelled 'EUR'): every balance keeps its figures in the currency its row named,
    every ledger row takes that currency, and per (user, currency) the ledger still sums to the
    balance; afterwards the key is (user_id, currency). The downgrade keeps the money too, and
    refuses rather than merge two currencies' credit."""
    upgrade(scratch_url, "0006")
    sqlite = scratch_url.startswith("sqlite")
    now = "'2031-03-03 10:00:00.000000'" if sqlite else "'2031-03-03 10:00:00+00'"
    oid = "'1f0c6f8a9a5c4f53a0d5e2b1c3d4e5f6'" if sqlite else "'1f0c6f8a-9a5c-4f53-a0d5-e2b1c3d4e5f6'"
    ledger = (
        "INSERT INTO credit_ledger (user_id, kind, key, amount_cents, balance_delta_cents, held_delta_cents,"
        " order_id, note, created_at) VALUES "
    )
    asyncio.run(
        _exec(
            scratch_url,
            *(
                f"INSERT INTO \"user\" (id, external_id, roles, created_at, updated_at) VALUES ({u}, 'u{u}', '[]', {now}, {now})"
                for u in (5, 6, 7)
            ),
            f"INSERT INTO credit_balance (user_id, currency, balance_cents, held_cents, updated_at) VALUES (5, 'usd', 700, 300, {now})",
            f"INSERT INTO credit_balance (user_id, currency, balance_cents, held_cents, updated_at) VALUES (6, 'EUR', 250, 0, {now})",
            ledger + f"(5, 'grant', 'g5', 1000, 1000, 0, NULL, 'seed', {now})",
            ledger + f"(5, 'hold', 'h5', 300, -300, 300, {oid}, NULL, {now})",
            ledger + f"(6, 'grant', 'g6', 500, 500, 0, NULL, NULL, {now})",
            ledger + f"(6, 'hold', 'h6', 250, -250, 250, NULL, NULL, {now})",
            ledger + f"(6, 'capture', 'c6', 250, 0, -250, NULL, NULL, {now})",
            # hand-made: a movement whose balance row is missing gets usd, what the code always wrote
            ledger + f"(7, 'adjustment', 'a7', 40, 0, 0, NULL, NULL, {now})",
        )
    )
    upgrade(scratch_url, "0007")

    def books() -> tuple[list, list]:
        balances, sums = asyncio.run(
            _exec(
                scratch_url,
                "SELECT user_id, currency, balance_cents, held_cents FROM credit_balance ORDER BY user_id, currency",
                "SELECT user_id, currency, sum(balance_delta_cents), sum(held_delta_cents), count(*) FROM credit_ledger"
                " GROUP BY user_id, currency ORDER BY user_id, currency",
            )
        )
        return [tuple(r) for r in balances], [tuple(r) for r in sums]

    balances, sums = books()
    assert balances == [(5, "usd", 700, 300), (6, "eur", 250, 0)]
    assert sums == [(5, "usd", 700, 300, 2), (6, "eur", 250, 0, 3), (7, "usd", 0, 0, 1)]
    assert asyncio.run(
        _exec(
            scratch_url, "SELECT key, order_id IS NOT NULL FROM credit_ledger WHERE user_id = 5 ORDER BY id"
        )
    )[0] == [
        ("g5", False),
        ("h5", True),
    ]

    async def primary_key() -> list[str]:
        engine = make_engine(scratch_url)
        async with engine.connect() as conn:
            pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("credit_balance"))
        await engine.dispose()
        return list(pk["constrained_columns"])

    assert asyncio.run(primary_key()) == ["user_id", "currency"]
    balance = "INSERT INTO credit_balance (user_id, currency, balance_cents, held_cents, updated_at) VALUES "
    asyncio.run(_exec(scratch_url, balance + f"(5, 'eur', 0, 0, {now})"))  # a second currency: its own row
    for bad in (
        balance + f"(5, 'usd', 1, 0, {now})",  # one row per (user, currency)
        balance + f"(6, 'GBP', 1, 0, {now})",  # one spelling per currency
        balance + f"(6, 'gbp', -1, 0, {now})",  # never negative, in any currency
        ledger.replace("(user_id,", "(currency, user_id,")
        + f"('USD', 5, 'grant', 'x', 1, 1, 0, NULL, NULL, {now})",
    ):
        with pytest.raises((IntegrityError, DBAPIError)):
            asyncio.run(_exec(scratch_url, bad))

    # down: user 5's empty eur row goes, the money stays where it was
    downgrade(scratch_url, "0006")
    (rows,) = asyncio.run(
        _exec(
            scratch_url,
            "SELECT user_id, currency, balance_cents, held_cents FROM credit_balance ORDER BY user_id",
        )
    )
    assert [tuple(r) for r in rows] == [(5, "usd", 700, 300), (6, "eur", 250, 0)]
    assert asyncio.run(_exec(scratch_url, "SELECT count(*) FROM credit_ledger"))[0] == [(6,)]
    # up again, then credit in two currencies for one user: the downgrade refuses, nothing changes
    upgrade(scratch_url, "0007")
    assert books() == (balances, sums)
    asyncio.run(
        _exec(
            scratch_url,
            balance + f"(5, 'eur', 90, 0, {now})",
            ledger.replace("(user_id,", "(currency, user_id,")
            + f"('eur', 5, 'grant', 'g5e', 90, 90, 0, NULL, NULL, {now})",
        )
    )
    with pytest.raises(RuntimeError, match="more than one currency"):
        downgrade(scratch_url, "0006")
    assert books()[0] == [(5, "eur", 90, 0), (5, "usd", 700, 300), (6, "eur", 250, 0)]
