"""Fixtures of the admin battery: an admin's and a client's headers, short-lived sessions."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.state import AppState


@pytest.fixture
def factory(app_state: AppState) -> async_sessionmaker[AsyncSession]:
    return app_state.session_factory


@pytest.fixture
def admin_sub() -> str:
    return f"test-admin|{uuid.uuid4().hex}"


@pytest.fixture
def admin(make_token, admin_sub) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Headers of an operator (a fresh sub per test, so audit rows can be found by actor)."""
    return {"Authorization": f"Bearer {make_token(admin_sub, roles=['admin'])}"}


@pytest.fixture
def client_headers(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Headers of a signed-in client without the admin role."""
    return {"Authorization": f"Bearer {make_token()}"}


@pytest.fixture
def scratch_db(database_url: str, tmp_path):  # type: ignore[no-untyped-def]
    """Empty, migrated databases of the suite's backend (as many as the test asks for)."""
    import asyncio

    from tests.conftest import _pg_admin, _pg_exec

    from estuary_checkout.db.migrate import upgrade

    made: list[str] = []

    def make() -> str:
        if database_url.startswith("sqlite"):
            url = f"sqlite+aiosqlite:///{tmp_path / f'scratch{len(made)}.db'}"
        else:
            server, base = _pg_admin(database_url)
            name = f"checkout_scratch_{uuid.uuid4().hex[:8]}"
            asyncio.run(_pg_exec(server, f'CREATE DATABASE "{name}"'))
            url = f"{base}/{name}"
        made.append(url)
        upgrade(url)
        return url

    yield make
    for url in made:
        if not url.startswith("sqlite"):
            server, _ = _pg_admin(database_url)
            name = url.rpartition("/")[2]
            asyncio.run(_pg_exec(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
