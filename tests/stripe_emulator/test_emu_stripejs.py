"""The browser side of the emulator over HTTP: the Stripe.js subset at /v3/, its frame, the 3-D Secure
page, and the /v1 calls a page makes from another origin (CORS, publishable key + client_secret)."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import PUBLISHABLE_KEY

PAGE_ORIGIN = "http://127.0.0.1:8000"  # where the checkout's pages are served from in dev
PK = {"Authorization": f"Bearer {PUBLISHABLE_KEY}", "Origin": PAGE_ORIGIN}
CARD = {
    "type": "card",
    "card[number]": "4242424242424242",
    "card[exp_month]": "12",
    "card[exp_year]": "2040",
    "card[cvc]": "123",
}


@pytest.fixture
def http(emulator: EmulatorServer):
    with httpx.Client(base_url=emulator.url) as c:
        yield c


def _intent(client: stripe.StripeClient, amount: int = 2500) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "automatic_payment_methods": {"enabled": True},
            "metadata": {"order_id": "o-1"},
        }
    )


def test_stripe_js_is_served_as_javascript_and_revalidated(http: httpx.Client) -> None:
    r = http.get("/v3/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "window.Stripe = Stripe" in r.text
    assert http.get("/v3").content == r.content  # as js.stripe.com/v3 and /v3/
    again = http.get("/v3/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert http.get("/v3/", headers={"If-None-Match": '"other"'}).status_code == 200


def test_elements_frame_page_and_its_files(http: httpx.Client) -> None:
    r = http.get("/v3/elements-frame.html")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors *" in csp and "unsafe-inline" not in csp
    assert "<title>Secure payment input frame</title>" in r.text
    for field, label in (("number", "Card number"), ("expiry", "Expiration date"), ("cvc", "Security code")):
        assert f'<label for="{field}">{label}</label>' in r.text
    assert 'placeholder="MM / YY"' in r.text and 'autocomplete="cc-number"' in r.text
    assert "<script>" not in r.text and "style=" not in r.text  # nothing inline: the CSP would block it
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sorted(refs) == ["elements-frame.css", "elements-frame.js"]
    types = {
        "elements-frame.css": "text/css; charset=utf-8",
        "elements-frame.js": "application/javascript; charset=utf-8",
    }
    for ref in refs:
        asset = http.get(f"/v3/{ref}")
        assert asset.status_code == 200 and asset.headers["content-type"] == types[ref]


def test_only_the_listed_files_are_served(http: httpx.Client) -> None:
    for path in ("/v3/nope.js", "/v3/..%2F_stripejs.py", "/v3/%2E%2E%2Fapp.py", "/v3/static"):
        r = http.get(path)
        assert r.status_code == 404, path
        assert "Stripe.js" in r.text


def test_fault_injection_leaves_the_browser_files_alone(http: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.set_faults(error_rate=1.0, error_status=503)
    try:
        assert http.get("/v3/").status_code == 200
        assert http.get("/v3/elements-frame.html").status_code == 200
        assert http.post("/v1/payment_methods", data=CARD, headers=PK).status_code == 503
    finally:
        emulator.clear_faults()


def test_cors_preflight_for_the_calls_stripe_js_makes(http: httpx.Client) -> None:
    for method, path in (
        ("POST", "/v1/payment_methods"),
        ("POST", "/v1/payment_intents/pi_123/confirm"),
        ("GET", "/v1/payment_intents/pi_123"),
    ):
        r = http.options(
            path,
            headers={
                "Origin": PAGE_ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert r.status_code == 204, path
        assert r.headers["access-control-allow-origin"] == "*"
        assert method in r.headers["access-control-allow-methods"]
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert int(r.headers["access-control-max-age"]) > 0


def test_publishable_key_pays_with_client_secret_from_another_origin(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    pi = _intent(client)
    pm = http.post("/v1/payment_methods", data=CARD, headers=PK)
    assert pm.status_code == 200 and pm.headers["access-control-allow-origin"] == "*"
    assert pm.json()["card"]["last4"] == "4242" and "number" not in pm.json()["card"]
    seen = http.get(f"/v1/payment_intents/{pi.id}", params={"client_secret": pi.client_secret}, headers=PK)
    assert seen.status_code == 200 and seen.json()["status"] == "requires_payment_method"
    done = http.post(
        f"/v1/payment_intents/{pi.id}/confirm",
        data={"client_secret": pi.client_secret, "payment_method": pm.json()["id"], "use_stripe_sdk": "true"},
        headers=PK,
    )
    assert done.status_code == 200, done.text
    assert done.headers["access-control-allow-origin"] == "*"
    assert done.json()["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_publishable_key_with_a_wrong_or_missing_client_secret_is_refused(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    pi = _intent(client)
    other = _intent(client)
    for data, status, param in (
        ({"client_secret": other.client_secret, "payment_method": "pm_card_visa"}, 400, "client_secret"),
        ({"client_secret": pi.id + "_secret_guess", "payment_method": "pm_card_visa"}, 400, "client_secret"),
        ({"payment_method": "pm_card_visa"}, 401, None),
    ):
        r = http.post(f"/v1/payment_intents/{pi.id}/confirm", data=data, headers=PK)
        assert r.status_code == status, r.text
        assert r.headers["access-control-allow-origin"] == "*"  # the page can read why
        assert r.json()["error"].get("param") == param
    wrong_read = http.get(
        f"/v1/payment_intents/{pi.id}", params={"client_secret": other.client_secret}, headers=PK
    )
    assert wrong_read.status_code == 400
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_publishable_key_cannot_do_what_needs_the_secret_key(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    pi = _intent(client)
    paid = _intent(client)
    client.v1.payment_intents.confirm(paid.id, params={"payment_method": "pm_card_visa"})
    cus = client.v1.customers.create()
    for method, path, data in (
        ("POST", "/v1/payment_intents", {"amount": "2500", "currency": "usd"}),
        ("GET", f"/v1/payment_intents/{pi.id}", None),  # no client_secret
        ("GET", "/v1/payment_intents", None),
        ("POST", f"/v1/payment_intents/{pi.id}", {"amount": "1"}),
        ("POST", f"/v1/payment_intents/{pi.id}/cancel", {}),
        ("POST", f"/v1/payment_intents/{pi.id}/capture", {}),
        ("POST", "/v1/refunds", {"payment_intent": paid.id}),
        ("GET", f"/v1/customers/{cus.id}", None),
        ("POST", "/v1/customers", {"email": "x@example.com"}),
        ("GET", "/v1/payment_methods", None),
        ("GET", "/v1/events", None),
    ):
        r = http.request(method, path, data=data, headers=PK)
        assert r.status_code == 401, (method, path, r.text)
        assert "publishable API key" in r.json()["error"]["message"]
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"
    assert (
        client.v1.payment_intents.retrieve(
            paid.id, params={"expand": ["latest_charge"]}
        ).latest_charge.refunded
        is False
    )


def test_a_decline_through_the_publishable_key_carries_the_intent(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    pi = _intent(client)
    r = http.post(
        f"/v1/payment_intents/{pi.id}/confirm",
        data={"client_secret": pi.client_secret, "payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
        headers=PK,
    )
    assert r.status_code == 402
    err = r.json()["error"]
    assert (err["type"], err["code"], err["decline_code"]) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
    )
    assert err["payment_intent"]["status"] == "requires_payment_method"


def test_three_d_secure_page(
    http: httpx.Client, client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1999,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
        }
    )
    assert pi.status == "requires_action"
    url = pi.next_action.use_stripe_sdk.stripe_js
    page = httpx.get(url)
    assert page.status_code == 200
    assert '<html lang="en">' in page.text and 'name="viewport"' in page.text
    assert ">Complete authentication</button>" in page.text and ">Fail authentication</button>" in page.text
    assert "$19.99 USD" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "style=" not in page.text
    for ref, ctype in (
        ("/v3/three-d-secure.js", "application/javascript"),
        ("/v3/three-d-secure.css", "text/css"),
    ):
        assert f'"{ref}"' in page.text
        assert http.get(ref).headers["content-type"].startswith(ctype)
    emulator.complete_3ds(pi.id)
    after = httpx.get(url)
    assert after.status_code == 200 and "no challenge to complete (status: succeeded)" in after.text
    assert "<button" not in after.text
    missing = http.get("/_emulator/three_d_secure/pi_doesnotexist")
    assert missing.status_code == 404 and "No such payment" in missing.text


def test_three_d_secure_return_says_processing_while_processing(
    http: httpx.Client, client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(processing_delay_ms=60_000)
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
            "return_url": "https://shop.example/done",
        }
    )
    r = http.post(
        f"/_emulator/payment_intents/{pi.id}/three_d_secure", data={"outcome": "complete", "redirect": "1"}
    )
    assert r.status_code == 303
    assert "redirect_status=processing" in r.headers["location"]
