"""Schemathesis over the admin routes with an admin token, against the API served by uvicorn on
a database of its own (the demo catalog loaded): `st run --checks all` (tests/security/fuzz.py)
finds nothing. (tests/security/test_schemathesis.py covers every route with a client's token.)"""

from __future__ import annotations

import asyncio

import pytest
from tests.security.fuzz import MAX_EXAMPLES, fuzz
from tests.webhooks.test_live_delivery import ServedApp

from estuary_checkout.auth.service import create_token
from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
from estuary_checkout.seed import seed_demo


async def _seed(url: str) -> None:
    engine = make_engine(url)
    try:
        async for session in session_scope(make_session_factory(engine)):
            await seed_demo(session)
    finally:
        await engine.dispose()


@pytest.fixture
def served(settings, scratch_db):  # type: ignore[no-untyped-def]
    own = settings.model_copy(update={"database_url": scratch_db()})
    asyncio.run(_seed(own.database_url))
    with ServedApp(own) as app:
        yield app, own


def test_admin_routes_pass_every_schemathesis_check(served, tmp_path):  # type: ignore[no-untyped-def]
    app, own = served
    token = create_token(own, sub="schemathesis-admin", roles=["admin"], ttl_seconds=3600)
    tested = fuzz(app.url, token, tmp_path, include_path_regex="/admin/")
    print(f"\nschemathesis --checks all (admin): {len(tested)} operations x up to {MAX_EXAMPLES} examples")
    assert len(tested) >= 17
    assert all("/admin/" in label for label in tested)
