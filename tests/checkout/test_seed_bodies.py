"""The three seed request bodies of the issue, end to end as a browser would drive them:
calculate → create → pay at Stripe with the publishable key + client_secret → confirm → status.
Every figure is asserted; bundles and packages grant passes that later sessions redeem."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.checkout.helpers import (
    API,
    bundle_body,
    create_ok,
    db,
    figures,
    future_slot,
    package_body,
    pay_and_confirm,
    session_body,
)

from estuary_checkout.passes.models import Pass


async def _passes(factory, user_id: int) -> list[Pass]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return list(
            (await s.execute(select(Pass).where(Pass.user_id == user_id).order_by(Pass.service_id))).scalars()
        )


async def _full_flow(client, app_state, stripe_api_base, headers, body, expected):  # type: ignore[no-untyped-def]
    """Run one body through the whole flow; returns (quote, created, confirmed, status)."""
    q = await client.post(f"{API}/checkout/calculate-price", json=body, headers=headers)
    assert q.status_code == 200, q.text
    quote = q.json()
    assert figures(quote) == expected
    assert quote["currency"] == "usd"

    created = await create_ok(client, headers, body)
    assert figures(created) == expected
    assert created["status"] == "pending_payment" and created["requires_payment"] is True
    assert created["checkout_session_id"] is None
    assert uuid.UUID(created["order_id"])
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15, seconds=5)

    # what Stripe was asked to charge: exactly the total, in the order's currency, tagged with the order
    intent = await app_state.gateway.retrieve_intent(created["payment_intent_id"])
    assert (intent.amount, intent.currency, intent.status) == (expected[-1], "usd", "requires_payment_method")
    assert intent.metadata["order_id"] == created["order_id"]
    assert intent.metadata["checkout_type"] == body["checkout_type"]

    confirmed = await pay_and_confirm(client, headers, created, stripe_api_base)
    assert confirmed["status"] == "completed" and confirmed["order_id"] == created["order_id"]
    assert confirmed["requires_action"] is False and confirmed["next_action"] is None

    paid = await app_state.gateway.retrieve_intent(created["payment_intent_id"])
    assert paid.status == "succeeded" and paid.amount == expected[-1]
    assert (paid.payment_method or "").startswith("pm_") and (paid.latest_charge or "").startswith("ch_")

    st = await client.post(f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=headers)
    assert st.status_code == 200, st.text
    status = st.json()
    assert status["status"] == "completed" and status["payment_status"] == "paid"
    assert status["total_cents"] == expected[-1] and status["currency"] == "usd"
    assert status["completed_at"] is not None and status["expires_at"] is None
    assert status["booking_ids"] == confirmed["booking_ids"]
    # the same order is found by its PaymentIntent id
    by_pi = await client.post(
        f"{API}/checkout/status", json={"payment_intent_id": created["payment_intent_id"]}, headers=headers
    )
    assert by_pi.json() == status
    return quote, created, confirmed, status


async def test_seed_single_session(client, app_state, stripe_api_base, new_user, factory):
    user = await new_user()
    start, end = future_slot()
    body = session_body(start, end)
    quote, _created, confirmed, _ = await _full_flow(
        client, app_state, stripe_api_base, user.headers, body, (10000, 0, 875, 0, 10875)
    )
    (line,) = quote["items"]
    assert (line["service_id"], line["service_type"], line["practitioner_id"]) == (123, "session", 456)
    assert (line["unit_price_cents"], line["line_total_cents"], line["covered_by_pass"]) == (
        10000,
        10000,
        False,
    )
    assert quote["credits_available_cents"] == 0
    assert len(confirmed["booking_ids"]) == 1
    assert await _passes(factory, user.id) == []  # a session grants no pass


async def test_seed_bundle_grants_pass_redeemed_by_later_session(
    client, app_state, stripe_api_base, new_user, factory
):
    user = await new_user()
    # 45000 × 1; tax round_half_up(45000 × 0.0875 = 3937.5) = 3938
    quote, created, confirmed, _ = await _full_flow(
        client, app_state, stripe_api_base, user.headers, bundle_body(), (45000, 0, 3938, 0, 48938)
    )
    assert quote["items"][0]["quantity"] == 1 and quote["items"][0]["line_total_cents"] == 45000
    assert confirmed["booking_ids"] == []

    (p,) = await _passes(factory, user.id)
    assert (p.service_id, p.practitioner_id, p.source_service_id) == (123, 456, 789)
    assert (p.sessions_total, p.sessions_used, p.status) == (6, 0, "active")  # 5 + 1 bonus
    assert str(p.order_id) == created["order_id"]
    assert abs((p.expires_at - datetime.now(UTC)) - timedelta(days=180)) < timedelta(minutes=5)

    # a later single session of service 123 with practitioner 456 is covered by the pass
    start, end = future_slot()
    body = session_body(start, end)
    q = (await client.post(f"{API}/checkout/calculate-price", json=body, headers=user.headers)).json()
    assert figures(q) == (0, 0, 0, 0, 0)
    assert q["items"][0]["covered_by_pass"] is True and q["items"][0]["pass_id"] == p.id
    assert q["items"][0]["line_total_cents"] == 0 and q["items"][0]["unit_price_cents"] == 10000
    covered = await create_ok(client, user.headers, body)
    assert figures(covered) == (0, 0, 0, 0, 0)
    # nothing to charge: no PaymentIntent, completed at once
    assert covered["requires_payment"] is False and covered["payment_intent_id"] is None
    assert covered["client_secret"] is None and covered["status"] == "completed"
    st = (
        await client.post(
            f"{API}/checkout/status", json={"order_id": covered["order_id"]}, headers=user.headers
        )
    ).json()
    assert (
        st["status"] == "completed" and st["payment_status"] == "not_required" and len(st["booking_ids"]) == 1
    )
    (p,) = await _passes(factory, user.id)
    assert p.sessions_used == 1

    # use_pass: false opts out: full price, the pass untouched
    start, end = future_slot()
    opt_out = session_body(start, end)
    opt_out["items"][0]["use_pass"] = False
    q = (await client.post(f"{API}/checkout/calculate-price", json=opt_out, headers=user.headers)).json()
    assert figures(q) == (10000, 0, 875, 0, 10875) and q["items"][0]["covered_by_pass"] is False
    paid = await create_ok(client, user.headers, opt_out)
    assert figures(paid) == (10000, 0, 875, 0, 10875) and paid["requires_payment"] is True
    (p,) = await _passes(factory, user.id)
    assert p.sessions_used == 1

    # the pass is the caller's: another user pays full price for the same service
    other = await new_user()
    start, end = future_slot()
    q = (
        await client.post(
            f"{API}/checkout/calculate-price", json=session_body(start, end), headers=other.headers
        )
    ).json()
    assert figures(q) == (10000, 0, 875, 0, 10875)


async def test_seed_package_computed_price_grants_child_passes(
    client, app_state, stripe_api_base, new_user, factory
):
    user = await new_user()
    body = package_body(child_selections={"102": {"selected": True, "quantity": 1}})
    # 101: round_half_up(8000 × 90 / 100) = 7200; 102: 6000 × 0.9 = 5400 → 12600
    # tax: 12600 × 0.0875 = 1102.5 → 1103 (half up); total 13703
    quote, _created, _confirmed, _ = await _full_flow(
        client, app_state, stripe_api_base, user.headers, body, (12600, 0, 1103, 0, 13703)
    )
    (line,) = quote["items"]
    assert line["line_total_cents"] == 12600 and line["service_type"] == "package"
    kids = {c["service_id"]: c for c in line["children"]}
    assert set(kids) == {101, 102}
    assert (kids[101]["discounted_unit_price_cents"], kids[101]["quantity"], kids[101]["is_required"]) == (
        7200,
        1,
        True,
    )
    assert (kids[102]["discounted_unit_price_cents"], kids[102]["quantity"], kids[102]["is_required"]) == (
        5400,
        1,
        False,
    )

    passes = await _passes(factory, user.id)
    assert [(p.service_id, p.practitioner_id, p.sessions_total, p.source_service_id) for p in passes] == [
        (101, 456, 1, 999),
        (102, 456, 1, 999),
    ]

    # the package's Sound Bath pass covers a Sound Bath session (60 min) once
    start, end = future_slot()
    body = session_body(start, end, service_id=102)
    covered = await create_ok(client, user.headers, body)
    assert figures(covered) == (0, 0, 0, 0, 0) and covered["status"] == "completed"
    start, end = future_slot()
    again = (
        await client.post(
            f"{API}/checkout/calculate-price",
            json=session_body(start, end, service_id=102),
            headers=user.headers,
        )
    ).json()
    assert figures(again) == (6000, 0, 525, 0, 6525) and again["items"][0]["covered_by_pass"] is False


async def test_package_default_selection_is_required_children_only(client, new_user):
    user = await new_user()
    q = await client.post(f"{API}/checkout/calculate-price", json=package_body(), headers=user.headers)
    assert q.status_code == 200, q.text
    # only the required child 101 at 10 % off; tax 7200 × 0.0875 = 630
    assert figures(q.json()) == (7200, 0, 630, 0, 7830)
    q2 = await client.post(
        f"{API}/checkout/calculate-price",
        json=package_body(child_selections={"102": {"selected": True, "quantity": 3}}),
        headers=user.headers,
    )
    # 7200 + 3 × 5400 = 23400; tax 2047.5 → 2048
    assert figures(q2.json()) == (23400, 0, 2048, 0, 25448)
