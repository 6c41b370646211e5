"""Schemathesis over the published OpenAPI schema, with a valid client token, against the API
served by uvicorn: `st run --checks all` (tests/security/fuzz.py) finds nothing. Admin routes
answer this token 403; tests/admin/test_schemathesis_admin.py runs them with an admin token."""

from __future__ import annotations

import pytest
from tests.security.fuzz import MAX_EXAMPLES, fuzz
from tests.webhooks.test_live_delivery import ServedApp


@pytest.fixture(scope="module")
def served(settings):  # type: ignore[no-untyped-def]
    with ServedApp(settings) as app:
        yield app


@pytest.fixture(scope="module")
def token(make_token_module):  # type: ignore[no-untyped-def]
    return make_token_module()


def test_api_passes_every_schemathesis_check(served, token, tmp_path):  # type: ignore[no-untyped-def]
    tested = fuzz(served.url, token, tmp_path)
    print(f"\nschemathesis --checks all: {len(tested)} operations x up to {MAX_EXAMPLES} examples")
    assert len(tested) >= 40
    assert "POST /api/v1/stripe/checkout/status" in tested
    assert "POST /api/v1/stripe/webhooks/stripe" in tested
