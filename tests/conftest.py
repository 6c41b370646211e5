"""Shared fixtures: a fresh database per run (SQLite or PostgreSQL), the app over ASGI, tokens.

CHECKOUT_TEST_DATABASE_URL picks the backend: `sqlite` (a temp file) or a PostgreSQL URL whose
server gets a new database for this run (dropped afterwards).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.app import create_app
from estuary_checkout.auth.service import create_token
from estuary_checkout.config import Settings
from estuary_checkout.db.migrate import upgrade
from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
from estuary_checkout.seed import seed_demo
from estuary_checkout.state import AppState
from estuary_checkout.stripe_emulator.testing import EmulatorServer

TEST_JWT_SECRET = "test-jwt-secret-" + "x" * 32
API = "/stripe/fastapi/api/v1/stripe"


def _is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def _pg_admin(url: str) -> tuple[str, str]:
    """(server URL for asyncpg admin connections, base url without db name)"""
    base, _, _db = url.rpartition("/")
    return base.replace("postgresql+asyncpg", "postgresql"), base


async def _pg_exec(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """CHECKOUT_VAR_DIR for this run (inherited by the CLI and dev-stack subprocesses): no test
    writes a dev secret or a database into the checkout's own var/."""
    path = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHECKOUT_VAR_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    raw = os.environ.get("CHECKOUT_TEST_DATABASE_URL", "sqlite")
    if not _is_pg(raw):
        path = Path(tmp_path_factory.mktemp("db")) / "checkout.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    server, base = _pg_admin(raw)
    name = f"checkout_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_exec(server, f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_exec(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return _is_pg(database_url)


@pytest.fixture(scope="session")
def stripe_emu() -> Iterator[EmulatorServer]:
    """The project's Stripe emulator, in a thread; the service reaches it through the real SDK."""
    with EmulatorServer(webhook_initial_delay=0.05, webhook_max_attempts=3) as emu:
        emu.set_config(processing_delay_ms=0, refund_delay_ms=0)
        yield emu


@pytest.fixture(scope="session")
def stripe_api_base(stripe_emu: EmulatorServer) -> str:
    return stripe_emu.url


@pytest.fixture(scope="session")
def settings(database_url: str, stripe_api_base: str) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
        stripe_secret_key="sk_test_checkout_tests",
        stripe_publishable_key="pk_test_checkout_tests",
        stripe_api_base=stripe_api_base,
        stripe_webhook_secret="whsec_test_checkout_tests",
        stripe_max_network_retries=1,
        stripe_timeout_seconds=5,
        temporal_address="127.0.0.1:9",
        # many app instances share one PostgreSQL (max_connections 100): keep few idle connections
        db_pool_size=3,
        catalog_cache_seconds=0,  # tests change the catalog and expect to see it at once
        gc_tune=False,  # a process-wide setting; tests/foundation checks it on its own
        db_max_overflow=30,
        rate_limit_per_minute=10_000,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
async def app_state(settings: Settings) -> AsyncIterator[AppState]:
    state = AppState.build(settings)
    async for session in session_scope(state.session_factory):
        await seed_demo(session)
    yield state
    await state.aclose()


@pytest.fixture(scope="session")
async def app(app_state: AppState):  # type: ignore[no-untyped-def]
    return create_app(app_state.settings, state=app_state)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as c:
        yield c


@pytest.fixture
async def session(app_state: AppState) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed (tests own their data through unique ids)."""
    async for s in session_scope(app_state.session_factory):
        yield s


@pytest.fixture
def make_token(settings: Settings):  # type: ignore[no-untyped-def]
    def _make(sub: str | None = None, *, email: str | None = None, roles: list[str] | None = None) -> str:
        return create_token(settings, sub=sub or f"test|{uuid.uuid4().hex}", email=email, roles=roles or [])

    return _make


@pytest.fixture(scope="module")
def make_token_module(settings: Settings):  # type: ignore[no-untyped-def]
    def _make(sub: str | None = None) -> str:
        return create_token(settings, sub=sub or f"test|{uuid.uuid4().hex}", ttl_seconds=3600)

    return _make


@pytest.fixture
def auth(make_token):  # type: ignore[no-untyped-def]
    """Headers for a brand-new user."""

    def _auth(sub: str | None = None, **kw: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(sub, **kw)}"}

    return _auth


@pytest.fixture
def engine_factory(database_url: str):  # type: ignore[no-untyped-def]
    def _make():  # type: ignore[no-untyped-def]
        engine = make_engine(database_url)
        return engine, make_session_factory(engine)

    return _make
