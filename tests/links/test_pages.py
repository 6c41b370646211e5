"""The hosted pages over HTTP (the browser tests drive them in Chromium): the offer rendered and
escaped, a strict Content-Security-Policy, the unavailable and not-found pages, the assets, the
development token, and an open order's payment endpoint."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

from tests.aftersale.helpers import around_the_clock, quarter_hour
from tests.checkout.helpers import API, assert_error, db
from tests.links.test_links import LINKS, times

from estuary_checkout.catalog.models import Service

PAY = "/stripe/fastapi/pay"
NASTY = '<script>alert("x")</script>'


async def _link(client, admin, factory, **body):  # type: ignore[no-untyped-def]
    pid, sid = await around_the_clock(factory)
    r = await client.post(LINKS, json={"service_id": sid, "practitioner_id": pid, **body}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json(), sid


async def test_the_pay_page_escapes_what_it_shows(client, admin, factory):
    link, sid = await _link(
        client, admin, factory, after_completion={"type": "confirmation", "message": NASTY}
    )
    async with db(factory) as s:
        service = await s.get(Service, sid)
        assert service is not None
        service.name = NASTY
        service.description = f"desc {NASTY}"
    r = await client.get(f"{PAY}/{link['slug']}")
    assert r.status_code == 200, r.text
    html = r.text
    assert NASTY not in html  # not as markup anywhere: the title, the heading, the page data
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert data is not None
    assert json.loads(data.group(1))["offer"]["service"]["name"] == NASTY  # intact as data
    assert "<script>" not in data.group(1)


async def test_pages_carry_a_strict_content_security_policy(client, admin, factory, settings):
    link, _ = await _link(client, admin, factory)
    r = await client.get(f"{PAY}/{link['slug']}")
    policy = r.headers["content-security-policy"]
    emulator = settings.stripe_api_base.rstrip("/")
    assert f"script-src 'self' {emulator}" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', r.text)
    assert scripts == [f"{emulator}/v3/", "/stripe/fastapi/assets/pay.js"]
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', r.text)
    assert styles == ["/stripe/fastapi/assets/pay.css"]
    for asset, kind in (("pay.js", "javascript"), ("pay.css", "text/css")):
        got = await client.get(f"/stripe/fastapi/assets/{asset}")
        assert got.status_code == 200 and kind in got.headers["content-type"]


async def test_unknown_used_up_and_inactive_links_get_a_page(client, admin, factory):
    for slug in ("nope", "x" * 10_000):
        r = await client.get(f"{PAY}/{slug}")
        assert r.status_code == 404 and "Not found" in r.text and "content-security-policy" in r.headers
    link, _ = await _link(client, admin, factory, inactive_message=f"Sold out {NASTY}")
    await client.patch(f"{LINKS}/{link['id']}", json={"active": False}, headers=admin)
    r = await client.get(f"{PAY}/{link['slug']}")
    assert r.status_code == 410 and "Sold out &lt;script&gt;" in r.text and NASTY not in r.text


async def test_the_checkout_page_and_an_open_orders_payment(client, admin, factory, new_user):
    assert (await client.get("/stripe/fastapi/checkout/not-a-uuid")).status_code == 404
    page = await client.get(f"/stripe/fastapi/checkout/{uuid.uuid4()}")
    assert page.status_code == 200 and "content-security-policy" in page.headers

    link, _ = await _link(client, admin, factory)
    buyer, other = await new_user(), await new_user()
    created = (
        await client.post(
            f"{API}/links/{link['slug']}/checkout",
            json=times(quarter_hour(timedelta(days=3))),
            headers=buyer.headers,
        )
    ).json()
    got = await client.get(f"{API}/orders/{created['order_id']}/payment", headers=buyer.headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["requires_payment"] is True and body["client_secret"] == created["client_secret"]
    assert_error(
        await client.get(f"{API}/orders/{created['order_id']}/payment", headers=other.headers),
        404,
        "ORDER_NOT_FOUND",
    )


async def test_the_development_token(client, settings):
    r = await client.post("/stripe/fastapi/dev/token")
    assert r.status_code == 200 and r.json()["email"] == "demo@example.com"
    balance = await client.get(
        f"{API}/credits/balance", headers={"Authorization": f"Bearer {r.json()['token']}"}
    )
    assert balance.status_code == 200


async def test_a_link_quote_for_the_signed_in_customer(client, admin, factory, new_user):
    link, _ = await _link(client, admin, factory)
    buyer = await new_user(credit=500)
    r = await client.post(
        f"{API}/links/{link['slug']}/quote",
        json={**times(quarter_hour(timedelta(days=3))), "use_credits": True},
        headers=buyer.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["total_cents"], r.json()["credits_applied_cents"]) == (10375, 500)
