"""Subscribing, paying, listing, canceling and resuming — and every refusal (SPEC 15)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.checkout.helpers import API, assert_error, future_slot, session_body
from tests.memberships.helpers import (
    bearer,
    customer_of,
    deliver_all,
    make_plan,
    membership_row,
    new_member,
    passes_of,
    pay_first_invoice,
    plan_with_services,
    scalar,
    sk,
)

from estuary_checkout.events.models import OutboundEvent
from estuary_checkout.memberships.models import Membership
from estuary_checkout.workflows.models import OutboxMessage

MEMBERSHIPS = f"{API}/memberships"


async def _active(client, session, make_token, stripe_api_base, plan_id):
    """A new user with a paid membership on the plan: (user, headers, membership id, subscription id)."""
    user = await new_member(session, stripe_api_base)
    headers = bearer(make_token, user)
    created = await client.post(MEMBERSHIPS, json={"plan_id": plan_id}, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    await pay_first_invoice(stripe_api_base, body["client_secret"])
    m = await membership_row(session, body["membership_id"])
    await deliver_all(client, stripe_api_base, m.stripe_subscription_id or "")
    return user, headers, body["membership_id"], m.stripe_subscription_id


async def test_subscribe_pay_with_the_confirmation_secret_and_get_the_credits(
    client, session, auth, make_token, stripe_api_base
):
    pid, services, plan = await plan_with_services(client, session, auth)
    user = await new_member(session, stripe_api_base)
    headers = bearer(make_token, user)
    created = await client.post(
        MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers | {"Idempotency-Key": "sub-1"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "incomplete" and body["client_secret"]
    m = await membership_row(session, body["membership_id"])
    sub = await sk(stripe_api_base).v1.subscriptions.retrieve_async(
        m.stripe_subscription_id, params={"expand": ["latest_invoice.confirmation_secret"]}
    )
    assert sub.status == "incomplete" and sub.metadata["membership_id"] == str(m.id)
    assert sub.latest_invoice.confirmation_secret.client_secret == body["client_secret"]
    # the same key answers the same (no second subscription)
    again = await client.post(
        MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers | {"Idempotency-Key": "sub-1"}
    )
    assert again.status_code == 201 and again.json() == body
    # the workflow start went into the outbox with the membership
    starts = await scalar(
        session,
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.workflow_id == f"membership-{m.id}", OutboxMessage.kind == "start_workflow"),
    )
    assert starts == 1

    await pay_first_invoice(stripe_api_base, body["client_secret"])
    types = await deliver_all(client, stripe_api_base, m.stripe_subscription_id or "")
    assert "invoice.paid" in types
    listed = (await client.get(MEMBERSHIPS, headers=headers)).json()["data"]
    [view] = listed
    assert (
        view["membership_id"] == m.id and view["status"] == "active" and view["plan_name"] == "Monthly Flow"
    )
    assert view["credits"]["available"] == 4 and view["current_period_end"] is not None
    [p] = await passes_of(session, m.id)
    assert p.sessions_total == 4 and p.grant_key == f"membership:{m.id}:invoice:{m.latest_invoice_id}"
    # the host hears of it: membership.updated per applied change, pass.granted for the credits
    async with AsyncSession(session.bind) as s:
        sent = (
            await s.execute(
                select(OutboundEvent.type, OutboundEvent.data)
                .where(OutboundEvent.user_id == user.id)
                .order_by(OutboundEvent.created_at, OutboundEvent.id)
            )
        ).all()
    updates = [d for t, d in sent if t == "membership.updated"]
    assert [d["version"] for d in updates] == list(range(1, len(updates) + 1))
    assert (updates[0]["status"], updates[-1]["status"]) == ("incomplete", "active")
    assert updates[-1]["customer"]["sub"] == user.external_id
    [granted] = [d for t, d in sent if t == "pass.granted"]
    assert (granted["membership_id"], granted["sessions_total"], granted["eligible_service_ids"]) == (
        m.id,
        4,
        sorted(services),
    )
    passes = (await client.get(f"{API}/passes", headers=headers)).json()["data"]
    assert passes[0]["membership_id"] == m.id and passes[0]["eligible_service_ids"] == sorted(services)

    # a credit pays for an eligible single session, through the ordinary pass path
    start, end = future_slot()
    order = await client.post(
        f"{API}/checkout/create",
        json=session_body(start, end, service_id=services[1], practitioner_id=pid)
        | {
            "items": [
                {
                    "service_id": services[1],
                    "practitioner_id": pid,
                    "start_time": start,
                    "end_time": end,
                    "use_pass": True,
                }
            ]
        },
        headers=headers,
    )
    assert order.status_code == 201, order.text
    assert order.json()["total_cents"] == 0
    view = (await client.get(f"{MEMBERSHIPS}/{m.id}", headers=headers)).json()
    assert view["credits"]["available"] == 3


async def test_a_saved_card_pays_at_once_and_a_declined_one_leaves_nothing(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    user = await new_member(session, stripe_api_base)
    headers = bearer(make_token, user)
    # a first membership makes the Stripe customer; the saved card is attached to it
    first = (await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers)).json()
    await client.post(
        f"{MEMBERSHIPS}/{first['membership_id']}/cancel", json={"at_period_end": False}, headers=headers
    )
    customer = await customer_of(session, user)
    stripe = sk(stripe_api_base)
    good = await stripe.v1.payment_methods.attach_async("pm_card_visa", params={"customer": customer})
    declined = await stripe.v1.payment_methods.attach_async(
        "pm_card_chargeCustomerFail", params={"customer": customer}
    )
    refused = await client.post(
        MEMBERSHIPS, json={"plan_id": plan["id"], "payment_method_id": declined.id}, headers=headers
    )
    assert_error(refused, 402, "PAYMENT_FAILED")
    live = await scalar(
        session,
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == user.id, Membership.status != "canceled"),
    )
    assert live == 0
    paid = await client.post(
        MEMBERSHIPS, json={"plan_id": plan["id"], "payment_method_id": good.id}, headers=headers
    )
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert body["status"] == "active" and body["client_secret"] is None and body["current_period_end"]
    [p] = await passes_of(session, body["membership_id"])
    assert p.sessions_total == 4
    # someone else's card is not found
    other = await new_member(session, stripe_api_base)
    assert_error(
        await client.post(
            MEMBERSHIPS,
            json={"plan_id": plan["id"], "payment_method_id": good.id},
            headers=bearer(make_token, other),
        ),
        404,
        "PAYMENT_METHOD_NOT_FOUND",
    )


async def test_refusals(client, session, auth, make_token, stripe_api_base):
    _, services, plan = await plan_with_services(client, session, auth)
    _user, headers, mid, _ = await _active(client, session, make_token, stripe_api_base, plan["id"])
    # subscribing twice to one plan while one is live: 409, naming the one there is
    err = assert_error(
        await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers),
        409,
        "MEMBERSHIP_EXISTS",
    )
    assert err["details"]["membership_id"] == mid
    admin = auth(roles=["admin"])
    off = await make_plan(client, admin, services, is_active=False)
    assert_error(
        await client.post(MEMBERSHIPS, json={"plan_id": off["id"]}, headers=headers), 422, "PLAN_INACTIVE"
    )
    err = assert_error(
        await client.post(
            MEMBERSHIPS,
            json={"plan_id": plan["id"] + 0, "currency": "jpy"},
            headers=bearer(make_token, await new_member(session, stripe_api_base)),
        ),
        422,
        "CURRENCY_NOT_OFFERED",
    )
    assert err["details"]["offered"] == ["usd"]
    assert_error(
        await client.post(MEMBERSHIPS, json={"plan_id": 2_000_000_000}, headers=headers),
        404,
        "PLAN_NOT_FOUND",
    )
    assert_error(
        await client.post(MEMBERSHIPS, json={"plan_id": plan["id"], "extra": 1}, headers=headers),
        422,
        "VALIDATION_ERROR",
    )
    # another user's membership does not exist for them
    stranger = bearer(make_token, await new_member(session, stripe_api_base))
    for path in (f"{MEMBERSHIPS}/{mid}", f"{MEMBERSHIPS}/{mid}/cancel", f"{MEMBERSHIPS}/{mid}/resume"):
        method = client.get if path.endswith(str(mid)) else client.post
        assert_error(await method(path, headers=stranger), 404, "MEMBERSHIP_NOT_FOUND")
    assert (await membership_row(session, mid)).status == "active"
    assert (await client.get(MEMBERSHIPS, headers=stranger)).json()["data"] == []


async def test_cancel_at_period_end_resume_cancel_now_and_cancel_again(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    _, headers, mid, sub_id = await _active(client, session, make_token, stripe_api_base, plan["id"])
    stripe = sk(stripe_api_base)
    later = await client.post(f"{MEMBERSHIPS}/{mid}/cancel", json={"at_period_end": True}, headers=headers)
    assert later.status_code == 200, later.text
    assert later.json()["cancel_at_period_end"] is True and later.json()["status"] == "active"
    assert (await stripe.v1.subscriptions.retrieve_async(sub_id)).cancel_at_period_end is True
    resumed = await client.post(f"{MEMBERSHIPS}/{mid}/resume", headers=headers)
    assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False
    assert (await stripe.v1.subscriptions.retrieve_async(sub_id)).cancel_at_period_end is False
    now = await client.post(f"{MEMBERSHIPS}/{mid}/cancel", json={"at_period_end": False}, headers=headers)
    assert now.status_code == 200 and now.json()["status"] == "canceled" and now.json()["ended_at"]
    assert (await stripe.v1.subscriptions.retrieve_async(sub_id)).status == "canceled"
    # the credits of the paid period still last to its end
    assert now.json()["credits"]["available"] == 4
    again = await client.post(f"{MEMBERSHIPS}/{mid}/cancel", json={"at_period_end": False}, headers=headers)
    assert again.status_code == 200 and again.json() == now.json()
    assert (await client.post(f"{MEMBERSHIPS}/{mid}/cancel", headers=headers)).json() == now.json()
    assert_error(await client.post(f"{MEMBERSHIPS}/{mid}/resume", headers=headers), 409, "MEMBERSHIP_ENDED")
    # late events of the ended subscription change nothing
    await deliver_all(client, stripe_api_base, sub_id)
    assert (await membership_row(session, mid)).status == "canceled"
    # ended: the plan can be subscribed to again
    assert (await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers)).status_code == 201


async def test_concurrent_subscribes_to_one_plan_make_one_membership(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    user = await new_member(session, stripe_api_base)
    headers = bearer(make_token, user)
    answers = await asyncio.gather(
        *(client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers) for _ in range(6))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, [a.text for a in answers]
    count = await scalar(
        session, select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
    )
    assert count == 1
