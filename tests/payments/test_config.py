"""GET /config: what the browser needs to talk to Stripe, Stripe.js's URL included."""

from __future__ import annotations

import httpx
import pytest
from tests.conftest import API

from estuary_checkout.config import Settings
from estuary_checkout.payments.service import stripe_js_url


async def test_config_points_the_browser_at_the_emulators_stripe_js(client, auth, settings, stripe_api_base):
    r = await client.get(f"{API}/config", headers=auth())
    assert r.status_code == 200
    assert r.json() == {
        "publishable_key": settings.stripe_publishable_key,
        "currencies": settings.offered_currencies(),
        "default_currency": settings.currency,
        "tax_rate": str(settings.tax_rate),
        "hold_minutes": settings.hold_minutes,
        "stripe_api_base": stripe_api_base,
        "stripe_js_url": f"{stripe_api_base}/v3/",
    }
    async with httpx.AsyncClient() as browser:
        script = await browser.get(r.json()["stripe_js_url"])
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")


async def test_config_needs_a_token(client):
    r = await client.get(f"{API}/config")
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("env", "api_base", "expected"),
    [
        ("dev", "http://127.0.0.1:12111", "http://127.0.0.1:12111/v3/"),
        ("test", "http://stripe-emulator:12111/", "http://stripe-emulator:12111/v3/"),
        ("dev", "https://api.stripe.com", "https://js.stripe.com/v3/"),
        ("test", "https://api.stripe.com/", "https://js.stripe.com/v3/"),
        # production never loads the emulator's script, whatever the API base says
        ("production", "https://stripe-proxy.internal", "https://js.stripe.com/v3/"),
    ],
)
def test_stripe_js_url(settings: Settings, env: str, api_base: str, expected: str) -> None:
    assert stripe_js_url(settings.model_copy(update={"env": env, "stripe_api_base": api_base})) == expected
