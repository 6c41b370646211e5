"""Events, webhook endpoints and signed, retried webhook delivery."""

from __future__ import annotations

import itertools
import time

import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import WebhookReceiver, wait_until


def pay(client: stripe.StripeClient, **extra: object) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True, **extra}  # type: ignore[typeddict-item]
    )


def test_events_retrieve_and_list(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
        options={"idempotency_key": "evt-key"},
    )
    events = client.v1.events.list()
    assert [e.type for e in events.data] == [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.created",
        "customer.created",
    ]
    succeeded = client.v1.events.retrieve(events.data[0].id)
    assert succeeded.object == "event" and succeeded.livemode is False and succeeded.api_version
    assert succeeded.data.object.id == pi.id and succeeded.data.object.status == "succeeded"
    assert succeeded.request.idempotency_key == "evt-key" and succeeded.request.id.startswith("req_")
    created = client.v1.events.list(params={"type": "payment_intent.created"}).data[0]
    assert created.data.object.status == "requires_confirmation"  # a snapshot, not the live object
    assert {e.type for e in client.v1.events.list(params={"type": "payment_intent.*"}).data} == {
        "payment_intent.created",
        "payment_intent.succeeded",
    }
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.events.retrieve("evt_missing")
    assert exc.value.http_status == 404


def test_webhook_endpoint_crud(client: stripe.StripeClient) -> None:
    ep = client.v1.webhook_endpoints.create(
        params={
            "url": "https://example.com/hook",
            "enabled_events": ["payment_intent.succeeded"],
            "description": "d",
        }
    )
    assert ep.id.startswith("we_") and ep.secret.startswith("whsec_") and ep.status == "enabled"
    assert ep.enabled_events == ["payment_intent.succeeded"]
    listed = client.v1.webhook_endpoints.list()
    assert [e.id for e in listed.data] == [ep.id] and "secret" not in listed.data[0]
    assert client.v1.webhook_endpoints.retrieve(ep.id).url == "https://example.com/hook"
    upd = client.v1.webhook_endpoints.update(ep.id, params={"disabled": True})
    assert upd.status == "disabled"
    deleted = client.v1.webhook_endpoints.delete(ep.id)
    assert deleted.deleted is True
    assert client.v1.webhook_endpoints.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.webhook_endpoints.create(params={"url": "https://example.com/hook"})  # type: ignore[typeddict-item]
    assert exc.value.code == "parameter_missing"


def test_signed_delivery_verified_by_sdk(
    client: stripe.StripeClient, emulator: EmulatorServer, receiver: WebhookReceiver
) -> None:
    secret = "whsec_test_fixed_secret"
    emulator.register_webhook(receiver.url, secret)
    pi = pay(client)
    got = receiver.wait_for("payment_intent.succeeded")
    req = next(r for r in receiver.requests if '"payment_intent.succeeded"' in r["body"])
    event = stripe.Webhook.construct_event(req["body"], req["headers"]["Stripe-Signature"], secret)
    assert event.type == "payment_intent.succeeded" and event.data.object.id == pi.id
    assert got[0]["id"] == event.id
    header = req["headers"]["Stripe-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(req["body"], header, "whsec_other")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(req["body"].replace("1000", "9999"), header, secret)
    # every event of the payment reaches the endpoint
    receiver.wait_for("charge.succeeded")
    receiver.wait_for("payment_intent.created")


def test_endpoint_created_through_api_receives_only_enabled_events(
    client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    ep = client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["charge.succeeded"]}
    )
    pi = pay(client)
    events = receiver.wait_for("charge.succeeded")
    time.sleep(0.1)
    assert [e["type"] for e in receiver.events()] == ["charge.succeeded"]
    req = receiver.requests[0]
    event = stripe.Webhook.construct_event(req["body"], req["headers"]["Stripe-Signature"], ep.secret)
    assert event.data.object.payment_intent == pi.id and events[0]["pending_webhooks"] == 1
    wait_until(lambda: client.v1.events.retrieve(event.id).pending_webhooks == 0)


def test_retries_with_backoff_after_receiver_errors(
    client: stripe.StripeClient, emulator: EmulatorServer, receiver: WebhookReceiver
) -> None:
    emulator.register_webhook(receiver.url, "whsec_retry", enabled_events=["customer.created"])
    receiver.fail_next(2, status=500)
    client.v1.customers.create()
    receiver.wait_for("customer.created")
    attempts = [r for r in receiver.requests if '"customer.created"' in r["body"]]
    assert [a["status"] for a in attempts] == [500, 500, 200]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.015 and gaps[1] >= 0.03  # 0.02 s, then doubled
    # every attempt carries a valid signature over the same payload
    for a in attempts:
        stripe.WebhookSignature.verify_header(a["body"], a["headers"]["Stripe-Signature"], "whsec_retry", 300)
    log = wait_until(lambda: len(emulator.webhook_deliveries()) == 3 and emulator.webhook_deliveries())
    assert [d["attempt"] for d in log] == [1, 2, 3] and [d["succeeded"] for d in log] == [False, False, True]


def test_gives_up_after_max_attempts(
    client: stripe.StripeClient, emulator: EmulatorServer, receiver: WebhookReceiver
) -> None:
    emulator.set_config(webhook_max_attempts=2)
    try:
        emulator.register_webhook(receiver.url, "whsec_x", enabled_events=["customer.created"])
        receiver.fail_next(5, status=503)
        client.v1.customers.create()
        wait_until(lambda: len(emulator.webhook_deliveries()) == 2)
        time.sleep(0.2)
        assert len(receiver.requests) == 2 and all(r["status"] == 503 for r in receiver.requests)
    finally:
        emulator.set_config(webhook_max_attempts=4)


def test_connection_errors_are_retried(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.register_webhook(
        "http://127.0.0.1:9/unreachable", "whsec_x", enabled_events=["customer.created"]
    )
    client.v1.customers.create()
    log = wait_until(lambda: len(emulator.webhook_deliveries()) >= 2 and emulator.webhook_deliveries())
    assert log[0]["status_code"] is None and log[0]["error"]


def test_state_change_events(
    client: stripe.StripeClient, emulator: EmulatorServer, receiver: WebhookReceiver
) -> None:
    emulator.register_webhook(receiver.url, "whsec_all")
    cus = client.v1.customers.create()
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    pi = client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pm.id,
            "confirm": True,
        }
    )
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    client.v1.payment_methods.detach(pm.id)
    bad = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    client.v1.payment_intents.cancel(bad.id)
    expected = [
        "customer.created",
        "payment_method.attached",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "refund.created",
        "charge.refunded",
        "payment_method.detached",
        "payment_intent.canceled",
    ]
    for t in expected:
        receiver.wait_for(t)
    detached = receiver.events("payment_method.detached")[0]
    assert detached["data"]["object"]["customer"] is None
    assert detached["data"]["previous_attributes"] == {"customer": cus.id}
    refunded = receiver.events("charge.refunded")[0]["data"]["object"]
    assert refunded["amount_refunded"] == 1000 and refunded["refunded"] is False


def test_reset_cancels_pending_deliveries(
    client: stripe.StripeClient, emulator: EmulatorServer, receiver: WebhookReceiver
) -> None:
    emulator.set_config(webhook_initial_delay=0.3)
    try:
        emulator.register_webhook(receiver.url, "whsec_x", enabled_events=["customer.created"])
        receiver.fail_next(1)
        client.v1.customers.create()
        wait_until(lambda: len(receiver.requests) == 1)
        emulator.reset()
        time.sleep(0.45)
        assert len(receiver.requests) == 1
    finally:
        emulator.set_config(webhook_initial_delay=0.02)
