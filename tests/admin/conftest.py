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
