"""Stripe's subscription and invoice events in any order, twice, late or at once: each paid
invoice grants once, a membership never moves back, and credits roll over, freeze and expire as
SPEC 15 says. Renewals and failed payments run on a Stripe test clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta

from tests.checkout.helpers import API, future_slot
from tests.memberships.helpers import (
    advance,
    bearer,
    customer_of,
    deliver,
    deliver_all,
    events_for,
    membership_row,
    new_clock,
    new_member,
    passes_of,
    pay_first_invoice,
    plan_with_services,
    sk,
    switch_card,
)

MEMBERSHIPS = f"{API}/memberships"


async def _subscribed(
    client, session, make_token, stripe_api_base, plan_id, *, clock=None, deliver_events=True
):
    user = await new_member(session, stripe_api_base, clock=clock)
    headers = bearer(make_token, user)
    body = (await client.post(MEMBERSHIPS, json={"plan_id": plan_id}, headers=headers)).json()
    await pay_first_invoice(stripe_api_base, body["client_secret"])
    m = await membership_row(session, body["membership_id"])
    if deliver_events:
        await deliver_all(client, stripe_api_base, m.stripe_subscription_id or "")
    return user, headers, m.id, m.stripe_subscription_id


async def _book(client, headers, pid, service_id):
    """A single session asking to be paid with a pass: the created order."""
    start, end = future_slot()
    item = {
        "service_id": service_id,
        "practitioner_id": pid,
        "start_time": start,
        "end_time": end,
        "use_pass": True,
    }
    resp = await client.post(
        f"{API}/checkout/create", json={"checkout_type": "single_session", "items": [item]}, headers=headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _renewal_on_a_failing_card(client, session, make_token, stripe_api_base, plan_id, after):
    """A paid membership on a test clock whose card then fails; the clock moves to `after` past
    the period end and every event so far is delivered. (customer, headers, membership id,
    subscription id, clock, the paid period's end)"""
    clock, _ = await new_clock(stripe_api_base)
    user, headers, mid, sub_id = await _subscribed(
        client, session, make_token, stripe_api_base, plan_id, clock=clock
    )
    customer = await customer_of(session, user)
    await switch_card(stripe_api_base, customer, sub_id, "pm_card_chargeCustomerFail")
    end = (await membership_row(session, mid)).current_period_end
    await advance(stripe_api_base, clock, end + after)
    await deliver_all(client, stripe_api_base, sub_id)
    return customer, headers, mid, sub_id, clock, end


async def _view(client, headers, mid):
    resp = await client.get(f"{MEMBERSHIPS}/{mid}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_any_order_of_a_lifecycle_s_events_ends_in_the_same_state(
    client, session, auth, make_token, stripe_api_base
):
    """Subscribe, pay, cancel; then the events arrive in six different orders, some twice."""
    _, _, plan = await plan_with_services(client, session, auth)
    rng = random.Random(15)
    for round_ in range(6):
        _, _, mid, sub_id = await _subscribed(
            client, session, make_token, stripe_api_base, plan["id"], deliver_events=False
        )
        await sk(stripe_api_base).v1.subscriptions.cancel_async(sub_id)
        events = await events_for(stripe_api_base, sub_id)
        types = [e["type"] for e in events]
        assert "invoice.paid" in types and "customer.subscription.deleted" in types, types
        order = list(events)
        if round_ == 0:
            order.reverse()  # .deleted first, the stale .updated (active) last
        else:
            rng.shuffle(order)
        order += rng.sample(events, k=2)  # duplicates
        for e in order:
            await deliver(client, e)
        m = await membership_row(session, mid)
        assert m.status == "canceled", (round_, [e["type"] for e in order])
        [p] = await passes_of(session, mid)
        assert p.sessions_total == 4 and p.status == "active"


async def test_an_updated_event_after_deleted_never_brings_a_membership_back(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    _, headers, mid, sub_id = await _subscribed(client, session, make_token, stripe_api_base, plan["id"])
    before = await events_for(stripe_api_base, sub_id)
    stale = [e for e in before if e["type"] == "customer.subscription.updated"]
    assert stale and stale[-1]["data"]["object"]["status"] == "active"
    await sk(stripe_api_base).v1.subscriptions.cancel_async(sub_id)
    deleted = [
        e for e in await events_for(stripe_api_base, sub_id) if e["type"] == "customer.subscription.deleted"
    ]
    await deliver(client, deleted[0])
    assert (await _view(client, headers, mid))["status"] == "canceled"
    # a copy of the stale event under a new id (a replay, or a forged-looking payload) changes nothing
    replay = dict(stale[-1], id=stale[-1]["id"] + "x")
    await deliver(client, replay)
    assert (await _view(client, headers, mid))["status"] == "canceled"


async def test_concurrent_events_for_one_paid_invoice_grant_once(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    _, headers, mid, sub_id = await _subscribed(
        client, session, make_token, stripe_api_base, plan["id"], deliver_events=False
    )
    events = await events_for(stripe_api_base, sub_id)
    copies = [dict(e, id=f"{e['id']}_{i}") for i in range(3) for e in events]  # distinct ids: all processed
    answers = await asyncio.gather(*(deliver(client, e) for e in copies))
    assert all(a.json()["status"] in ("processed", "ignored") for a in answers)
    [p] = await passes_of(session, mid)
    assert p.sessions_total == 4
    assert (await _view(client, headers, mid))["credits"]["available"] == 4


async def test_a_year_of_renewals_rolls_over_up_to_the_cap(
    client, session, auth, make_token, stripe_api_base
):
    pid, services, plan = await plan_with_services(client, session, auth)
    clock, t0 = await new_clock(stripe_api_base)
    _, headers, mid, sub_id = await _subscribed(
        client, session, make_token, stripe_api_base, plan["id"], clock=clock
    )
    # use one credit of the first period: three left, two of them (the cap) carry over
    start, end = future_slot()
    used = await client.post(
        f"{API}/checkout/create",
        json={
            "checkout_type": "single_session",
            "items": [
                {
                    "service_id": services[0],
                    "practitioner_id": pid,
                    "start_time": start,
                    "end_time": end,
                    "use_pass": True,
                }
            ],
        },
        headers=headers,
    )
    assert used.status_code == 201 and used.json()["total_cents"] == 0, used.text
    for month in range(1, 12):
        m = await membership_row(session, mid)
        await advance(stripe_api_base, clock, (m.current_period_end or t0) + timedelta(hours=1))
        await deliver_all(client, stripe_api_base, sub_id)
        view = await _view(client, headers, mid)
        assert view["status"] == "active", (month, view)
    passes = await passes_of(session, mid)
    assert len(passes) == 12
    assert [p.carried_in for p in passes] == [0] + [2] * 11
    assert [p.sessions_total for p in passes] == [4] + [6] * 11
    assert all(p.status == "expired" for p in passes[:-1]) and passes[-1].status == "active"
    # each period's credits end when the period does, and periods follow each other
    for a, b in itertools.pairwise(passes):
        assert a.expires_at == b.period_start_at


async def test_a_failed_renewal_freezes_credits_and_a_retry_that_pays_unfreezes_them(
    client, session, auth, make_token, stripe_api_base
):
    pid, services, plan = await plan_with_services(client, session, auth)
    r = await _renewal_on_a_failing_card(
        client, session, make_token, stripe_api_base, plan["id"], timedelta(hours=1)
    )
    customer, headers, mid, sub_id, clock, end = r
    view = await _view(client, headers, mid)
    assert view["status"] == "past_due"
    assert view["credits"]["available"] == 0 and view["credits"]["frozen"] == 4
    assert len(await passes_of(session, mid)) == 1  # nothing granted for the unpaid period
    # frozen credits pay for nothing: the session is charged in full
    assert (await _book(client, headers, pid, services[0]))["total_cents"] > 0
    await switch_card(stripe_api_base, customer, sub_id, "pm_card_visa")
    await advance(stripe_api_base, clock, end + timedelta(days=3, hours=2))  # the retries' schedule
    await deliver_all(client, stripe_api_base, sub_id)
    view = await _view(client, headers, mid)
    assert view["status"] == "active"
    first, second = await passes_of(session, mid)
    assert (first.status, second.status, second.carried_in, second.sessions_total) == (
        "expired",
        "active",
        2,
        6,
    )
    assert view["credits"]["available"] == 6
    assert (await _book(client, headers, pid, services[0]))["total_cents"] == 0


async def test_a_failed_renewal_that_never_pays_ends_the_membership(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    _, headers, mid, _, _, end = await _renewal_on_a_failing_card(
        client, session, make_token, stripe_api_base, plan["id"], timedelta(days=8)
    )
    view = await _view(client, headers, mid)
    assert view["status"] == "canceled"
    [p] = await passes_of(session, mid)
    # only the paid period's credits, to that period's end (SPEC: after a cancel they last to it)
    assert (p.sessions_total, p.expires_at) == (4, end)


async def test_cancel_at_period_end_runs_out_the_period_and_grants_nothing_more(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    clock, _ = await new_clock(stripe_api_base)
    _, headers, mid, sub_id = await _subscribed(
        client, session, make_token, stripe_api_base, plan["id"], clock=clock
    )
    assert (
        await client.post(f"{MEMBERSHIPS}/{mid}/cancel", json={"at_period_end": True}, headers=headers)
    ).status_code == 200
    view = await _view(client, headers, mid)
    assert view["status"] == "active" and view["credits"]["available"] == 4
    end = (await membership_row(session, mid)).current_period_end
    await advance(stripe_api_base, clock, end + timedelta(hours=1))
    await deliver_all(client, stripe_api_base, sub_id)
    view = await _view(client, headers, mid)
    assert view["status"] == "canceled"
    [p] = await passes_of(session, mid)
    assert p.expires_at == end


async def test_invoices_paid_in_either_order_roll_over_the_same(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    totals = []
    for reverse in (False, True):
        clock, _ = await new_clock(stripe_api_base)
        _, _, mid, sub_id = await _subscribed(
            client, session, make_token, stripe_api_base, plan["id"], clock=clock, deliver_events=False
        )
        sub = await sk(stripe_api_base).v1.subscriptions.retrieve_async(sub_id)
        end = sub["items"]["data"][0]["current_period_end"]
        await advance(stripe_api_base, clock, datetime.fromtimestamp(end, UTC) + timedelta(hours=1))
        events = [e for e in await events_for(stripe_api_base, sub_id) if e["type"] == "invoice.paid"]
        assert len(events) == 2
        for e in reversed(events) if reverse else events:
            await deliver(client, e)
        totals.append([(p.sessions_total, p.carried_in, p.status) for p in await passes_of(session, mid)])
    assert totals[0] == totals[1] == [(4, 0, "expired"), (6, 2, "active")]


async def test_a_trial_grants_its_credits_and_the_saved_card_pays_when_it_ends(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth, trial_days=7)
    clock, t0 = await new_clock(stripe_api_base)
    user = await new_member(session, stripe_api_base, clock=clock)
    headers = bearer(make_token, user)
    # a trial charges nothing now, so it needs a saved card for the renewal at its end
    no_card = await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers)
    assert no_card.status_code == 422 and no_card.json()["code"] == "PAYMENT_METHOD_REQUIRED"
    card = await sk(stripe_api_base).v1.payment_methods.attach_async(
        "pm_card_visa", params={"customer": await customer_of(session, user)}
    )
    created = await client.post(
        MEMBERSHIPS, json={"plan_id": plan["id"], "payment_method_id": card.id}, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "trialing" and body["client_secret"] is None
    mid = body["membership_id"]
    view = await _view(client, headers, mid)
    assert view["credits"]["available"] == 4
    assert abs((datetime.fromisoformat(view["current_period_end"]) - t0) - timedelta(days=7)) < timedelta(
        minutes=1
    )
    m = await membership_row(session, mid)
    await advance(stripe_api_base, clock, (m.current_period_end or t0) + timedelta(hours=1))
    await deliver_all(client, stripe_api_base, m.stripe_subscription_id or "")
    view = await _view(client, headers, mid)
    assert view["status"] == "active"
    trial, first = await passes_of(session, mid)
    assert (trial.sessions_total, first.sessions_total, first.carried_in) == (4, 6, 2)


async def test_the_workflow_s_refresh_catches_up_with_a_lost_webhook(
    client, session, auth, make_token, stripe_api_base, app_state
):
    """No event reaches us; the workflow's `refresh_membership` activity (the real one, against
    the emulator) re-reads the subscription, applies it and grants the paid period once."""
    from temporalio.testing import ActivityEnvironment

    from estuary_checkout.workflows.membership_activities import MembershipActivities

    _, _, plan = await plan_with_services(client, session, auth)
    _, headers, mid, _ = await _subscribed(
        client, session, make_token, stripe_api_base, plan["id"], deliver_events=False
    )
    assert (await _view(client, headers, mid))["status"] == "incomplete"
    activities = MembershipActivities(app_state.session_factory, app_state.gateway)
    env = ActivityEnvironment()
    for _ in range(2):  # a retried activity changes nothing more
        snapshot = await env.run(activities.refresh_membership, mid)
        assert snapshot.status == "active" and snapshot.latest_invoice_status == "paid"
    view = await _view(client, headers, mid)
    assert view["status"] == "active" and view["credits"]["available"] == 4
    assert len(await passes_of(session, mid)) == 1


async def test_an_unpaid_first_invoice_expires_the_membership_and_frees_the_plan(
    client, session, auth, make_token, stripe_api_base
):
    _, _, plan = await plan_with_services(client, session, auth)
    clock, t0 = await new_clock(stripe_api_base)
    user = await new_member(session, stripe_api_base, clock=clock)
    headers = bearer(make_token, user)
    body = (await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers)).json()
    mid = body["membership_id"]
    again = await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers)
    assert again.status_code == 409 and again.json()["details"]["status"] == "incomplete"
    await advance(stripe_api_base, clock, t0 + timedelta(hours=24))  # Stripe gives it 23 hours
    await deliver_all(
        client, stripe_api_base, (await membership_row(session, mid)).stripe_subscription_id or ""
    )
    view = await _view(client, headers, mid)
    assert view["status"] == "incomplete_expired" and view["credits"]["available"] == 0
    assert await passes_of(session, mid) == []
    assert (await client.post(MEMBERSHIPS, json={"plan_id": plan["id"]}, headers=headers)).status_code == 201
