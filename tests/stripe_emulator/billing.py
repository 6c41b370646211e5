"""Helpers of the Billing tests: a plan, a customer on a test clock, a subscription created and paid
the way the service does it (``default_incomplete``, then the client confirms the first invoice's
PaymentIntent with its confirmation secret, as Stripe.js's ``confirmPayment`` does)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe

DAY = 86400
HOUR = 3600


def ts(iso: str) -> int:
    """A UTC ISO date-time as a Unix timestamp."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())


def day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def plan(
    client: stripe.StripeClient, amount: int = 30000, currency: str = "usd", interval: str = "month"
) -> stripe.Price:
    product = client.v1.products.create(params={"name": "Monthly Flow", "metadata": {"plan_id": "p-1"}})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "currency": currency,
            "unit_amount": amount,
            "recurring": {"interval": interval},
            "metadata": {"plan_id": "p-1"},
        }
    )


def clock_customer(
    client: stripe.StripeClient, frozen_time: int, **extra: Any
) -> tuple[stripe.test_helpers.TestClock, stripe.Customer]:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": frozen_time, "name": "billing"})
    customer = client.v1.customers.create(params={"test_clock": clock.id, **extra})
    return clock, customer


def subscribe(
    client: stripe.StripeClient, customer_id: str, price_id: str, **extra: Any
) -> stripe.Subscription:
    """What the service sends for a membership (SPEC 15)."""
    params: dict[str, Any] = {
        "customer": customer_id,
        "items": [{"price": price_id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"membership_id": "m-1"},
        "expand": ["latest_invoice.confirmation_secret"],
        **extra,
    }
    return client.v1.subscriptions.create(params=params)


def confirm_first_invoice(
    pk_client: stripe.StripeClient, sub: stripe.Subscription, payment_method: str = "pm_card_visa"
) -> stripe.PaymentIntent:
    """The browser's part: confirm the first invoice's PaymentIntent with the publishable key and the
    confirmation secret (the PaymentIntent id is the secret's prefix, as Stripe.js reads it)."""
    secret = sub.latest_invoice.confirmation_secret.client_secret
    pi_id = secret.split("_secret_")[0]
    return pk_client.v1.payment_intents.confirm(
        pi_id, params={"client_secret": secret, "payment_method": payment_method}
    )


def active_subscription(
    client: stripe.StripeClient, pk_client: stripe.StripeClient, customer_id: str, price_id: str, **extra: Any
) -> stripe.Subscription:
    sub = subscribe(client, customer_id, price_id, **extra)
    confirm_first_invoice(pk_client, sub)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    return sub


def period(sub: stripe.Subscription) -> tuple[int, int]:
    item = sub["items"].data[0]
    return item.current_period_start, item.current_period_end


def advance(client: stripe.StripeClient, clock_id: str, to: int) -> stripe.test_helpers.TestClock:
    clock = client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})
    assert clock.status == "ready" and clock.frozen_time == to
    return clock


def events(client: stripe.StripeClient, *types: str) -> list[stripe.Event]:
    """Every event (of these types), oldest first."""
    params: dict[str, Any] = {"limit": 100}
    if types:
        params["types"] = list(types)
    found = list(client.v1.events.list(params=params).auto_paging_iter())
    return list(reversed(found))


def event_types(client: stripe.StripeClient, *types: str) -> list[str]:
    return [e.type for e in events(client, *types)]


def invoices(client: stripe.StripeClient, sub_id: str) -> list[stripe.Invoice]:
    """The subscription's invoices, oldest first."""
    found = client.v1.invoices.list(params={"subscription": sub_id, "limit": 100}).data
    return list(reversed(found))
