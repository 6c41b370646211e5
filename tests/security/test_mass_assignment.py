"""Clients cannot set what the server computes: unknown or injected fields are 422, and the amount
charged at Stripe is always the server's own total."""

from __future__ import annotations

import pytest
import stripe
from tests.checkout.helpers import API, future_slot, make_practitioner, make_user, session_body

INJECTED = {
    "total_cents": 1,
    "subtotal_cents": 1,
    "status": "completed",
    "user_id": 1,
    "credits_applied_cents": 999999,
    "amount": 1,
    "discount_cents": 10000,
}


@pytest.mark.parametrize("field", sorted(INJECTED))
async def test_injected_fields_are_rejected(client, auth, field):
    start, end = future_slot()
    body = session_body(start, end) | {field: INJECTED[field]}
    for path in ("/checkout/create", "/checkout/calculate-price"):
        r = await client.post(f"{API}{path}", json=body, headers=auth())
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "VALIDATION_ERROR"
        assert r.json()["details"]["field"] == field
    item_level = session_body(start, end)
    item_level["items"][0]["price_cents"] = 1
    r = await client.post(f"{API}/checkout/create", json=item_level, headers=auth())
    assert r.status_code == 422 and r.json()["details"]["field"] == "items[0].price_cents"


async def test_status_and_confirm_reject_extra_fields(client, auth):
    r = await client.post(
        f"{API}/checkout/status",
        json={"order_id": "00000000-0000-0000-0000-000000000000", "status": "completed"},
        headers=auth(),
    )
    assert r.status_code == 422
    r = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": "pi_x", "amount": 1}, headers=auth()
    )
    assert r.status_code == 422


async def test_metadata_cannot_override_reserved_keys_and_amount_is_the_servers(
    client, session, make_token, stripe_api_base
):
    user = await make_user(session)
    pid, sid = await make_practitioner(session, price=12345)
    await session.commit()
    start, end = future_slot()
    body = session_body(
        start,
        end,
        service_id=sid,
        practitioner_id=pid,
        metadata={"order_id": "evil", "user_id": "1", "checkout_type": "bundle", "note": "hi"},
    )
    r = await client.post(
        f"{API}/checkout/create",
        json=body,
        headers={"Authorization": f"Bearer {make_token(user.external_id)}"},
    )
    assert r.status_code == 201, r.text
    c = r.json()
    sk = stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": stripe_api_base}, http_client=stripe.HTTPXClient()
    )
    pi = await sk.v1.payment_intents.retrieve_async(c["payment_intent_id"])
    assert pi.amount == c["total_cents"] == 12345 + 1080  # 12345 × 8.75 % = 1080.19 → 1080
    assert pi.metadata["order_id"] == c["order_id"]
    assert pi.metadata["user_id"] == str(user.id)
    assert pi.metadata["checkout_type"] == "single_session"
    assert pi.metadata["note"] == "hi"


async def test_caps_on_lists_and_strings(client, auth):
    start, end = future_slot()
    many = session_body(start, end)
    many["items"] = many["items"] * 11
    r = await client.post(f"{API}/checkout/calculate-price", json=many, headers=auth())
    assert r.status_code == 422 and r.json()["details"]["field"] == "items"
    meta = session_body(start, end, metadata={f"k{i}": "v" for i in range(21)})
    assert (
        await client.post(f"{API}/checkout/calculate-price", json=meta, headers=auth())
    ).status_code == 422
    long = session_body(start, end, metadata={"k": "v" * 501})
    assert (
        await client.post(f"{API}/checkout/calculate-price", json=long, headers=auth())
    ).status_code == 422
