"""Broken object level authorization: every route, classified; every id a second user can send
answers 404 exactly like an id that does not exist. A new route fails `test_every_route_is_classified`
until it gets a row here."""

from __future__ import annotations

import uuid

import pytest
from tests.checkout.helpers import (
    API,
    future_slot,
    make_practitioner,
    make_user,
    pay_in_browser,
    session_body,
)

ADMIN = "admin role (403 for others)"

# (method, path under the API prefix) -> how it is protected
ROUTES = {
    ("POST", "/checkout/create"): "payment_method_id (someone else's saved card) -> 404",
    ("POST", "/checkout/calculate-price"): "no object ids of other users (catalog ids are public)",
    ("POST", "/checkout/status"): "order_id / payment_intent_id / checkout_session_id -> 404",
    ("POST", "/payment/confirm"): "payment_intent_id / payment_method_id -> 404",
    ("GET", "/payment-methods"): "caller's own cards only (their Stripe customer)",
    ("GET", "/credits/balance"): "caller's own balance only",
    ("GET", "/config"): "no per-user data",
    ("GET", "/catalog/services"): "public catalog: no per-user data",
    ("GET", "/catalog/services/{service_id}"): "public catalog: no per-user data",
    ("GET", "/catalog/practitioners/{practitioner_id}"): "public catalog: no per-user data",
    ("GET", "/catalog/availability"): "public catalog: free slots only, never who holds the others",
    ("POST", "/bookings/{booking_id}/cancel"): "booking_id of another user -> 404 (tests/aftersale)",
    ("POST", "/bookings/{booking_id}/reschedule"): "booking_id of another user -> 404 (tests/aftersale)",
    ("POST", "/admin/bookings/{booking_id}/cancel"): "admin role (403 for others)",
    ("POST", "/admin/orders/{order_id}/refunds"): "admin role (403 for others)",
    ("POST", "/webhooks/stripe"): "no bearer token; Stripe signature",
    ("GET", "/orders/{order_id}/payment"): "order_id of another user -> 404 ORDER_NOT_FOUND (tests/links)",
    ("POST", "/links/{slug}/quote"): "prices for the caller only; writes nothing",
    ("GET", "/links/{slug}"): "public offer by unguessable slug: no per-user data (tests/links)",
    ("POST", "/links/{slug}/checkout"): "creates the caller's own order; the link is public by design",
    # operator routes (SPEC 10.2, 10.4): tests/admin/test_roles.py checks every /admin/ route
    **{
        route: ADMIN
        for route in (
            ("POST", "/admin/practitioners"),
            ("GET", "/admin/practitioners"),
            ("GET", "/admin/practitioners/{practitioner_id}"),
            ("PATCH", "/admin/practitioners/{practitioner_id}"),
            ("PUT", "/admin/practitioners/{practitioner_id}/availability"),
            ("POST", "/admin/practitioners/{practitioner_id}/time-off"),
            ("GET", "/admin/practitioners/{practitioner_id}/time-off"),
            ("DELETE", "/admin/practitioners/{practitioner_id}/time-off/{time_off_id}"),
            ("POST", "/admin/services"),
            ("GET", "/admin/services"),
            ("GET", "/admin/services/{service_id}"),
            ("PATCH", "/admin/services/{service_id}"),
            ("POST", "/admin/coupons"),
            ("GET", "/admin/coupons"),
            ("GET", "/admin/coupons/{code}"),
            ("PATCH", "/admin/coupons/{code}"),
            ("GET", "/admin/audit"),
            ("POST", "/admin/webhook-endpoints"),
            ("GET", "/admin/webhook-endpoints"),
            ("GET", "/admin/webhook-endpoints/{endpoint_id}"),
            ("PATCH", "/admin/webhook-endpoints/{endpoint_id}"),
            ("DELETE", "/admin/webhook-endpoints/{endpoint_id}"),
            ("GET", "/admin/webhook-endpoints/{endpoint_id}/deliveries"),
            ("POST", "/admin/webhook-deliveries/{delivery_id}/retry"),
            ("POST", "/admin/payment-links"),
            ("GET", "/admin/payment-links"),
            ("GET", "/admin/payment-links/{link_id}"),
            ("PATCH", "/admin/payment-links/{link_id}"),
            ("GET", "/admin/payment-links/{link_id}/stats"),
            ("POST", "/admin/membership-plans"),
            ("GET", "/admin/membership-plans"),
            ("GET", "/admin/membership-plans/{plan_id}"),
            ("PATCH", "/admin/membership-plans/{plan_id}"),
        )
    },
    ("GET", "/orders"): "caller's own orders only",
    ("GET", "/orders/{order_id}"): "order_id -> 404 ORDER_NOT_FOUND, same body as a missing id",
    ("GET", "/bookings"): "caller's own bookings only",
    ("GET", "/passes"): "caller's own passes only",
    ("GET", "/admin/orders"): "admin role (403 FORBIDDEN otherwise); any user's orders by design",
    ("GET", "/admin/orders/{order_id}"): "admin role (403 FORBIDDEN otherwise); any order by design",
    ("POST", "/admin/credits/adjustments"): "admin role (403 FORBIDDEN otherwise); any user by design",
    ("GET", "/membership-plans"): "public plans: no per-user data",
    ("POST", "/memberships"): "payment_method_id (someone else's saved card) -> 404 (tests/memberships)",
    ("GET", "/memberships"): "caller's own memberships only",
    ("GET", "/memberships/{membership_id}"): "membership_id of another user -> 404 (tests/memberships)",
    (
        "POST",
        "/memberships/{membership_id}/cancel",
    ): "membership_id of another user -> 404 (tests/memberships)",
    (
        "POST",
        "/memberships/{membership_id}/resume",
    ): "membership_id of another user -> 404 (tests/memberships)",
}


async def test_every_route_is_classified(client):
    served = await client.get("/stripe/fastapi/stripe/openapi.json")  # the schema the app serves
    found = set()
    for path, ops in served.json()["paths"].items():
        if path.startswith("/api/v1/stripe"):
            for method in ops:
                found.add((method.upper(), path.removeprefix("/api/v1/stripe")))
    assert found == set(ROUTES), f"classify these routes for BOLA: {found ^ set(ROUTES)}"


@pytest.fixture
async def owner_order(client, session, make_token, stripe_api_base):
    """User A's paid order with a saved card; returns ids and both users' headers."""
    a = await make_user(session)
    b = await make_user(session)
    pid, sid = await make_practitioner(session)
    await session.commit()
    ha = {"Authorization": f"Bearer {make_token(a.external_id)}"}
    hb = {"Authorization": f"Bearer {make_token(b.external_id)}"}
    start, end = future_slot()
    created = await client.post(
        f"{API}/checkout/create",
        json=session_body(start, end, service_id=sid, practitioner_id=pid, save_payment_method=True),
        headers=ha,
    )
    assert created.status_code == 201, created.text
    c = created.json()
    pi = await pay_in_browser(stripe_api_base, c["payment_intent_id"], c["client_secret"])
    confirm = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=ha
    )
    assert confirm.json()["status"] == "completed"
    pms = (await client.get(f"{API}/payment-methods", headers=ha)).json()["payment_methods"]
    assert [p["id"] for p in pms] == [pi.payment_method]
    return {"c": c, "pm": pi.payment_method, "ha": ha, "hb": hb, "pid": pid, "sid": sid}


async def test_second_user_gets_404_like_a_missing_id(client, owner_order):
    o = owner_order
    c, hb = o["c"], o["hb"]
    missing = (
        await client.post(f"{API}/checkout/status", json={"order_id": str(uuid.uuid4())}, headers=hb)
    ).json()
    cases = [
        ("status by order_id", "/checkout/status", {"order_id": c["order_id"]}),
        ("status by payment_intent_id", "/checkout/status", {"payment_intent_id": c["payment_intent_id"]}),
        (
            "status by checkout_session_id",
            "/checkout/status",
            {"checkout_session_id": "cs_" + c["order_id"].replace("-", "")},
        ),
        ("confirm by payment_intent_id", "/payment/confirm", {"payment_intent_id": c["payment_intent_id"]}),
    ]
    for label, path, body in cases:
        r = await client.post(f"{API}{path}", json=body, headers=hb)
        assert r.status_code == 404, (label, r.text)
        assert r.json() == missing, label
    # the owner still sees it
    assert (
        await client.post(f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=o["ha"])
    ).status_code == 200
    missing_detail = await client.get(f"{API}/orders/{uuid.uuid4()}", headers=hb)
    assert missing_detail.status_code == 404
    theirs = await client.get(f"{API}/orders/{c['order_id']}", headers=hb)
    assert (theirs.status_code, theirs.json()) == (404, missing_detail.json())
    assert (await client.get(f"{API}/orders/{c['order_id']}", headers=o["ha"])).status_code == 200


async def test_someone_elses_card_is_404_and_charges_nothing(client, owner_order, stripe_api_base):
    o = owner_order
    start, end = future_slot()
    body = session_body(start, end, service_id=o["sid"], practitioner_id=o["pid"], payment_method_id=o["pm"])
    r = await client.post(f"{API}/checkout/create", json=body, headers=o["hb"])
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "PAYMENT_METHOD_NOT_FOUND"
    # B sees none of A's cards, A's balance or A's orders
    assert (await client.get(f"{API}/payment-methods", headers=o["hb"])).json() == {"payment_methods": []}
    # the slot B tried is still free: nothing was held
    again = await client.post(
        f"{API}/checkout/create",
        json={k: v for k, v in body.items() if k != "payment_method_id"},
        headers=o["hb"],
    )
    assert again.status_code == 201, again.text
