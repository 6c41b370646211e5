"""Subscriptions and their invoices without a test clock: create, pay the first invoice, pay with a
declining card, update, cancel, list, idempotency and Stripe's errors."""

from __future__ import annotations

import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .billing import confirm_first_invoice, event_types, events, invoices, period, plan, subscribe
from .conftest import WebhookReceiver, wait_until


def test_default_incomplete_then_paid_by_the_client(
    client: stripe.StripeClient,
    pk_client: stripe.StripeClient,
    emulator: EmulatorServer,
    receiver: WebhookReceiver,
) -> None:
    emulator.register_webhook(receiver.url, "whsec_billing")
    price = plan(client)
    cus = client.v1.customers.create(params={"email": "ada@example.com"})
    sub = subscribe(client, cus.id, price.id)
    assert sub.id.startswith("sub_") and sub.status == "incomplete" and sub.customer == cus.id
    assert sub.default_payment_method is None and sub.metadata.to_dict() == {"membership_id": "m-1"}
    assert sub.payment_settings.save_default_payment_method == "on_subscription"
    start, end = period(sub)
    assert start == sub.created == sub.start_date == sub.billing_cycle_anchor and end > start
    inv = sub.latest_invoice
    assert inv.status == "open" and inv.billing_reason == "subscription_create"
    assert inv.amount_due == 30000 and inv.amount_paid == 0 and inv.amount_remaining == 30000
    assert inv.lines.data[0].period.start == start and inv.lines.data[0].period.end == end
    assert inv.lines.data[0].pricing.price_details.price == price.id
    assert inv.parent.subscription_details.subscription == sub.id
    assert inv.number is not None and inv.status_transitions.finalized_at is not None
    assert inv.confirmation_secret.client_secret.startswith("pi_")

    pi = confirm_first_invoice(pk_client, sub)
    assert pi.status == "succeeded" and pi.amount == 30000

    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.default_payment_method == pi.payment_method
    paid = sub.latest_invoice
    assert paid.status == "paid" and paid.amount_paid == 30000 and paid.amount_remaining == 0
    assert paid.status_transitions.paid_at is not None and paid.attempt_count == 1
    # the card is saved on the customer for the renewals
    assert client.v1.payment_methods.retrieve(pi.payment_method).customer == cus.id
    expected = [
        "product.created",
        "price.created",
        "customer.created",
        "customer.subscription.created",
        "invoice.created",
        "payment_intent.created",
        "invoice.finalized",
        "charge.succeeded",
        "payment_method.attached",
        "payment_intent.succeeded",
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
    ]
    assert event_types(client) == expected
    updated = events(client, "customer.subscription.updated")[0]
    assert updated.data.object.status == "active"
    assert updated.data.previous_attributes.to_dict() == {
        "status": "incomplete",
        "default_payment_method": None,
    }
    # and every one of them reaches the webhook endpoint, signed
    for type_ in expected:
        receiver.wait_for(type_)
    body = next(r for r in receiver.requests if '"invoice.paid"' in r["body"])
    event = stripe.Webhook.construct_event(body["body"], body["headers"]["Stripe-Signature"], "whsec_billing")
    assert event.data.object.id == paid.id and event.data.object.status == "paid"


def test_invoice_pay_with_a_declining_card(client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id)
    inv_id = sub.latest_invoice.id
    with pytest.raises(stripe.CardError) as exc:
        client.v1.invoices.pay(inv_id, params={"payment_method": "pm_card_chargeDeclined"})
    assert exc.value.http_status == 402 and exc.value.code == "card_declined"
    assert exc.value.json_body["error"]["decline_code"] == "generic_decline"
    inv = client.v1.invoices.retrieve(inv_id)
    assert inv.status == "open" and inv.attempt_count == 1 and inv.attempted is True
    assert inv.next_payment_attempt is None  # a first invoice is not retried
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    failed = events(client, "invoice.payment_failed")
    assert [e.data.object.id for e in failed] == [inv_id]
    assert event_types(client, "payment_intent.payment_failed", "invoice.payment_failed") == [
        "payment_intent.payment_failed",
        "invoice.payment_failed",
    ]

    inv = client.v1.invoices.pay(inv_id, params={"payment_method": "pm_card_mastercard"})
    assert inv.status == "paid" and inv.attempt_count == 2 and inv.amount_paid == 30000
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["default_payment_method"]})
    assert sub.status == "active" and sub.default_payment_method.card.brand == "mastercard"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.invoices.pay(inv_id)
    assert exc2.value.http_status == 400 and str(exc2.value.user_message) == "Invoice is already paid"


def test_invoice_pay_with_the_default_payment_method(client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    sub = subscribe(client, cus.id, price.id, default_payment_method=card.id)
    assert sub.status == "incomplete" and sub.default_payment_method == card.id
    inv = client.v1.invoices.pay(sub.latest_invoice.id)
    assert inv.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    bare = client.v1.customers.create()
    sub2 = subscribe(client, bare.id, price.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.pay(sub2.latest_invoice.id)
    assert exc.value.param == "payment_method"


def test_allow_incomplete_charges_the_customer_default_at_once(client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice"]}
    )
    assert sub.status == "active" and sub.latest_invoice.status == "paid"
    assert sub.default_payment_method is None  # save_default_payment_method: off
    declining = client.v1.customers.create(
        params={
            "payment_method": "pm_card_chargeCustomerFail",
            "invoice_settings": {"default_payment_method": "pm_card_chargeCustomerFail"},
        }
    )
    sub = client.v1.subscriptions.create(
        params={"customer": declining.id, "items": [{"price": price.id}], "expand": ["latest_invoice"]}
    )
    assert sub.status == "incomplete" and sub.latest_invoice.status == "open"
    assert sub.latest_invoice.attempt_count == 1


def test_idempotent_create(client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    params = {
        "customer": cus.id,
        "items": [{"price": price.id}],
        "payment_behavior": "default_incomplete",
        "expand": ["latest_invoice.confirmation_secret"],
    }
    first = client.v1.subscriptions.create(params=params, options={"idempotency_key": "membership-m-1"})
    again = client.v1.subscriptions.create(params=params, options={"idempotency_key": "membership-m-1"})
    assert again.id == first.id
    assert (
        again.latest_invoice.confirmation_secret.client_secret
        == first.latest_invoice.confirmation_secret.client_secret
    )
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [s.id for s in client.v1.subscriptions.list().data] == [first.id]
    assert len(invoices(client, first.id)) == 1
    assert event_types(client, "customer.subscription.created") == ["customer.subscription.created"]
    with pytest.raises(stripe.IdempotencyError):
        client.v1.subscriptions.create(
            params={**params, "metadata": {"x": "y"}},
            options={"idempotency_key": "membership-m-1"},
        )


def test_cancel_then_cancel_again(client: stripe.StripeClient, pk_client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id)
    confirm_first_invoice(pk_client, sub)
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert canceled.ended_at == canceled.canceled_at
    assert canceled.cancellation_details.reason == "cancellation_requested"
    deleted = events(client, "customer.subscription.deleted")
    assert [e.data.object.status for e in deleted] == ["canceled"]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.cancel(sub.id)
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert str(exc.value.user_message) == f"No such subscription: '{sub.id}'"
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert "A canceled subscription can only update its cancellation_details and metadata." in str(
        exc.value.user_message
    )
    assert client.v1.subscriptions.update(sub.id, params={"metadata": {"k": "v"}}).metadata.to_dict() == {
        "membership_id": "m-1",
        "k": "v",
    }
    assert len(events(client, "customer.subscription.deleted")) == 1
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.cancel("sub_nope")
    assert exc.value.http_status == 404


def test_canceling_an_incomplete_subscription_voids_its_first_invoice(client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id)
    client.v1.subscriptions.cancel(sub.id)
    inv = client.v1.invoices.retrieve(sub.latest_invoice.id)
    assert inv.status == "void" and inv.status_transitions.voided_at is not None
    pi_id = sub.latest_invoice.confirmation_secret.client_secret.split("_secret_")[0]
    pi = client.v1.payment_intents.retrieve(pi_id)
    assert pi.status == "canceled" and pi.cancellation_reason == "void_invoice"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(inv.id, params={"payment_method": "pm_card_visa"})


def test_update_cancel_at_period_end_and_default_payment_method(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id)
    confirm_first_invoice(pk_client, sub)
    _, end = period(client.v1.subscriptions.retrieve(sub.id))
    updated = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert updated.cancel_at_period_end is True and updated.cancel_at == end
    assert updated.status == "active" and updated.canceled_at is not None
    assert updated.cancellation_details.reason == "cancellation_requested"
    change = events(client, "customer.subscription.updated")[-1]
    assert change.data.previous_attributes.to_dict()["cancel_at_period_end"] is False
    assert change.data.previous_attributes.to_dict()["cancel_at"] is None
    resumed = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert resumed.cancel_at_period_end is False and resumed.cancel_at is None and resumed.canceled_at is None

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.update(sub.id, params={"default_payment_method": "pm_card_mastercard"})
    assert exc.value.param == "default_payment_method"
    card = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": cus.id})
    switched = client.v1.subscriptions.update(sub.id, params={"default_payment_method": card.id})
    assert switched.default_payment_method == card.id
    count = len(events(client, "customer.subscription.updated"))
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": card.id})  # no change
    assert len(events(client, "customer.subscription.updated")) == count


def test_list_subscriptions_and_invoices(client: stripe.StripeClient, pk_client: stripe.StripeClient) -> None:
    price = plan(client)
    ada, bob = client.v1.customers.create(), client.v1.customers.create()
    paid = subscribe(client, ada.id, price.id)
    confirm_first_invoice(pk_client, paid)
    unpaid = subscribe(client, ada.id, price.id)
    other = subscribe(client, bob.id, price.id)
    client.v1.subscriptions.cancel(other.id)

    def ids(**params: object) -> list[str]:
        return [s.id for s in client.v1.subscriptions.list(params=params).data]

    assert ids() == [unpaid.id, paid.id]  # not the canceled one, by default
    assert ids(customer=ada.id) == [unpaid.id, paid.id]
    assert ids(status="active") == [paid.id]
    assert ids(status="incomplete") == [unpaid.id]
    assert ids(status="canceled") == [other.id] == ids(status="ended")
    assert ids(status="all") == [other.id, unpaid.id, paid.id]
    assert ids(price=price.id, customer=bob.id) == []

    def invoice_ids(**params: object) -> list[str]:
        return [i.id for i in client.v1.invoices.list(params=params).data]

    paid_invoice = paid.latest_invoice.id
    assert invoice_ids(subscription=paid.id) == [paid_invoice]
    assert invoice_ids(customer=ada.id) == [unpaid.latest_invoice.id, paid_invoice]
    assert invoice_ids(status="paid") == [paid_invoice]
    assert invoice_ids(status="void") == [other.latest_invoice.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.retrieve("in_nope")
    assert exc.value.http_status == 404 and str(exc.value.user_message) == "No such invoice: 'in_nope'"


def test_trial_subscription(client: stripe.StripeClient) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id, trial_period_days=14)
    assert sub.status == "trialing" and sub.trial_start == sub.created
    assert sub.trial_end == sub.created + 14 * 86400 == period(sub)[1] == sub.billing_cycle_anchor
    inv = sub.latest_invoice
    assert inv.status == "paid" and inv.amount_due == 0 and inv.amount_paid == 0
    assert inv.confirmation_secret is None
    assert inv.lines.data[0].amount == 0 and inv.lines.data[0].description.startswith("Trial period")
    assert event_types(client, "invoice.*", "customer.subscription.*", "payment_intent.*") == [
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_deleting_the_customer_cancels_its_subscriptions(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id)
    confirm_first_invoice(pk_client, sub)
    client.v1.customers.delete(cus.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert event_types(client, "customer.subscription.deleted", "customer.deleted") == [
        "customer.subscription.deleted",
        "customer.deleted",
    ]


def test_incomplete_expires_after_the_configured_delay_without_a_clock(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(subscription_incomplete_expiry_seconds=0)
    try:
        price = plan(client)
        cus = client.v1.customers.create()
        sub = subscribe(client, cus.id, price.id)
        wait_until(lambda: client.v1.subscriptions.retrieve(sub.id).status == "incomplete_expired")
        assert client.v1.invoices.retrieve(sub.latest_invoice.id).status == "void"
    finally:
        emulator.set_config(subscription_incomplete_expiry_seconds=23 * 3600)


@pytest.mark.parametrize(
    ("params", "param", "code", "message"),
    [
        (
            {"items": [{"price": "PRICE"}]},
            "customer",
            "parameter_missing",
            "Missing required param: customer.",
        ),
        (
            {"customer": "cus_nope", "items": [{"price": "PRICE"}]},
            "customer",
            "resource_missing",
            "No such customer: 'cus_nope'",
        ),
        ({"customer": "CUS"}, "items", "parameter_missing", "Missing required param: items."),
        (
            {"customer": "CUS", "items": [{"price": "price_nope"}]},
            "items[0][price]",
            "resource_missing",
            "No such price: 'price_nope'",
        ),
        (
            {"customer": "CUS", "items": [{"price": "ONE_TIME"}]},
            "items[0][price]",
            None,
            "only accepts prices with `type=recurring`",
        ),
        (
            {"customer": "CUS", "items": [{"price": "INACTIVE"}]},
            "items[0][price]",
            None,
            "The price specified is inactive. This field only accepts active prices.",
        ),
        (
            {"customer": "CUS", "items": [{"price": "PRICE"}], "default_payment_method": "pm_card_visa"},
            "default_payment_method",
            None,
            "The payment method must be attached to the customer.",
        ),
        (
            {"customer": "CUS", "items": [{"price": "PRICE"}], "payment_behavior": "error_if_incomplete"},
            "payment_behavior",
            None,
            "not supported by the Stripe emulator",
        ),
        (
            {"customer": "CUS", "items": [{"price": "PRICE"}], "trial_period_days": 731},
            "trial_period_days",
            None,
            "between 0 and 730",
        ),
    ],
)
def test_create_errors(
    client: stripe.StripeClient, params: dict[str, object], param: str, code: str | None, message: str
) -> None:
    price = plan(client)
    product = price.product
    one_time = client.v1.prices.create(params={"product": product, "currency": "usd", "unit_amount": 100})
    inactive = client.v1.prices.create(
        params={"product": product, "currency": "usd", "unit_amount": 100, "recurring": {"interval": "month"}}
    )
    client.v1.prices.update(inactive.id, params={"active": False})
    cus = client.v1.customers.create()
    names = {"PRICE": price.id, "ONE_TIME": one_time.id, "INACTIVE": inactive.id, "CUS": cus.id}

    def fill(value: object) -> object:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params=fill(params))
    assert exc.value.http_status == 400 and exc.value.param == param and exc.value.code == code
    assert message in str(exc.value.user_message)
    assert client.v1.subscriptions.list(params={"status": "all"}).data == []
    assert client.v1.invoices.list().data == []


def test_first_invoice_paid_after_3d_secure(
    client: stripe.StripeClient, pk_client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    price = plan(client)
    cus = client.v1.customers.create()
    sub = subscribe(client, cus.id, price.id)
    pi = confirm_first_invoice(pk_client, sub, "pm_card_authenticationRequired")
    assert pi.status == "requires_action"
    assert event_types(client, "invoice.payment_action_required") == ["invoice.payment_action_required"]
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    emulator.complete_3ds(pi.id, "fail")
    assert event_types(client, "invoice.payment_failed") == ["invoice.payment_failed"]
    pi = confirm_first_invoice(pk_client, sub, "pm_card_authenticationRequired")
    emulator.complete_3ds(pi.id)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.status == "paid"
    assert sub.latest_invoice.attempt_count == 2  # a 3-D Secure challenge is part of its attempt
    # the authenticated card becomes the subscription's default payment method
    assert sub.default_payment_method == client.v1.payment_intents.retrieve(pi.id).payment_method
