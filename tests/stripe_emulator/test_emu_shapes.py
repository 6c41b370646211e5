"""Every object type the emulator returns has (at least) the keys of Stripe's published fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe

from estuary_checkout.stripe_emulator.testing import EmulatorServer

# Stripe's published fixtures, where this checkout sits next to them; the committed skeleton
# (key names only, made from them by make_key_skeleton.py) keeps the test running anywhere
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "stripe" / "fixtures3.json"
SKELETON = Path(__file__).with_name("stripe_key_skeleton.json")
# maps whose keys are data, not schema
FREE_FORM = {"metadata", "fraud_details", "payment_method_options", "object", "previous_attributes"}


@pytest.fixture(scope="module")
def fixtures() -> dict[str, Any]:
    return json.loads(SKELETON.read_text())  # type: ignore[no-any-return]


def test_skeleton_is_current_with_stripe_fixtures() -> None:
    if not FIXTURES.exists():
        pytest.skip(f"Stripe fixtures not found at {FIXTURES} (the committed skeleton is used)")
    from tests.stripe_emulator.make_key_skeleton import build

    assert json.loads(SKELETON.read_text()) == build(json.loads(FIXTURES.read_text()))


def missing_keys(expected: dict[str, Any], actual: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in expected.items():
        path = f"{prefix}{key}"
        if key not in actual:
            out.append(path)
        elif isinstance(value, dict) and isinstance(actual[key], dict) and key not in FREE_FORM:
            if actual[key].get("object") == "list" or value.get("object") == "list":
                out += missing_keys({k: v for k, v in value.items() if k != "data"}, actual[key], path + ".")
            else:
                out += missing_keys(value, actual[key], path + ".")
    return out


def raw(obj: stripe.StripeObject) -> dict[str, Any]:
    return json.loads(obj.last_response.body) if obj.last_response else obj.to_dict()


def test_object_shapes_match_fixtures(
    client: stripe.StripeClient, emulator: EmulatorServer, fixtures: dict[str, Any]
) -> None:
    cus = client.v1.customers.create(params={"email": "shape@example.com", "address": {"city": "Oslo"}})
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pm.id,
            "confirm": True,
        }
    )
    charge = client.v1.charges.retrieve(pi.latest_charge)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    charge_after = client.v1.charges.retrieve(pi.latest_charge)
    # (before the webhook endpoint below exists: its deliveries to an unreachable host would tie up
    # the emulator's delivery threads for the next tests)
    emulator.set_config(refund_pending_card_delay_ms=60_000, refund_failure_delay_ms=60_000)
    to_fail = client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "payment_method": "pm_card_refundFail", "confirm": True}
    )
    emulator.fail_refund(client.v1.refunds.create(params={"payment_intent": to_fail.id}).id)
    failed_refund = client.v1.refunds.list(params={"payment_intent": to_fail.id}).data[0]
    failed_refund = client.v1.refunds.retrieve(failed_refund.id)
    slow = client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "payment_method": "pm_card_pendingRefund", "confirm": True}
    )
    pending_refund = client.v1.refunds.create(params={"payment_intent": slow.id})
    event = client.v1.events.list(params={"limit": 1}).data[0]
    event = client.v1.events.retrieve(event.id)
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": "https://example.com/h", "enabled_events": ["*"]}
    )
    declined = client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd"})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(declined.id, params={"payment_method": "pm_card_chargeDeclined"})
    declined = client.v1.payment_intents.retrieve(declined.id)

    checks = {
        "customer": [raw(cus)],
        "payment_method": [raw(pm)],
        "payment_intent": [raw(pi), raw(declined)],
        "charge": [raw(charge), raw(charge_after)],
        "refund": [raw(refund), raw(failed_refund), raw(pending_refund)],
        "event": [raw(event)],
        "webhook_endpoint": [raw(endpoint), raw(client.v1.webhook_endpoints.retrieve(endpoint.id))],
    }
    problems = {}
    for type_, objs in checks.items():
        for obj in objs:
            assert obj["object"] == type_
            miss = missing_keys(fixtures[type_], obj)
            if miss:
                problems[f"{type_} {obj['id']}"] = miss
    assert problems == {}

    lists = [
        client.v1.customers.list(),
        client.v1.payment_intents.list(),
        client.v1.charges.list(),
        client.v1.refunds.list(),
        client.v1.events.list(),
        client.v1.webhook_endpoints.list(),
        client.v1.payment_methods.list(params={"customer": cus.id}),
    ]
    for lst in lists:
        body = raw(lst)
        assert set(body) >= {"object", "data", "has_more", "url"} and body["object"] == "list"
        assert body["url"].startswith("/v1/") and len(body["data"]) >= 1
    assert raw(charge_after)["refunds"]["data"][0]["id"] == refund.id
    assert raw(failed_refund)["status"] == "failed" and raw(pending_refund)["status"] == "pending"
    for r in (raw(refund), raw(failed_refund), raw(pending_refund)):
        assert {"failure_reason", "failure_balance_transaction", "pending_reason"} <= set(r)


def test_error_shape(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(
            params={
                "amount": 2000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
            }
        )
    err = exc.value.json_body["error"]
    assert {"type", "code", "decline_code", "message", "doc_url", "charge", "payment_intent"} <= set(err)
    assert err["payment_intent"]["object"] == "payment_intent"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.customers.retrieve("cus_nope")
    err = exc2.value.json_body["error"]
    assert (
        err["type"] == "invalid_request_error" and err["param"] == "id" and err["code"] == "resource_missing"
    )
