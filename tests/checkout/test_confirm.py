"""payment/confirm: exactly one fulfilment however often it is called, 3-D Secure, declines, saved cards."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
import stripe
from sqlalchemy import func, select
from tests.checkout.helpers import (
    API,
    assert_error,
    bookings_of_order,
    create_ok,
    credit_state,
    db,
    figures,
    future_slot,
    make_practitioner,
    order_count,
    pay_and_confirm,
    pay_in_browser,
    session_body,
)

from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.payments.models import SavedPaymentMethod
from estuary_checkout.workflows.models import OutboxMessage


async def _status(client, user, order_id):  # type: ignore[no-untyped-def]
    resp = await client.post(f"{API}/checkout/status", json={"order_id": order_id}, headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _confirm(client, user, pi_id, **extra):  # type: ignore[no-untyped-def]
    return await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": pi_id, **extra}, headers=user.headers
    )


async def test_ten_concurrent_confirms_fulfil_once(client, replicas, factory, new_user, stripe_api_base):
    user = await new_user(credit=2000)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, _ = future_slot()
    s0 = datetime.fromisoformat(start)
    items = [
        {
            "service_id": sid,
            "practitioner_id": pid,
            "start_time": (s0 + timedelta(hours=h)).isoformat(),
            "end_time": (s0 + timedelta(hours=h + 1)).isoformat(),
        }
        for h in (0, 2)
    ]
    created = await create_ok(
        client, user.headers, {"checkout_type": "single_session", "items": items, "use_credits": True}
    )
    assert figures(created) == (20000, 0, 1750, 2000, 19750)
    pi = await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    assert pi.status == "succeeded"

    clients = [client, *replicas]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % 3].post(
            f"{API}/payment/confirm",
            json={"payment_intent_id": created["payment_intent_id"]},
            headers=user.headers,
        )

    tasks = [asyncio.create_task(one(i)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    print(f"confirm race: {dict(Counter(r.status_code for r in responses))}")
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    bodies = {r.content for r in responses}
    assert len(bodies) == 1, bodies  # identical responses
    body = responses[0].json()
    assert (
        body["status"] == "completed" and len(body["booking_ids"]) == 2 and body["requires_action"] is False
    )

    order_id = uuid.UUID(created["order_id"])
    bookings = await bookings_of_order(factory, created["order_id"])
    assert [b.status for b in bookings] == ["confirmed", "confirmed"]
    assert sorted(b.id for b in bookings) == body["booking_ids"]
    async with db(factory) as s:
        captures = (
            await s.execute(
                select(func.count()).where(
                    CreditLedgerEntry.order_id == order_id, CreditLedgerEntry.kind == "capture"
                )
            )
        ).scalar_one()
        starts = list(
            (
                await s.execute(
                    select(OutboxMessage.workflow_id)
                    .where(OutboxMessage.workflow_type == "BookingLifecycleWorkflow")
                    .where(OutboxMessage.workflow_id.in_([f"booking-lifecycle-{b.id}" for b in bookings]))
                )
            ).scalars()
        )
    assert captures == 1
    assert sorted(starts) == sorted(
        f"booking-lifecycle-{b.id}" for b in bookings
    )  # one outbox row per booking
    state = await credit_state(factory, user.id)
    assert (state["balance"], state["held"], state["sum_capture"]) == (0, 0, 2000)
    assert (state["ledger_balance"], state["ledger_held"]) == (0, 0)
    # and once more, later: still the same answer, still one fulfilment
    again = await _confirm(client, user, created["payment_intent_id"])
    assert again.content == responses[0].content


async def test_three_d_secure(client, new_user, stripe_api_base, stripe_emu):
    user = await new_user()
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end))
    pi = await pay_in_browser(
        stripe_api_base,
        created["payment_intent_id"],
        created["client_secret"],
        "pm_card_authenticationRequired",
    )
    assert pi.status == "requires_action"
    r = await _confirm(client, user, created["payment_intent_id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "pending_payment" and body["requires_action"] is True
    assert isinstance(body["next_action"], dict) and body["next_action"].get("type")
    assert len(body["booking_ids"]) == 1  # the slot stays held while the customer authenticates
    assert (await _status(client, user, created["order_id"]))["status"] == "pending_payment"

    stripe_emu.complete_3ds(created["payment_intent_id"], "complete")
    r = await _confirm(client, user, created["payment_intent_id"])
    body = r.json()
    assert body["status"] == "completed" and body["requires_action"] is False and body["next_action"] is None
    st = await _status(client, user, created["order_id"])
    assert st["status"] == "completed" and st["payment_status"] == "paid"


async def test_three_d_secure_failed_stays_payable(client, new_user, stripe_api_base, stripe_emu):
    user = await new_user()
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end))
    await pay_in_browser(
        stripe_api_base,
        created["payment_intent_id"],
        created["client_secret"],
        "pm_card_authenticationRequired",
    )
    stripe_emu.complete_3ds(created["payment_intent_id"], "fail")
    body = (await _confirm(client, user, created["payment_intent_id"])).json()
    assert body["status"] == "pending_payment" and body["requires_action"] is False
    body = await pay_and_confirm(client, user.headers, created, stripe_api_base)
    assert body["status"] == "completed"


@pytest.mark.parametrize("card", ["pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"])
async def test_declined_card_leaves_order_payable(client, factory, new_user, stripe_api_base, card):
    user = await new_user(credit=1000)
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end, use_credits=True))
    with pytest.raises(stripe.CardError) as info:
        await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"], card)
    assert info.value.code == "card_declined"
    r = await _confirm(client, user, created["payment_intent_id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "pending_payment" and body["requires_action"] is False
    st = await _status(client, user, created["order_id"])
    assert st["status"] == "pending_payment" and st["payment_status"] == "requires_payment_method"
    assert st["expires_at"] is not None and len(st["booking_ids"]) == 1
    bal = (await client.get(f"{API}/credits/balance", headers=user.headers)).json()
    assert (bal["balance_cents"], bal["held_cents"]) == (0, 1000)  # the hold stays with the order

    body = await pay_and_confirm(client, user.headers, created, stripe_api_base)  # pay again with visa
    assert body["status"] == "completed"
    bal = (await client.get(f"{API}/credits/balance", headers=user.headers)).json()
    assert (bal["balance_cents"], bal["held_cents"]) == (0, 0)
    assert [b.status for b in await bookings_of_order(factory, created["order_id"])] == ["confirmed"]


async def test_confirm_before_paying_changes_nothing(client, new_user):
    user = await new_user()
    created = await create_ok(client, user.headers, session_body(*future_slot()))
    body = (await _confirm(client, user, created["payment_intent_id"])).json()
    assert body["status"] == "pending_payment" and body["requires_action"] is False


async def test_saved_card_flow(client, factory, new_user, stripe_api_base):
    user = await new_user()
    assert (await client.get(f"{API}/payment-methods", headers=user.headers)).json() == {
        "payment_methods": []
    }
    created = await create_ok(client, user.headers, session_body(*future_slot(), save_payment_method=True))
    await pay_and_confirm(client, user.headers, created, stripe_api_base)

    resp = await client.get(f"{API}/payment-methods", headers=user.headers)
    assert resp.status_code == 200, resp.text
    (card,) = resp.json()["payment_methods"]
    assert set(card) == {"id", "brand", "last4", "exp_month", "exp_year", "is_default"}
    assert card["id"].startswith("pm_") and card["brand"] == "visa" and card["last4"] == "4242"
    assert card["is_default"] is True
    async with db(factory) as s:
        saved = list(
            (
                await s.execute(select(SavedPaymentMethod).where(SavedPaymentMethod.user_id == user.id))
            ).scalars()
        )
    assert [(c.stripe_payment_method_id, c.last4, c.is_default) for c in saved] == [
        (card["id"], "4242", True)
    ]

    # a second checkout with the saved card is charged at once
    start, end = future_slot()
    second = await create_ok(client, user.headers, session_body(start, end, payment_method_id=card["id"]))
    assert second["status"] == "completed" and figures(second) == (10000, 0, 875, 0, 10875)
    st = await _status(client, user, second["order_id"])
    assert st["status"] == "completed" and st["payment_status"] == "paid" and len(st["booking_ids"]) == 1

    # someone else's card: 404, nothing written, the slot still free
    other = await new_user()
    start, end = future_slot()
    body = session_body(start, end, payment_method_id=card["id"])
    r = await client.post(f"{API}/checkout/create", json=body, headers=other.headers)
    assert_error(r, 404, "PAYMENT_METHOD_NOT_FOUND")
    assert await order_count(factory, other.id) == 0
    # a card id that exists nowhere answers the same
    r2 = await client.post(
        f"{API}/checkout/create",
        json=dict(body, payment_method_id="pm_doesnotexist123"),
        headers=other.headers,
    )
    assert_error(r2, 404, "PAYMENT_METHOD_NOT_FOUND")
    r3 = await client.post(f"{API}/checkout/create", json=session_body(start, end), headers=other.headers)
    assert r3.status_code == 201, r3.text
    # and on confirm: paying another user's order with one's own card is impossible (404), and
    # paying one's own order with someone else's card too
    r4 = await _confirm(client, other, r3.json()["payment_intent_id"], payment_method_id=card["id"])
    assert_error(r4, 404, "PAYMENT_METHOD_NOT_FOUND")
    assert (await _status(client, other, r3.json()["order_id"]))["status"] == "pending_payment"


async def test_unattached_card_at_create_is_not_found(client, factory, new_user):
    """A card that is not attached to the caller's Stripe customer (here a test token) is refused
    before anything is charged or held."""
    user = await new_user()
    start, end = future_slot()
    r = await client.post(
        f"{API}/checkout/create",
        json=session_body(start, end, payment_method_id="pm_card_visa"),
        headers=user.headers,
    )
    assert_error(r, 404, "PAYMENT_METHOD_NOT_FOUND")
    assert await order_count(factory, user.id) == 0
