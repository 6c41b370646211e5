"""PaymentIntents: the status machine, declines, 3-D Secure, capture, cancel, validation."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import wait_until


def event_types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


def test_create_then_confirm_succeeds(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2500,
            "currency": "usd",
            "customer": cus.id,
            "automatic_payment_methods": {"enabled": True},
            "metadata": {"order_id": "o-1"},
            "description": "2 sessions",
            "receipt_email": "ada@example.com",
        }
    )
    assert pi.status == "requires_payment_method"
    assert pi.client_secret.startswith(pi.id + "_secret_")
    assert pi.automatic_payment_methods.enabled is True
    assert pi.amount == 2500 and pi.currency == "usd" and pi.customer == cus.id
    assert pi.metadata.to_dict() == {"order_id": "o-1"} and pi.latest_charge is None

    pi = client.v1.payment_intents.update(pi.id, params={"payment_method": "pm_card_visa"})
    assert pi.status == "requires_confirmation" and pi.payment_method.startswith("pm_")

    pi = client.v1.payment_intents.confirm(pi.id, params={"expand": ["latest_charge", "payment_method"]})
    assert pi.status == "succeeded" and pi.amount_received == 2500
    charge = pi.latest_charge
    assert charge.object == "charge" and charge.status == "succeeded" and charge.paid and charge.captured
    assert charge.amount == 2500 and charge.amount_captured == 2500 and charge.payment_intent == pi.id
    assert charge.payment_method_details.type == "card"
    assert charge.payment_method_details.card.last4 == "4242"
    assert pi.payment_method.card.brand == "visa"

    fetched = client.v1.charges.retrieve(charge.id)
    assert fetched.id == charge.id and fetched.metadata.to_dict() == {"order_id": "o-1"}
    assert fetched.receipt_email == "ada@example.com"
    assert event_types(client) == [
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_create_confirmed_with_card_and_retrieve_expanded(client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "eur", "payment_method": "pm_card_mastercard", "confirm": True}
    )
    assert pi.status == "succeeded" and isinstance(pi.latest_charge, str)
    got = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge", "payment_method"]})
    assert got.latest_charge.id == pi.latest_charge
    assert got.payment_method.card.brand == "mastercard"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.retrieve(pi.id, params={"expand": ["currency"]})
    assert "cannot be expanded" in str(exc.value.user_message)
    charges = client.v1.charges.list(params={"payment_intent": pi.id})
    assert [c.id for c in charges.data] == [pi.latest_charge]


@pytest.mark.parametrize(
    ("token", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_declines(client: stripe.StripeClient, token: str, code: str, decline_code: str) -> None:
    cus = client.v1.customers.create()
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(
            params={
                "amount": 1500,
                "currency": "usd",
                "customer": cus.id,
                "payment_method": token,
                "confirm": True,
            }
        )
    err = exc.value
    assert err.http_status == 402 and err.code == code
    assert err.error.type == "card_error" and err.error.decline_code == decline_code
    body_pi = err.error.payment_intent
    assert body_pi.status == "requires_payment_method"
    assert body_pi.last_payment_error.decline_code == decline_code
    pi = client.v1.payment_intents.retrieve(body_pi.id)
    assert pi.status == "requires_payment_method" and pi.payment_method is None
    assert pi.last_payment_error.code == code and pi.last_payment_error.type == "card_error"
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.status == "failed" and charge.failure_code == code and charge.outcome.reason == decline_code
    types = event_types(client)
    assert types[-2:] == ["charge.failed", "payment_intent.payment_failed"]

    # the same intent can be retried with a good card
    ok = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded" and ok.last_payment_error is None


def test_decline_from_card_numbers(client: stripe.StripeClient) -> None:
    for number, decline in [
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
    ]:
        pm = client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 1, "exp_year": 2039, "cvc": "123"},
            }
        )
        pi = client.v1.payment_intents.create(
            params={"amount": 900, "currency": "usd", "payment_method": pm.id}
        )
        with pytest.raises(stripe.CardError) as exc:
            client.v1.payment_intents.confirm(pi.id)
        assert exc.value.error.decline_code == decline


def test_three_d_secure_complete(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 4000,
            "currency": "gbp",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
        }
    )
    assert pi.status == "requires_action"
    assert pi.next_action.type == "use_stripe_sdk"
    assert pi.next_action.use_stripe_sdk.stripe_js.startswith(emulator.url)
    assert pi.latest_charge is None
    done = emulator.complete_3ds(pi.id)
    assert done["status"] == "succeeded"
    pi = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
    assert pi.status == "succeeded" and pi.next_action is None
    assert pi.latest_charge.payment_method_details.card.three_d_secure.result == "authenticated"
    assert event_types(client) == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_three_d_secure_card_number_redirect_and_fail(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4000002500003155", "exp_month": 1, "exp_year": 2039, "cvc": "123"},
        }
    )
    pi = client.v1.payment_intents.create(
        params={
            "amount": 4000,
            "currency": "usd",
            "payment_method": pm.id,
            "confirm": True,
            "return_url": "https://shop.example/return",
        }
    )
    assert pi.status == "requires_action" and pi.next_action.type == "redirect_to_url"
    assert pi.next_action.redirect_to_url.return_url == "https://shop.example/return"
    failed = emulator.complete_3ds(pi.id, outcome="fail")
    assert failed["status"] == "requires_payment_method"
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method" and pi.payment_method is None
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"
    assert event_types(client)[-1] == "payment_intent.payment_failed"
    with pytest.raises(RuntimeError):  # nothing left to authenticate
        emulator.complete_3ds(pi.id)


def test_three_d_secure_manual_capture(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "capture_method": "manual",
            "confirm": True,
        }
    )
    assert pi.status == "requires_action"
    assert emulator.complete_3ds(pi.id)["status"] == "requires_capture"


def test_off_session_authentication_required(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequired", params={"customer": cus.id})
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(
            params={
                "amount": 3000,
                "currency": "usd",
                "customer": cus.id,
                "payment_method": pm.id,
                "off_session": True,
                "confirm": True,
            }
        )
    assert exc.value.code == "authentication_required"
    assert exc.value.error.decline_code == "authentication_required"
    assert exc.value.error.payment_intent.status == "requires_payment_method"


def test_setup_future_usage_attaches_card_and_later_off_session_works(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    cus = client.v1.customers.create()
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": cus.id,
            "setup_future_usage": "off_session",
            "payment_method": "pm_card_authenticationRequiredOnSetup",
            "confirm": True,
        }
    )
    assert pi.status == "requires_action"
    emulator.complete_3ds(pi.id)
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "succeeded" and pi.setup_future_usage == "off_session"
    saved = client.v1.customers.payment_methods.list(cus.id).data
    assert [p.id for p in saved] == [pi.payment_method]
    attached = client.v1.events.list(params={"type": "payment_method.attached"}).data
    assert len(attached) == 1 and attached[0].data.object.customer == cus.id
    # the card set up with authentication then works off-session without a challenge
    later = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pi.payment_method,
            "off_session": True,
            "confirm": True,
        }
    )
    assert later.status == "succeeded"


def test_payment_method_of_another_customer_is_rejected(client: stripe.StripeClient) -> None:
    alice = client.v1.customers.create()
    bob = client.v1.customers.create()
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": alice.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "customer": bob.id,
                "payment_method": pm.id,
                "confirm": True,
            }
        )
    assert exc.value.http_status == 400 and exc.value.param == "payment_method"
    with pytest.raises(stripe.InvalidRequestError):  # attached card without its customer
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "payment_method": pm.id})
    # no intent was created by the rejected calls
    assert client.v1.payment_intents.list().data == []
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "customer": bob.id})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(pi.id, params={"payment_method": pm.id})


def test_unattached_card_is_consumed_after_use(client: stripe.StripeClient) -> None:
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2039, "cvc": "123"},
        }
    )
    client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": pm.id, "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "payment_method": pm.id})
    assert "previously used" in str(exc.value.user_message)


def test_manual_capture_full_and_partial(client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 6000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": True,
        }
    )
    assert pi.status == "requires_capture" and pi.amount_capturable == 6000 and pi.amount_received == 0
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.captured is False and charge.status == "succeeded"
    assert event_types(client)[-1] == "payment_intent.amount_capturable_updated"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 7000})
    assert exc.value.param == "amount_to_capture"
    captured = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 4000})
    assert (
        captured.status == "succeeded"
        and captured.amount_received == 4000
        and captured.amount_capturable == 0
    )
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.captured and charge.amount_captured == 4000 and charge.amount_refunded == 2000
    assert event_types(client)[-2:] == ["charge.captured", "payment_intent.succeeded"]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.capture(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"

    full = client.v1.payment_intents.create(
        params={
            "amount": 800,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": True,
        }
    )
    assert client.v1.payment_intents.capture(full.id).amount_received == 800


@pytest.mark.parametrize(
    "setup",
    ["requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"],
)
def test_cancel_from_allowed_states(client: stripe.StripeClient, setup: str) -> None:
    params: dict[str, Any] = {"amount": 1000, "currency": "usd"}
    if setup == "requires_confirmation":
        params["payment_method"] = "pm_card_visa"
    elif setup == "requires_action":
        params.update(payment_method="pm_card_authenticationRequired", confirm=True)
    elif setup == "requires_capture":
        params.update(payment_method="pm_card_visa", confirm=True, capture_method="manual")
    pi = client.v1.payment_intents.create(params=params)  # type: ignore[arg-type]
    assert pi.status == setup
    canceled = client.v1.payment_intents.cancel(
        pi.id, params={"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled" and canceled.cancellation_reason == "requested_by_customer"
    assert canceled.canceled_at is not None
    assert event_types(client)[-1] == "payment_intent.canceled"
    if setup == "requires_capture":
        assert client.v1.charges.retrieve(pi.latest_charge).refunded is True


def test_cancel_and_confirm_refused_in_final_states(client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.update(pi.id, params={"amount": 2000})
    assert (
        client.v1.payment_intents.update(pi.id, params={"metadata": {"note": "ok"}}).metadata["note"] == "ok"
    )
    other = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    client.v1.payment_intents.cancel(other.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(other.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(pi.id, params={"cancellation_reason": "bored"})  # type: ignore[typeddict-item]
    assert exc.value.param == "cancellation_reason"


def test_confirm_without_payment_method(client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state" and exc.value.param == "payment_method"


def test_refused_confirm_leaves_the_intent_unchanged(client: stripe.StripeClient) -> None:
    """A confirm refused with a 400 changes nothing, not even the fields it sent along."""
    succeeded = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    without_card = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    changes: dict[str, Any] = {
        "receipt_email": "mallory@example.com",
        "shipping": {"name": "Mallory", "address": {"line1": "1 Side Street"}},
        "setup_future_usage": "off_session",
        "capture_method": "manual",
    }
    for pi, param in ((succeeded, None), (without_card, "payment_method")):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.payment_intents.confirm(pi.id, params=changes)
        assert exc.value.code == "payment_intent_unexpected_state" and exc.value.param == param
        assert exc.value.json_body is not None
        assert exc.value.json_body["error"]["payment_intent"] == pi.to_dict()
        assert client.v1.payment_intents.retrieve(pi.id).to_dict() == pi.to_dict()


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [
        (49, "usd", False),
        (50, "usd", True),
        (49, "eur", False),
        (29, "gbp", False),
        (30, "gbp", True),
        (49, "jpy", False),
        (50, "jpy", True),
        (600, "krw", False),
        (1000, "krw", True),
    ],
)
def test_minimum_amounts(client: stripe.StripeClient, amount: int, currency: str, ok: bool) -> None:
    if ok:
        pi = client.v1.payment_intents.create(params={"amount": amount, "currency": currency})
        assert pi.amount == amount and pi.currency == currency
    else:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.payment_intents.create(params={"amount": amount, "currency": currency})
        assert exc.value.code == "amount_too_small" and exc.value.param == "amount"


def test_amount_and_currency_validation(client: stripe.StripeClient) -> None:
    for amount in (0, -5):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.payment_intents.create(params={"amount": amount, "currency": "usd"})
        assert exc.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": "12.5", "currency": "usd"})  # type: ignore[typeddict-item]
    assert exc.value.code == "parameter_invalid_integer"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"currency": "usd"})  # type: ignore[typeddict-item]
    assert exc.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "xyz"})
    assert exc.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "customer": "cus_missing"}
        )
    assert exc.value.code == "resource_missing" and exc.value.param == "customer"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "off_session": True})
    assert exc.value.param == "off_session"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.retrieve("pi_missing")
    assert exc.value.http_status == 404


def test_update_and_list_by_customer(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    a = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "customer": cus.id})
    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    c = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "customer": cus.id, "payment_method_types": ["card"]}
    )
    assert c.automatic_payment_methods is None and c.payment_method_types == ["card"]
    updated = client.v1.payment_intents.update(
        a.id, params={"amount": 1500, "metadata": {"k": "v"}, "setup_future_usage": "off_session"}
    )
    assert (
        updated.amount == 1500
        and updated.metadata["k"] == "v"
        and updated.setup_future_usage == "off_session"
    )
    listed = client.v1.payment_intents.list(params={"customer": cus.id})
    assert [p.id for p in listed.data] == [c.id, a.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.update(a.id, params={"amount": 10})


def test_processing_state_when_configured(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_config(processing_delay_ms=50)
    pi = client.v1.payment_intents.create(
        params={"amount": 1200, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert pi.status == "processing"
    wait_until(lambda: client.v1.payment_intents.retrieve(pi.id).status == "succeeded")
    assert event_types(client) == [
        "payment_intent.created",
        "payment_intent.processing",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_async_sdk_calls(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async(params={"email": "async@example.com"})
    pi = await client.v1.payment_intents.create_async(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
        options={"idempotency_key": "async-order-1"},
    )
    assert pi.status == "succeeded"
    again = await client.v1.payment_intents.create_async(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
        options={"idempotency_key": "async-order-1"},
    )
    assert again.id == pi.id
    got = await client.v1.payment_intents.retrieve_async(pi.id, params={"expand": ["latest_charge"]})
    assert got.latest_charge.amount == 2000


def test_three_d_secure_redirect_page_and_return(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    import httpx

    pi = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "return_url": "https://shop.example/done?x=1",
        }
    )
    page = httpx.get(pi.next_action.redirect_to_url.url)
    assert page.status_code == 200 and "3-D Secure" in page.text
    resp = httpx.post(
        f"{emulator.url}/_emulator/payment_intents/{pi.id}/three_d_secure",
        data={"outcome": "complete", "redirect": "1"},
    )
    assert resp.status_code == 303
    location = resp.headers["location"]
    assert location.startswith("https://shop.example/done?x=1&payment_intent=" + pi.id)
    assert "redirect_status=succeeded" in location
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
