"""API keys (secret / publishable) and Stripe's idempotency semantics."""

from __future__ import annotations

import httpx
import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import SECRET_KEY, make_client


def test_missing_and_invalid_keys(emulator: EmulatorServer) -> None:
    for key in ("sk_live_abcdefghijklmnop", "nonsense", "sk_test_"):
        with pytest.raises(stripe.AuthenticationError) as exc:
            make_client(emulator.url, key).v1.customers.list()
        assert exc.value.http_status == 401
    resp = httpx.get(f"{emulator.url}/v1/customers")
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in resp.json()["error"]["message"]


def test_basic_auth_is_accepted(emulator: EmulatorServer) -> None:
    resp = httpx.get(f"{emulator.url}/v1/customers", auth=(SECRET_KEY, ""))
    assert resp.status_code == 200 and resp.json()["object"] == "list"


def test_unknown_route(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.raw_request("get", "/v1/no_such_things")
    assert exc.value.http_status == 404 and "Unrecognized request URL" in str(exc.value.user_message)


def test_publishable_key_limits(client: stripe.StripeClient, pk_client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    # allowed: create a payment method, retrieve / confirm an intent with its client_secret
    pm = pk_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 4, "exp_year": 2036, "cvc": "123"},
        }
    )
    assert pm.id.startswith("pm_")
    seen = pk_client.v1.payment_intents.retrieve(pi.id, params={"client_secret": pi.client_secret})
    assert seen.id == pi.id and seen.status == "requires_payment_method"
    # forbidden: everything else
    for call in (
        lambda: pk_client.v1.customers.create(),
        lambda: pk_client.v1.customers.list(),
        lambda: pk_client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"}),
        lambda: pk_client.v1.payment_intents.retrieve(pi.id),  # no client_secret
        lambda: pk_client.v1.payment_intents.cancel(pi.id),
        lambda: pk_client.v1.refunds.list(),
        lambda: pk_client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"}),
    ):
        with pytest.raises(stripe.AuthenticationError) as exc:
            call()
        assert "publishable API key" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        pk_client.v1.payment_intents.retrieve(pi.id, params={"client_secret": pi.id + "_secret_wrong"})
    assert exc.value.param == "client_secret"
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_publishable_key_confirm_like_stripe_js(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> None:
    cus = client.v1.customers.create()
    pi = client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "usd", "customer": cus.id, "setup_future_usage": "off_session"}
    )
    done = pk_client.v1.payment_intents.confirm(
        pi.id, params={"client_secret": pi.client_secret, "payment_method": "pm_card_visa"}
    )
    assert done.status == "succeeded"
    assert client.v1.customers.payment_methods.list(cus.id).data[0].id == done.payment_method
    # a declined card through the publishable key raises CardError as with Stripe.js
    pi2 = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})
    with pytest.raises(stripe.CardError) as exc:
        pk_client.v1.payment_intents.confirm(
            pi2.id, params={"client_secret": pi2.client_secret, "payment_method": "pm_card_chargeDeclined"}
        )
    assert exc.value.error.decline_code == "generic_decline"
    # card details straight from the "browser"
    pi3 = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})
    done3 = pk_client.v1.payment_intents.confirm(
        pi3.id,
        params={
            "client_secret": pi3.client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": "5555555555554444", "exp_month": 1, "exp_year": 2037, "cvc": "123"},
            },
        },
    )
    assert done3.status == "succeeded"


def test_idempotent_replay_returns_first_response(client: stripe.StripeClient) -> None:
    params = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "order-42"})  # type: ignore[arg-type]
    second = client.v1.payment_intents.create(params=params, options={"idempotency_key": "order-42"})  # type: ignore[arg-type]
    assert first.id == second.id and second.last_response.headers["Idempotent-Replayed"] == "true"
    assert first.last_response.body == second.last_response.body
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(client.v1.payment_intents.list().data) == 1
    assert len(client.v1.events.list(params={"type": "payment_intent.created"}).data) == 1


def test_idempotent_replay_of_errors(client: stripe.StripeClient) -> None:
    params = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": True}
    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "dec-1"})  # type: ignore[arg-type]
    with pytest.raises(stripe.CardError) as second:
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "dec-1"})  # type: ignore[arg-type]
    assert second.value.headers["Idempotent-Replayed"] == "true"
    assert first.value.http_body == second.value.http_body
    assert len(client.v1.payment_intents.list().data) == 1


def test_idempotency_key_with_other_params(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k-1"})
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k-1"})
    assert exc.value.http_status == 400 and exc.value.error.type == "idempotency_error"
    with pytest.raises(stripe.IdempotencyError):  # other endpoint, same key
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd"}, options={"idempotency_key": "k-1"}
        )
    assert len(client.v1.customers.list().data) == 1


def test_idempotency_keys_are_scoped_per_api_key(emulator: EmulatorServer) -> None:
    a = make_client(emulator.url, "sk_test_account_key_a")
    b = make_client(emulator.url, "sk_test_account_key_b")
    ca = a.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "shared"})
    cb = b.v1.customers.create(params={"name": "b"}, options={"idempotency_key": "shared"})
    assert ca.id != cb.id


def test_validation_errors_are_not_saved(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            params={"amount": 10, "currency": "usd"}, options={"idempotency_key": "fixme"}
        )
    fixed = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd"}, options={"idempotency_key": "fixme"}
    )
    assert fixed.amount == 1000


def test_sdk_retry_after_lost_response_replays(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    """The request runs, the reply is lost (500); the SDK retries with its auto Idempotency-Key."""
    retrying = make_client(emulator.url, retries=2)
    emulator.set_faults(
        error_rate=1.0, error_status=500, route="^POST /v1/payment_intents$", count=1, phase="after"
    )
    pi = retrying.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert pi.status == "succeeded"
    assert pi.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.payment_intents.list().data) == 1
    assert emulator.get_faults()["errors_injected"] == 1


async def test_concurrent_requests_with_one_key_create_one_object(client: stripe.StripeClient) -> None:
    import asyncio

    params = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    results = await asyncio.gather(
        *[
            client.v1.payment_intents.create_async(params=params, options={"idempotency_key": "race-1"})  # type: ignore[arg-type]
            for _ in range(10)
        ]
    )
    assert len({r.id for r in results}) == 1
    others = await asyncio.gather(
        *[client.v1.customers.create_async(params={"name": f"n{i}"}) for i in range(20)]
    )
    assert len({c.id for c in others}) == 20
    assert len(client.v1.payment_intents.list().data) == 1
