"""Schemathesis over the admin routes with an admin token, against the API served by uvicorn on
a database of its own (the demo catalog loaded): no 5xx, every response as the schema says.
(tests/security/test_schemathesis.py covers every route with a client's token: 403s here.)"""

from __future__ import annotations

import asyncio
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.webhooks.test_live_delivery import ServedApp

from estuary_checkout.auth.service import create_token
from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
from estuary_checkout.seed import seed_demo

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


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


def test_admin_routes_never_500_and_match_their_schema(served):  # type: ignore[no-untyped-def]
    app, own = served
    token = create_token(own, sub="schemathesis-admin", roles=["admin"], ttl_seconds=3600)
    schema = schemathesis.openapi.from_url(f"{app.url}/stripe/fastapi/stripe/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "/admin/" not in operation.path:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(
                base_url=f"{app.url}/stripe/fastapi",
                headers={"Authorization": f"Bearer {token}"},
                checks=checks,
            )

        run()
        tested.append(operation.label)
    print(f"\nschemathesis (admin): {len(tested)} operations x up to {MAX_EXAMPLES} examples")
    assert len(tested) >= 17
