"""The Stripe.js subset in a real browser: a test page on another origin, under a strict
Content-Security-Policy, pays through the Payment Element the emulator serves.

Needs Playwright and a Chromium (tests/browser.py: skipped without one, a failure with CI=true).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from tests.browser import launch_browser

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import PUBLISHABLE_KEY

FRAME = 'iframe[title="Secure payment input frame"]'
CHALLENGE = 'iframe[title="3D Secure authentication"]'

# The page's own script: what a hosted checkout page does with Stripe.js, and a record of it for
# the test (window.__events, the #result box).
PAGE_JS = r"""
(function () {
  var cfg = document.body.dataset;
  window.__events = [];
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', function (e) {
    window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
  var stripe = Stripe(cfg.pk);
  var elements = stripe.elements({ clientSecret: cfg.clientSecret, appearance: { theme: 'stripe' } });
  var payment = elements.create('payment');
  ['ready', 'change', 'focus', 'blur'].forEach(function (name) {
    payment.on(name, function (ev) { window.__events.push([name, ev]); });
  });
  payment.on('ready', function () { document.body.dataset.ready = 'yes'; });
  payment.mount('#payment-element');
  var result = document.getElementById('result');
  document.getElementById('pay').addEventListener('click', function () {
    result.textContent = '';
    stripe.confirmPayment({ elements: elements, redirect: 'if_required' }).then(function (res) {
      result.textContent = JSON.stringify(res);
    });
  });
  document.getElementById('pay-redirect').addEventListener('click', function () {
    result.textContent = '';
    stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: window.location.origin + '/done?order=o-1' }
    }).then(function (res) {
      result.textContent = JSON.stringify(res);  // only errors come back: success navigates away
    });
  });
  document.getElementById('retrieve').addEventListener('click', function () {
    result.textContent = '';
    stripe.retrievePaymentIntent(cfg.clientSecret).then(function (res) {
      result.textContent = JSON.stringify(res);
    });
  });
  document.getElementById('secret').addEventListener('click', function () {
    result.textContent = '';
    try { Stripe('sk_test_oops'); } catch (e) { result.textContent = JSON.stringify({ thrown: e.name + ': ' + e.message }); }
  });
})();
"""


class HostPage:
    """A tiny site on its own origin serving the checkout-like page with a strict CSP."""

    def __init__(self, emulator_url: str) -> None:
        emu = emulator_url
        csp = (
            f"default-src 'none'; script-src 'self' {emu}; frame-src {emu}; connect-src 'self' {emu}; "
            "style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"
        )

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/page.js":
                    body, ctype = PAGE_JS.encode(), "application/javascript"
                elif url.path == "/done":
                    body, ctype = b"<!doctype html><title>Done</title><h1>Thank you</h1>", "text/html"
                elif url.path == "/":
                    secret = parse_qs(url.query).get("cs", [""])[0]
                    body = (
                        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                        '<meta name="viewport" content="width=device-width, initial-scale=1">'
                        f'<title>Pay</title><script src="{emu}/v3/"></script></head>'
                        f'<body data-pk="{PUBLISHABLE_KEY}" data-client-secret="{secret}">'
                        '<main><button id="before" type="button">Before</button>'
                        '<form id="payment-form"><div id="payment-element"></div></form>'
                        '<button id="pay" type="button">Pay</button>'
                        '<button id="pay-redirect" type="button">Pay and return</button>'
                        '<button id="retrieve" type="button">Retrieve</button>'
                        '<button id="secret" type="button">Secret</button>'
                        '<pre id="result"></pre></main><script src="/page.js"></script></body></html>'
                    ).encode()
                    ctype = "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Security-Policy", csp)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def host(emulator: EmulatorServer) -> Iterator[HostPage]:
    h = HostPage(emulator.url)
    yield h
    h.close()


@pytest.fixture
def open_page(browser: Any, host: HostPage, client: stripe.StripeClient) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_(amount: int = 2500, width: int = 1024) -> tuple[Any, stripe.PaymentIntent, list[Any]]:
        """The test page paying a new PaymentIntent; (page, intent, requests the page made so far)."""
        pi = client.v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": "usd",
                "automatic_payment_methods": {"enabled": True},
                "metadata": {"order_id": "o-1", "user_id": "u-1"},
            }
        )
        ctx = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        requests: list[Any] = []
        page.on("request", lambda r: requests.append(r))  # (Playwright cannot wrap a bound builtin)
        page.goto(f"{host.url}/?cs={pi.client_secret}")
        page.wait_for_selector("body[data-ready=yes]")  # (wait_for_function would need 'unsafe-eval')
        return page, pi, requests

    yield open_
    for ctx in contexts:
        ctx.close()


def _type_card(page: Any, number: str, expiry: str = "12 / 34", cvc: str = "123") -> Any:
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiration date").fill(expiry)
    frame.get_by_label("Security code").fill(cvc)
    return frame


def _pay(page: Any) -> dict[str, Any]:
    page.click("#pay")
    page.wait_for_selector("#result:not(:empty)", timeout=15_000)
    return json.loads(page.inner_text("#result"))


def _no_violations(page: Any) -> None:
    assert page.evaluate("window.__violations") == []


def test_good_card_pays_and_card_data_stays_in_the_frame(open_page: Any, client: stripe.StripeClient) -> None:
    page, pi, requests = open_page()
    _type_card(page, "4242 4242 4242 4242")
    last = page.evaluate("window.__events.filter(e => e[0] === 'change').pop()[1]")
    assert last["complete"] is True and last["empty"] is False and "error" not in last
    result = _pay(page)
    assert result["paymentIntent"]["status"] == "succeeded", result
    assert result["paymentIntent"]["id"] == pi.id
    assert "metadata" not in result["paymentIntent"]  # trimmed to what Stripe gives a publishable key
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    # the host page's own requests never carried the card number: only the frame's did
    main = page.main_frame
    host_bodies = [r.post_data or "" for r in requests if r.frame == main]
    frame_bodies = [r.post_data or "" for r in requests if r.frame != main]
    assert any("4242424242424242" in b for b in frame_bodies)
    assert not any("4242424242424242" in b for b in host_bodies)
    assert any("client_secret" in b for b in host_bodies)  # the confirm, cross-origin (CORS)
    page.click("#retrieve")
    page.wait_for_selector("#result:not(:empty)")
    assert json.loads(page.inner_text("#result"))["paymentIntent"]["status"] == "succeeded"
    _no_violations(page)


def test_decline_then_retry_with_another_card(open_page: Any, client: stripe.StripeClient) -> None:
    page, pi, _requests = open_page()
    _type_card(page, "4000 0000 0000 0002")
    err = _pay(page)["error"]
    assert (err["type"], err["code"], err["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert err["message"] == "Your card was declined."
    assert err["payment_intent"]["status"] == "requires_payment_method"
    frame = _type_card(page, "4000 0000 0000 9995")
    assert _pay(page)["error"]["decline_code"] == "insufficient_funds"
    frame.get_by_label("Card number").fill("4242424242424242")
    assert _pay(page)["paymentIntent"]["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    _no_violations(page)


@pytest.mark.parametrize(
    ("number", "keys", "outcome"),
    [
        ("4000 0025 0000 3155", ["Enter"], "succeeded"),
        ("4000 0000 0000 3220", ["Tab", "Enter"], "payment_intent_authentication_failure"),
    ],
)
def test_three_d_secure_challenge(
    open_page: Any, client: stripe.StripeClient, number: str, keys: list[str], outcome: str
) -> None:
    from playwright.sync_api import expect

    page, pi, _requests = open_page()
    _type_card(page, number)
    page.click("#pay")
    dialog = page.get_by_role("dialog", name="Authenticate your payment")
    dialog.wait_for()
    challenge = page.frame_locator(CHALLENGE)
    challenge.get_by_role("heading", name="3-D Secure 2 test page").wait_for()
    # the focus is in the challenge, on its first button: it is usable from the keyboard alone
    expect(challenge.get_by_role("button", name="Complete authentication")).to_be_focused()
    for key in keys:
        page.keyboard.press(key)
    page.wait_for_selector("#result:not(:empty)", timeout=15_000)
    result = json.loads(page.inner_text("#result"))
    assert page.get_by_role("dialog").count() == 0  # the modal closed
    if outcome == "succeeded":
        assert result["paymentIntent"]["status"] == "succeeded", result
    else:
        assert result["error"]["code"] == outcome, result
        assert result["error"]["payment_intent"]["status"] == "requires_payment_method"
    assert client.v1.payment_intents.retrieve(pi.id).status == result.get("paymentIntent", {}).get(
        "status", "requires_payment_method"
    )
    _no_violations(page)


def test_validation_errors_are_shown_and_returned(open_page: Any) -> None:
    page, _pi, _requests = open_page()
    err = _pay(page)["error"]
    assert (err["type"], err["code"]) == ("validation_error", "incomplete_number")
    frame = page.frame_locator(FRAME)
    number = frame.get_by_label("Card number")
    assert number.get_attribute("aria-invalid") == "true"
    number.fill("4242 4242 4242 4241")
    assert frame.get_by_text("Your card number is invalid.").is_visible()
    last = page.evaluate("window.__events.filter(e => e[0] === 'change').pop()[1]")
    assert last["complete"] is False and last["error"]["code"] == "invalid_number"
    _type_card(page, "4242424242424242", expiry="01 / 20")
    assert _pay(page)["error"]["code"] == "invalid_expiry_year_past"
    page.click("#secret")
    page.wait_for_selector("#result:not(:empty)")
    assert "IntegrationError: You should not use your secret key" in page.inner_text("#result")


def test_keyboard_focus_and_a_narrow_screen(open_page: Any) -> None:
    page, _pi, _requests = open_page(width=375)
    page.focus("#before")
    page.keyboard.press("Tab")
    frame = page.frame_locator(FRAME)
    # Tab enters the frame; each field, once complete, hands the focus to the next
    for label, keys in (
        ("Card number", "4242424242424242"),
        ("Expiration date", "1234"),
        ("Security code", "123"),
    ):
        field = frame.get_by_label(label)
        assert field.evaluate("el => el === document.activeElement && el.matches(':focus')"), label
        outline = field.evaluate(
            "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth"
        )
        assert outline == "solid 2px", outline  # a visible focus ring
        page.keyboard.type(keys)
    assert frame.get_by_label("Expiration date").input_value() == "12 / 34"
    page.keyboard.press("Tab")
    assert frame.get_by_label("Postal code (optional)").evaluate("el => el === document.activeElement")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator(FRAME).bounding_box()
    assert box is not None and box["width"] <= 375
    inner = frame.locator("html").evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert inner[0] <= inner[1]  # nothing in the frame overflows sideways
    page.locator(FRAME).screenshot()  # renders at 375 px without error
    _no_violations(page)


def test_redirect_always_returns_to_the_return_url(open_page: Any, host: HostPage) -> None:
    page, pi, _requests = open_page()
    _type_card(page, "4000 0025 0000 3155")  # with a challenge on the way
    page.click("#pay-redirect")
    page.frame_locator(CHALLENGE).get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"{host.url}/done?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["order"] == ["o-1"]
    assert query["payment_intent"] == [pi.id]
    assert query["payment_intent_client_secret"] == [pi.client_secret]
    assert query["redirect_status"] == ["succeeded"]
