"""Fixtures for the after-the-sale reads: shoppers and operators with tokens, and an API instance
whose settings differ (a booking snapshots the cancellation policy in force when it is made)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.checkout.helpers import Shopper, db, make_user

from estuary_checkout.app import create_app
from estuary_checkout.config import Settings
from estuary_checkout.state import AppState

NewUser = Callable[..., Awaitable[Shopper]]


@pytest.fixture
def factory(app_state: AppState) -> async_sessionmaker[AsyncSession]:
    return app_state.session_factory


@pytest.fixture
def new_user(factory, make_token) -> NewUser:  # type: ignore[no-untyped-def]
    """A brand-new user (optionally with store credit, or an operator) and headers to act as them."""

    async def _new(*, credit: int = 0, admin: bool = False) -> Shopper:
        async with db(factory) as s:
            user = await make_user(s, credit=credit)
            if admin:
                user.roles = ["admin"]
        token = make_token(user.external_id, roles=["admin"] if admin else [])
        return Shopper(user.id, user.external_id, {"Authorization": f"Bearer {token}"})

    return _new


@pytest.fixture
async def api_with(settings: Settings, engine_factory):  # type: ignore[no-untyped-def]
    """`await api_with(late_cancel_refund_percent=50)`: a client of an API instance built with
    those settings changed, sharing the test database."""
    opened: list[tuple[httpx.AsyncClient, AppState]] = []

    async def _make(**changes: object) -> httpx.AsyncClient:
        engine, _ = engine_factory()
        state = AppState.build(settings.model_copy(update=changes), engine=engine)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(state.settings, state=state)),
            base_url="http://testserver",
            timeout=30,
        )
        opened.append((client, state))
        return client

    yield _make
    for client, state in opened:
        await client.aclose()
        await state.aclose()
