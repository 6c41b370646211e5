"""Fixtures of the checkout battery: fresh users with tokens, a second "replica" of the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

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
    """A brand-new user (optionally with store credit) and the headers to act as them."""

    async def _new(*, credit: int = 0) -> Shopper:
        async with db(factory) as s:
            user = await make_user(s, credit=credit)
        return Shopper(user.id, user.external_id, {"Authorization": f"Bearer {make_token(user.external_id)}"})

    return _new


@pytest.fixture
async def replicas(settings: Settings, engine_factory) -> AsyncIterator[list[httpx.AsyncClient]]:  # type: ignore[no-untyped-def]
    """Two more API instances, each with its own engine (connection pool) and Stripe client, like
    two replicas behind a load balancer. The pending-order cap is raised so that concurrency tests
    of one user measure the invariant under test, not the cap."""
    wide = settings.model_copy(update={"max_pending_orders": 100})
    states: list[AppState] = []
    clients: list[httpx.AsyncClient] = []
    for _ in range(2):
        engine, _ = engine_factory()
        state = AppState.build(wide, engine=engine)
        states.append(state)
        transport = httpx.ASGITransport(app=create_app(wide, state=state))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60))
    try:
        yield clients
    finally:
        for c in clients:
            await c.aclose()
        for state in states:
            await state.aclose()
