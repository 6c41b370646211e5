"""Test clocks: renewals, failed-payment retries, cancellation at the period end, expiry of an unpaid
first invoice, trials, all on the clock's time."""

from __future__ import annotations

import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .billing import (
    DAY,
    HOUR,
    active_subscription,
    advance,
    clock_customer,
    confirm_first_invoice,
    day,
    event_types,
    events,
    invoices,
    period,
    plan,
    subscribe,
    ts,
)
from .conftest import WebhookReceiver

START = ts("2027-01-31T10:00:00")


def test_a_year_of_monthly_renewals(
    client: stripe.StripeClient,
    pk_client: stripe.StripeClient,
    emulator: EmulatorServer,
    receiver: WebhookReceiver,
) -> None:
    emulator.register_webhook(receiver.url, "whsec_clock", enabled_events=["invoice.paid"])
    price = plan(client)
    clock, cus = clock_customer(client, START)
    assert cus.test_clock == clock.id and cus.created == START
    sub = active_subscription(client, pk_client, cus.id, price.id)
    assert sub.test_clock == clock.id and sub.created == START and period(sub)[0] == START
    for _ in range(12):
        advance(client, clock.id, period(client.v1.subscriptions.retrieve(sub.id))[1])

    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active" and sub.billing_cycle_anchor == START
    assert [day(t) for t in period(sub)] == ["2028-01-31", "2028-02-29"]
    found = invoices(client, sub.id)
    assert [i.billing_reason for i in found] == ["subscription_create"] + ["subscription_cycle"] * 12
    assert all(i.status == "paid" and i.amount_paid == 30000 for i in found)
    starts = [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
        "2027-06-30",
        "2027-07-31",
        "2027-08-31",
        "2027-09-30",
        "2027-10-31",
        "2027-11-30",
        "2027-12-31",
        "2028-01-31",
    ]
    assert [day(i.lines.data[0].period.start) for i in found] == starts
    assert [day(i.lines.data[0].period.end) for i in found] == [*starts[1:], "2028-02-29"]
    for inv in found[1:]:
        renewal_at = inv.lines.data[0].period.start
        # made, finalized and paid at the period's start, on the clock's time, at 10:00 as the anchor
        assert inv.created == inv.status_transitions.paid_at == renewal_at and renewal_at % DAY == 10 * HOUR
        # the invoice's own period is the one that ended (Stripe's period_start/period_end)
        assert inv.period_end == renewal_at
    assert [i.number for i in found] == [f"{found[0].number[:-5]}-{n:04d}" for n in range(1, 14)]
    paid_events = events(client, "invoice.paid")
    assert [e.created for e in paid_events] == [START] + [i.created for i in found[1:]]
    assert len(receiver.wait_for("invoice.paid", count=13)) == 13
    assert event_types(client, "customer.subscription.updated").count("customer.subscription.updated") == 13


def test_an_advance_is_limited_to_two_intervals(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    active_subscription(client, pk_client, cus.id, price.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.advance(
            clock.id, params={"frozen_time": ts("2027-04-01T00:00:00")}
        )
    assert exc.value.param == "frozen_time" and "two intervals" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": START})
    assert exc.value.param == "frozen_time"
    advance(client, clock.id, ts("2027-03-31T10:00:00"))  # exactly two months: both renewals
    assert len(client.v1.invoices.list(params={"customer": cus.id}).data) == 3


def test_a_failed_renewal_recovers_on_a_retry_after_switching_the_card(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    sub = active_subscription(client, pk_client, cus.id, price.id)
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": cus.id})
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": bad.id})
    renewal_at = period(sub)[1]
    advance(client, clock.id, renewal_at + HOUR)

    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    assert sub.status == "past_due" and inv.status == "open" and inv.billing_reason == "subscription_cycle"
    assert inv.attempt_count == 1 and inv.next_payment_attempt == renewal_at + DAY
    failed = events(client, "invoice.payment_failed")
    assert len(failed) == 1 and failed[0].created == renewal_at
    past_due = events(client, "customer.subscription.updated")[-1]
    assert past_due.data.object.status == "past_due" and past_due.created == renewal_at
    assert past_due.data.previous_attributes.to_dict() == {"status": "active"}

    good = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": good.id})
    advance(client, clock.id, renewal_at + DAY + HOUR)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    assert sub.status == "active" and inv.status == "paid" and inv.attempt_count == 2
    assert inv.status_transitions.paid_at == renewal_at + DAY and inv.next_payment_attempt is None
    recovered = events(client, "customer.subscription.updated")[-1]
    assert recovered.data.previous_attributes.to_dict() == {"status": "past_due"}
    assert recovered.created == renewal_at + DAY


def test_three_failed_retries_over_seven_days_cancel_the_subscription(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    sub = active_subscription(client, pk_client, cus.id, price.id)
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": cus.id})
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": bad.id})
    renewal_at = period(sub)[1]
    advance(client, clock.id, renewal_at + 8 * DAY)  # one advance runs every step in time order

    failed = events(client, "invoice.payment_failed")
    assert [e.created - renewal_at for e in failed] == [0, DAY, 3 * DAY, 7 * DAY]
    assert [e.data.object.attempt_count for e in failed] == [1, 2, 3, 4]
    assert [e.data.object.next_payment_attempt for e in failed] == [
        renewal_at + DAY,
        renewal_at + 3 * DAY,
        renewal_at + 7 * DAY,
        None,
    ]
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == renewal_at + 7 * DAY
    assert sub.cancellation_details.reason == "payment_failed"
    deleted = events(client, "customer.subscription.deleted")
    assert len(deleted) == 1 and deleted[0].created == renewal_at + 7 * DAY
    assert [e.data.object.status for e in events(client, "customer.subscription.updated")][-1] == "past_due"
    inv = invoices(client, sub.id)[-1]
    assert inv.status == "open" and inv.next_payment_attempt is None and inv.auto_advance is False
    # nothing more happens on that subscription
    advance(client, clock.id, renewal_at + 40 * DAY)
    assert len(invoices(client, sub.id)) == 2


def test_cancel_at_period_end_ends_at_the_period_end(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    sub = active_subscription(client, pk_client, cus.id, price.id)
    end = period(sub)[1]
    advance(client, clock.id, START + 10 * DAY)
    asked = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert asked.cancel_at == end and asked.canceled_at == START + 10 * DAY and asked.status == "active"
    advance(client, clock.id, end - HOUR)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    advance(client, clock.id, end + DAY)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == end and sub.canceled_at == START + 10 * DAY
    assert len(invoices(client, sub.id)) == 1  # no renewal invoice
    deleted = events(client, "customer.subscription.deleted")
    assert len(deleted) == 1 and deleted[0].created == end


def test_an_unpaid_first_invoice_expires_after_23_hours(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    sub = subscribe(client, cus.id, price.id)
    advance(client, clock.id, START + 22 * HOUR)
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    advance(client, clock.id, START + 2 * DAY)
    expired = client.v1.subscriptions.retrieve(sub.id)
    assert expired.status == "incomplete_expired" and expired.ended_at == START + 23 * HOUR
    inv = client.v1.invoices.retrieve(sub.latest_invoice.id)
    assert inv.status == "void" and inv.status_transitions.voided_at == START + 23 * HOUR
    change = events(client, "customer.subscription.updated")
    assert [e.data.previous_attributes.to_dict()["status"] for e in change] == ["incomplete"]
    assert change[0].data.object.status == "incomplete_expired" and change[0].created == START + 23 * HOUR
    assert event_types(client, "customer.subscription.deleted") == []  # Stripe sends .updated here
    assert event_types(client, "invoice.voided", "payment_intent.canceled") == [
        "payment_intent.canceled",
        "invoice.voided",
    ]
    with pytest.raises(stripe.InvalidRequestError):
        confirm_first_invoice(pk_client, sub)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.cancel(sub.id)
    assert exc.value.http_status == 404


def test_a_trial_ends_with_the_first_charge(client: stripe.StripeClient) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    sub = subscribe(client, cus.id, price.id, trial_period_days=7, default_payment_method=card.id)
    trial_end = START + 7 * DAY
    assert sub.status == "trialing" and sub.trial_end == trial_end and period(sub) == (START, trial_end)
    advance(client, clock.id, trial_end + HOUR)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.amount_paid == 30000
    assert sub.latest_invoice.status_transitions.paid_at == trial_end
    assert [day(t) for t in period(sub)] == ["2027-02-07", "2027-03-07"]
    warned = events(client, "customer.subscription.trial_will_end")
    assert len(warned) == 1 and warned[0].created == trial_end - 3 * DAY


def test_test_clock_routes(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": START, "name": "one"})
    assert clock.id.startswith("clock_") and clock.frozen_time == START and clock.name == "one"
    assert clock.status == "ready" and clock.deletes_after > clock.created
    other = client.v1.test_helpers.test_clocks.create(params={"frozen_time": START})
    assert [c.id for c in client.v1.test_helpers.test_clocks.list().data] == [other.id, clock.id]
    advanced = advance(client, clock.id, START + 5 * DAY)  # no subscriptions: up to two years
    assert advanced.id == clock.id
    assert event_types(client) == [
        "test_helpers.test_clock.created",
        "test_helpers.test_clock.created",
        "test_helpers.test_clock.advancing",
        "test_helpers.test_clock.ready",
    ]
    ready = events(client, "test_helpers.test_clock.ready")[0]
    assert ready.created == START + 5 * DAY and ready.data.object.status == "ready"
    advancing = events(client, "test_helpers.test_clock.advancing")[0].data.object
    assert advancing.status == "advancing"
    assert advancing.status_details.advancing.target_frozen_time == START + 5 * DAY
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": START + 3 * 366 * DAY})
    assert exc.value.param == "frozen_time"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.create(params={"name": "x"})
    assert exc.value.code == "parameter_missing" and exc.value.param == "frozen_time"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.retrieve("clock_nope")
    assert (
        exc.value.http_status == 404 and str(exc.value.user_message) == "No such billingclock: 'clock_nope'"
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create(params={"test_clock": "clock_nope"})
    assert exc.value.http_status == 400 and exc.value.param == "test_clock"


def test_deleting_a_clock_deletes_its_customers_and_subscriptions(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    clock, cus = clock_customer(client, START)
    sub = active_subscription(client, pk_client, cus.id, price.id)
    deleted = client.v1.test_helpers.test_clocks.delete(clock.id)
    assert deleted.deleted is True and deleted.id == clock.id
    assert client.v1.customers.retrieve(cus.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.retrieve(sub.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert client.v1.test_helpers.test_clocks.list().data == []


async def test_the_service_calls_async(client: stripe.StripeClient, pk_client: stripe.StripeClient) -> None:
    """The membership flow with the SDK's async methods, as the service makes it: the plan, a
    customer on a clock, the subscription (sent three times at once with one Idempotency-Key), the
    client's payment, a renewal."""
    import asyncio

    v1 = client.v1
    product = await v1.products.create_async(params={"name": "Monthly Flow", "metadata": {"plan_id": "p-1"}})
    price = await v1.prices.create_async(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 30000,
            "recurring": {"interval": "month"},
            "metadata": {"plan_id": "p-1"},
        }
    )
    await v1.products.update_async(product.id, params={"name": "Monthly Flow (2027)"})
    assert [
        p.id for p in (await v1.prices.list_async(params={"product": product.id, "active": True})).data
    ] == [price.id]
    clock = await v1.test_helpers.test_clocks.create_async(params={"frozen_time": START, "name": "demo"})
    cus = await v1.customers.create_async(params={"test_clock": clock.id, "email": "ada@example.com"})
    params = {
        "customer": cus.id,
        "items": [{"price": price.id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"membership_id": "m-1"},
        "expand": ["latest_invoice.confirmation_secret"],
    }
    created = await asyncio.gather(
        *[
            v1.subscriptions.create_async(params=params, options={"idempotency_key": "membership-m-1"})
            for _ in range(3)
        ]
    )
    assert len({s.id for s in created}) == 1
    sub = created[0]
    secret = sub.latest_invoice.confirmation_secret.client_secret
    await pk_client.v1.payment_intents.confirm_async(
        secret.split("_secret_")[0], params={"client_secret": secret, "payment_method": "pm_card_visa"}
    )
    sub = await v1.subscriptions.retrieve_async(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.status == "paid"
    end = sub["items"].data[0].current_period_end
    await v1.test_helpers.test_clocks.advance_async(clock.id, params={"frozen_time": end + HOUR})
    paid = (await v1.invoices.list_async(params={"subscription": sub.id, "status": "paid"})).data
    assert [i.billing_reason for i in paid] == ["subscription_cycle", "subscription_create"]
    listed = await v1.subscriptions.list_async(params={"customer": cus.id, "status": "active"})
    assert [s.id for s in listed.data] == [sub.id]
    assert (await v1.test_helpers.test_clocks.retrieve_async(clock.id)).frozen_time == end + HOUR
