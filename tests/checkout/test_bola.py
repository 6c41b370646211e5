"""Object-level authorization: every id-taking route, called by a second user, answers exactly
like an id that does not exist (404, same body) and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from tests.checkout.helpers import API, assert_error, create_ok, future_slot, pay_in_browser, session_body


@pytest.fixture
async def victim_order(client, new_user):  # type: ignore[no-untyped-def]
    owner = await new_user()
    created = await create_ok(client, owner.headers, session_body(*future_slot()))
    return owner, created


STATUS_LOOKUPS = [
    ("order_id", lambda c: c["order_id"], lambda: str(uuid.uuid4())),
    ("payment_intent_id", lambda c: c["payment_intent_id"], lambda: "pi_doesnotexist000000000"),
    (
        "checkout_session_id",
        lambda c: "cs_test_" + c["order_id"].replace("-", ""),
        lambda: "cs_test_doesnotexist",
    ),
]


@pytest.mark.parametrize(("field", "theirs", "missing"), STATUS_LOOKUPS)
async def test_status_of_someone_elses_order(client, new_user, victim_order, field, theirs, missing):
    owner, created = victim_order
    intruder = await new_user()
    resp = await client.post(
        f"{API}/checkout/status", json={field: theirs(created)}, headers=intruder.headers
    )
    gone = await client.post(f"{API}/checkout/status", json={field: missing()}, headers=intruder.headers)
    assert_error(resp, 404, "ORDER_NOT_FOUND")
    assert (resp.status_code, resp.json()) == (gone.status_code, gone.json())
    # the owner still sees it (when it is findable by this key)
    if field != "checkout_session_id":
        mine = await client.post(
            f"{API}/checkout/status", json={field: theirs(created)}, headers=owner.headers
        )
        assert mine.status_code == 200 and mine.json()["order_id"] == created["order_id"]


async def test_status_mixed_keys_cannot_cross_users(client, new_user, victim_order):
    """The intruder's own order id together with the victim's intent id finds nothing."""
    _owner, created = victim_order
    intruder = await new_user()
    mine = await create_ok(client, intruder.headers, session_body(*future_slot()))
    resp = await client.post(
        f"{API}/checkout/status",
        json={"order_id": mine["order_id"], "payment_intent_id": created["payment_intent_id"]},
        headers=intruder.headers,
    )
    assert_error(resp, 404, "ORDER_NOT_FOUND")


async def test_status_needs_one_key(client, new_user):
    """SPEC 3: at least one key, else 422 — never "any of my orders", never a 500 with several."""
    user = await new_user()
    for n in (0, 1, 2):
        if n:
            await create_ok(client, user.headers, session_body(*future_slot()))
        for body in ({}, {"order_id": None}, {"order_id": None, "payment_intent_id": None}):
            resp = await client.post(f"{API}/checkout/status", json=body, headers=user.headers)
            assert_error(resp, 422, "VALIDATION_ERROR")


async def test_confirm_someone_elses_payment(client, new_user, victim_order, stripe_api_base):
    owner, created = victim_order
    intruder = await new_user()
    await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    resp = await client.post(
        f"{API}/payment/confirm",
        json={"payment_intent_id": created["payment_intent_id"]},
        headers=intruder.headers,
    )
    gone = await client.post(
        f"{API}/payment/confirm",
        json={"payment_intent_id": "pi_doesnotexist000000000"},
        headers=intruder.headers,
    )
    body = assert_error(resp, 404, "ORDER_NOT_FOUND")
    assert (resp.status_code, body) == (gone.status_code, gone.json())
    # with a payment method too (the intruder tries to pay, or to learn something): same 404
    resp2 = await client.post(
        f"{API}/payment/confirm",
        json={"payment_intent_id": created["payment_intent_id"], "payment_method_id": "pm_card_visa"},
        headers=intruder.headers,
    )
    assert (resp2.status_code, resp2.json()) == (gone.status_code, gone.json())
    # the intruder's calls did not fulfil it; the owner's does
    st = (
        await client.post(
            f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=owner.headers
        )
    ).json()
    assert st["status"] == "pending_payment"
    ok = await client.post(
        f"{API}/payment/confirm",
        json={"payment_intent_id": created["payment_intent_id"]},
        headers=owner.headers,
    )
    assert ok.json()["status"] == "completed"


async def test_someone_elses_credit_and_cards_are_not_visible(client, new_user, stripe_api_base):
    owner = await new_user(credit=1234)
    created = await create_ok(client, owner.headers, session_body(*future_slot(), save_payment_method=True))
    await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    await client.post(
        f"{API}/payment/confirm",
        json={"payment_intent_id": created["payment_intent_id"]},
        headers=owner.headers,
    )
    intruder = await new_user()
    assert (await client.get(f"{API}/payment-methods", headers=intruder.headers)).json() == {
        "payment_methods": []
    }
    bal = (await client.get(f"{API}/credits/balance", headers=intruder.headers)).json()
    assert (bal["balance_cents"], bal["held_cents"]) == (0, 0)
    assert (
        len((await client.get(f"{API}/payment-methods", headers=owner.headers)).json()["payment_methods"])
        == 1
    )


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        (
            "POST",
            "/checkout/create",
            {"checkout_type": "bundle", "items": [{"service_id": 789, "practitioner_id": 456}]},
        ),
        (
            "POST",
            "/checkout/calculate-price",
            {"checkout_type": "bundle", "items": [{"service_id": 789, "practitioner_id": 456}]},
        ),
        ("POST", "/checkout/status", {"order_id": str(uuid.uuid4())}),
        ("POST", "/payment/confirm", {"payment_intent_id": "pi_x123"}),
        ("GET", "/payment-methods", None),
        ("GET", "/credits/balance", None),
    ],
)
async def test_every_route_needs_a_token(client, method, path, json):
    resp = await client.request(method, f"{API}{path}", json=json)
    assert_error(resp, 401, "UNAUTHORIZED")
