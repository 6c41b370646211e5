"""The Billing objects have the keys, nesting and value types of Stripe's published fixtures, in the
shape of the current API version (no Invoice.subscription or .payment_intent; periods on items)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from .billing import ts
from .test_emu_shapes import FIXTURES, SKELETON, missing_keys, raw

# Keys fixtures3.json still lists that the API version the SDK speaks (2026-10-28) no longer has:
# Invoice.subscription moved to parent.subscription_details.subscription in 2025-03-31.basil (the
# SDK's Invoice has no such field).
STALE_IN_FIXTURES = {"invoice": {"subscription"}}


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def type_mismatches(expected: dict[str, Any], actual: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys whose values are of another JSON type than the fixture's (where neither is null)."""
    out = []
    for key, value in expected.items():
        got = actual.get(key)
        if value is None or got is None or key in ("metadata", "previous_attributes"):
            continue
        if kind(value) != kind(got):
            out.append(f"{prefix}{key}: {kind(got)} (fixture: {kind(value)})")
        elif isinstance(value, dict):
            out += type_mismatches(value, got, f"{prefix}{key}.")
        elif isinstance(value, list) and value and got and isinstance(value[0], dict):
            out += type_mismatches(value[0], got[0], f"{prefix}{key}[0].")
    return out


@pytest.fixture(scope="module")
def skeleton() -> dict[str, Any]:
    return json.loads(SKELETON.read_text())


@pytest.fixture(scope="module")
def full_fixtures() -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.skip(f"Stripe fixtures not found at {FIXTURES}")
    return json.loads(FIXTURES.read_text())["resources"]


@pytest.fixture
def billing_objects(
    client: stripe.StripeClient, pk_client: stripe.StripeClient
) -> dict[str, list[dict[str, Any]]]:
    product = client.v1.products.create(params={"name": "Monthly Flow", "metadata": {"plan_id": "p-1"}})
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 30000,
            "recurring": {"interval": "month"},
        }
    )
    one_time = client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 500})
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": ts("2027-01-31T10:00:00")})
    cus = client.v1.customers.create(params={"test_clock": clock.id})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    secret = sub.latest_invoice.confirmation_secret.client_secret
    pk_client.v1.payment_intents.confirm(
        secret.split("_secret_")[0], params={"client_secret": secret, "payment_method": "pm_card_visa"}
    )
    paid_sub = client.v1.subscriptions.retrieve(sub.id)
    invoice = client.v1.invoices.retrieve(paid_sub.latest_invoice)
    lines = client.v1.invoices.line_items.list(invoice.id)
    payments = client.v1.invoice_payments.list(params={"invoice": invoice.id})
    spare = client.v1.products.create(params={"name": "Spare"})
    spare_clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": ts("2027-01-01T00:00:00")})
    return {
        "product": [raw(product), raw(client.v1.products.retrieve(product.id))],
        "price": [raw(price), raw(one_time)],
        "subscription": [raw(sub), raw(paid_sub)],
        "subscription_item": [raw(paid_sub)["items"]["data"][0]],
        "invoice": [raw(sub)["latest_invoice"], raw(invoice)],
        "line_item": [raw(invoice)["lines"]["data"][0], raw(lines)["data"][0]],
        "invoice_payment": [raw(payments)["data"][0]],
        "test_helpers.test_clock": [raw(clock), raw(client.v1.test_helpers.test_clocks.retrieve(clock.id))],
        "deleted_product": [raw(client.v1.products.delete(spare.id))],
        "deleted_test_helpers.test_clock": [raw(client.v1.test_helpers.test_clocks.delete(spare_clock.id))],
    }


def test_billing_objects_have_the_fixture_keys(
    billing_objects: dict[str, list[dict[str, Any]]], skeleton: dict[str, Any]
) -> None:
    problems = {}
    for type_, objs in billing_objects.items():
        expected = {k: v for k, v in skeleton[type_].items() if k not in STALE_IN_FIXTURES.get(type_, set())}
        for obj in objs:
            assert obj["object"] == expected["object"]
            miss = missing_keys(expected, obj)
            if miss:
                problems[f"{type_} {obj['id']}"] = miss
    assert problems == {}


def test_billing_objects_have_the_fixture_value_types(
    billing_objects: dict[str, list[dict[str, Any]]], full_fixtures: dict[str, Any]
) -> None:
    problems = {}
    for type_, objs in billing_objects.items():
        for obj in objs:
            wrong = type_mismatches(full_fixtures[type_], obj)
            if wrong:
                problems[f"{type_} {obj['id']}"] = wrong
    assert problems == {}


def test_current_api_shape(billing_objects: dict[str, list[dict[str, Any]]]) -> None:
    sub, paid_sub = billing_objects["subscription"]
    created_invoice, invoice = billing_objects["invoice"]
    # no current_period_* on the subscription: they are on its items
    assert "current_period_end" not in sub and "current_period_start" not in sub
    item = paid_sub["items"]["data"][0]
    assert item["current_period_start"] == sub["start_date"] == ts("2027-01-31T10:00:00")
    assert item["current_period_end"] == ts("2027-02-28T10:00:00")
    assert item["price"]["object"] == "price" and item["plan"]["id"] == item["price"]["id"]
    assert paid_sub["items"]["total_count"] == 1 and paid_sub["items"]["url"].startswith(
        "/v1/subscription_items"
    )
    # an invoice has no payment_intent nor a top-level subscription; the subscription is its parent
    for inv in (created_invoice, invoice):
        assert "payment_intent" not in inv and "subscription" not in inv
        assert inv["parent"]["type"] == "subscription_details"
        assert inv["parent"]["subscription_details"]["subscription"] == sub["id"]
    # the confirmation secret is includable: only there when expanded
    assert created_invoice["confirmation_secret"]["type"] == "payment_intent"
    assert created_invoice["confirmation_secret"]["client_secret"].startswith("pi_")
    assert "confirmation_secret" not in invoice and "payments" not in invoice
    line = invoice["lines"]["data"][0]
    assert line["period"] == {"start": item["current_period_start"], "end": item["current_period_end"]}
    assert line["pricing"]["price_details"] == {
        "price": item["price"]["id"],
        "product": item["price"]["product"],
    }
    assert line["parent"]["subscription_item_details"]["subscription_item"] == item["id"]
    assert invoice["lines"]["url"] == f"/v1/invoices/{invoice['id']}/lines"
    payment = billing_objects["invoice_payment"][0]
    assert payment["payment"]["type"] == "payment_intent" and payment["status"] == "paid"
    assert (
        payment["payment"]["payment_intent"]
        == created_invoice["confirmation_secret"]["client_secret"].split("_secret_")[0]
    )
    clock = billing_objects["test_helpers.test_clock"][0]
    assert clock["status"] == "ready" and clock["status_details"] == {}
    assert sub["test_clock"] == clock["id"] == invoice["test_clock"]
    one_time = billing_objects["price"][1]
    assert one_time["type"] == "one_time" and one_time["recurring"] is None


def test_invoice_includables_on_retrieve(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Plan"})
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "year"},
        }
    )
    cus = client.v1.customers.create()
    sub = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "payment_behavior": "default_incomplete"}
    )
    assert isinstance(sub.latest_invoice, str)
    inv = client.v1.invoices.retrieve(
        sub.latest_invoice, params={"expand": ["confirmation_secret", "payments"]}
    )
    assert inv.confirmation_secret.type == "payment_intent"
    pi_id = inv.payments.data[0].payment.payment_intent
    assert inv.confirmation_secret.client_secret.startswith(pi_id + "_secret_")
    pi = client.v1.payment_intents.retrieve(pi_id)
    assert pi.amount == 1500 and pi.customer == cus.id and pi.status == "requires_payment_method"
    assert pi.setup_future_usage == "off_session" and pi.description == "Subscription creation"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.retrieve(inv.id, params={"expand": ["amount_due"]})
    assert "cannot be expanded" in str(exc.value.user_message)
