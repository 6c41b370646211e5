"""Per-user limits on create, confirm and coupon attempts: 429 with Retry-After, other users unaffected."""

from __future__ import annotations

import httpx
from tests.checkout.helpers import API, future_slot, session_body

from estuary_checkout.app import create_app
from estuary_checkout.state import AppState


async def test_attempts_past_the_limit_get_429_with_retry_after(settings, make_token):
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    state = AppState.build(limited)
    app = create_app(limited, state=state)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            h1 = {"Authorization": f"Bearer {make_token()}"}
            h2 = {"Authorization": f"Bearer {make_token()}"}
            start, end = future_slot()
            bad = session_body(start, end, service_id=999999)  # fails fast, still counts as an attempt
            codes = [
                (await c.post(f"{API}/checkout/create", json=bad, headers=h1)).status_code for _ in range(4)
            ]
            assert codes == [404, 404, 404, 429]
            r = await c.post(f"{API}/checkout/create", json=bad, headers=h1)
            assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            # another user is not affected
            assert (await c.post(f"{API}/checkout/create", json=bad, headers=h2)).status_code == 404
            # confirm has its own bucket
            confirm = [
                (
                    await c.post(f"{API}/payment/confirm", json={"payment_intent_id": "pi_nope"}, headers=h1)
                ).status_code
                for _ in range(4)
            ]
            assert confirm == [404, 404, 404, 429]
            # coupon guesses through calculate-price are limited too
            guess = [
                (
                    await c.post(
                        f"{API}/checkout/calculate-price",
                        json=session_body(start, end, coupon_code=f"GUESS{i}"),
                        headers=h2,
                    )
                ).status_code
                for i in range(4)
            ]
            assert guess == [422, 422, 422, 429]
    finally:
        await state.aclose()
