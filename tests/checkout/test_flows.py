"""The seed request bodies end to end: calculate → create → pay in the browser → confirm → status."""

from __future__ import annotations

from tests.checkout.helpers import API, future_slot, pay_in_browser, session_body


async def _demo_headers(make_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('demo|demo@example.com', email='demo@example.com')}"}


async def test_single_session_with_credits_end_to_end(client, make_token, stripe_api_base, session):
    from tests.checkout.helpers import make_user

    from estuary_checkout.users.models import User

    user = await make_user(session, credit=2000)
    await session.commit()
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    start, end = future_slot()
    body = session_body(start, end, use_credits=True)

    quote = await client.post(f"{API}/checkout/calculate-price", json=body, headers=headers)
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert (
        q["subtotal_cents"],
        q["discount_cents"],
        q["tax_cents"],
        q["credits_applied_cents"],
        q["total_cents"],
    ) == (
        10000,
        0,
        875,
        2000,
        8875,
    )
    assert q["credits_available_cents"] == 2000
    assert q["items"][0]["line_total_cents"] == 10000

    created = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert created.status_code == 201, created.text
    c = created.json()
    assert c["total_cents"] == 8875 and c["requires_payment"] and c["status"] == "pending_payment"
    assert c["payment_intent_id"].startswith("pi_") and c["client_secret"]

    bal = (await client.get(f"{API}/credits/balance", headers=headers)).json()
    assert (bal["balance_cents"], bal["held_cents"]) == (0, 2000)

    pi = await pay_in_browser(stripe_api_base, c["payment_intent_id"], c["client_secret"])
    assert pi.status == "succeeded"

    confirmed = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": c["payment_intent_id"]}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    r = confirmed.json()
    assert r["status"] == "completed" and len(r["booking_ids"]) == 1 and r["requires_action"] is False

    status = (
        await client.post(f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=headers)
    ).json()
    assert status["status"] == "completed" and status["payment_status"] == "paid"
    assert status["booking_ids"] == r["booking_ids"]
    bal = (await client.get(f"{API}/credits/balance", headers=headers)).json()
    assert (bal["balance_cents"], bal["held_cents"]) == (0, 0)
    assert User  # imported for clarity of the factory's model
