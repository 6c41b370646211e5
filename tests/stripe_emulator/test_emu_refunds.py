"""Refunds: full, partial, over-refund, by charge, listing, and the charge's refund fields."""

from __future__ import annotations

import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import wait_until


def paid_intent(client: stripe.StripeClient, amount: int = 5000) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )


def test_partial_then_full_refund(client: stripe.StripeClient) -> None:
    pi = paid_intent(client)
    r1 = client.v1.refunds.create(
        params={
            "payment_intent": pi.id,
            "amount": 1500,
            "reason": "requested_by_customer",
            "metadata": {"k": "v"},
        }
    )
    assert r1.object == "refund" and r1.status == "succeeded" and r1.amount == 1500
    assert (
        r1.payment_intent == pi.id and r1.charge == pi.latest_charge and r1.reason == "requested_by_customer"
    )
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 1500 and charge.refunded is False
    r2 = client.v1.refunds.create(params={"payment_intent": pi.id})  # the rest
    assert r2.amount == 3500
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 5000 and charge.refunded is True
    assert [r.id for r in charge.refunds.data] == [r2.id, r1.id]
    assert client.v1.refunds.retrieve(r1.id).metadata["k"] == "v"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert exc.value.code == "charge_already_refunded"
    types = [e.type for e in client.v1.events.list(params={"type": "charge.refunded"}).data]
    assert types == ["charge.refunded", "charge.refunded"]
    assert len(client.v1.events.list(params={"type": "refund.created"}).data) == 2


def test_over_refund_refused(client: stripe.StripeClient) -> None:
    pi = paid_intent(client, 2000)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 501})
    assert exc.value.http_status == 400 and exc.value.param == "amount"
    assert exc.value.error.type == "invalid_request_error"
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 1500


def test_refund_by_charge_and_list_filter(client: stripe.StripeClient) -> None:
    a = paid_intent(client)
    b = paid_intent(client)
    ra = client.v1.refunds.create(params={"charge": a.latest_charge, "amount": 1000})
    rb = client.v1.refunds.create(params={"payment_intent": b.id, "amount": 700})
    assert ra.payment_intent == a.id
    assert [r.id for r in client.v1.refunds.list(params={"payment_intent": a.id}).data] == [ra.id]
    assert [r.id for r in client.v1.refunds.list(params={"charge": b.latest_charge}).data] == [rb.id]
    assert [r.id for r in client.v1.refunds.list().data] == [rb.id, ra.id]


def test_refund_of_unpaid_intent_refused(client: stripe.StripeClient) -> None:
    open_pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": open_pi.id})
    assert exc.value.http_status == 400
    held = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": True,
        }
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": held.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": "pi_missing"})
    assert exc.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={})
    assert exc.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.retrieve("re_missing")
    assert exc.value.http_status == 404


def test_pending_refund_settles_with_refund_updated(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_delay_ms=30)
    pi = paid_intent(client)
    r = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert r.status == "pending"
    wait_until(lambda: client.v1.refunds.retrieve(r.id).status == "succeeded")
    updated = client.v1.events.list(params={"type": "refund.updated"}).data
    assert len(updated) == 1 and updated[0].data.object.status == "succeeded"
    assert updated[0].data.previous_attributes.status == "pending"
