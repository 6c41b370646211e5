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
        session.add(CreditBalance(user_id=u.id, balance_cents=100, held_cents=0))
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
    ledger = [r for r in after["credit_ledger"] if r[3] == "demo-seed:demo@example.com"]
    assert len(ledger) == 1 and ledger[0][4] == 2000
