"""Stripe Billing calls (products, recurring prices, subscriptions, invoices, test clocks).

A mixin of `StripeGateway`: it goes through the gateway's `_call` (one error mapping) and client,
so this module needs no import of the SDK. Idempotency keys are per attempt (the SDK's retries
of one call reuse it): the rows they are named after are written in the same transaction, and
SQLite may hand a rolled-back row's id out again. Shapes are the current API's (2025-03-31 and later):
an invoice has no `payment_intent` (the first payment's secret is its `confirmation_secret`), its
subscription is under `parent.subscription_details`, and period bounds live on subscription items.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from estuary_checkout.errors import AppError

T = TypeVar("T")


@dataclass(frozen=True)
class InvoiceInfo:
    id: str
    status: str | None  # draft, open, paid, void, uncollectible
    subscription_id: str | None
    currency: str
    amount_due: int
    amount_paid: int
    billing_reason: str | None
    period_start: datetime | None  # the subscription period its line pays for
    period_end: datetime | None
    client_secret: str | None = None


@dataclass(frozen=True)
class SubscriptionInfo:
    id: str
    status: str
    customer: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    latest_invoice: InvoiceInfo | None
    metadata: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int) and value > 0 else None


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def invoice_from_stripe(inv: Any) -> InvoiceInfo:
    d = inv if isinstance(inv, dict) else _plain(inv)
    sub = ((d.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    lines = (d.get("lines") or {}).get("data") or []
    # the subscription line says which period the invoice pays (an invoice's own period_start/end
    # name the *previous* period for renewals)
    period = next(
        (ln.get("period") for ln in lines if (ln.get("parent") or {}).get("subscription_item_details")),
        (lines[0].get("period") if lines else None),
    )
    secret = (d.get("confirmation_secret") or {}).get("client_secret")
    return InvoiceInfo(
        id=str(d["id"]),
        status=d.get("status"),
        subscription_id=sub if isinstance(sub, str) else (sub or {}).get("id"),
        currency=str(d.get("currency") or ""),
        amount_due=int(d.get("amount_due") or 0),
        amount_paid=int(d.get("amount_paid") or 0),
        billing_reason=d.get("billing_reason"),
        period_start=_ts((period or {}).get("start")),
        period_end=_ts((period or {}).get("end")),
        client_secret=secret,
    )


def subscription_from_stripe(sub: Any) -> SubscriptionInfo:
    d = _plain(sub)
    items = (d.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    latest = d.get("latest_invoice")
    customer = d.get("customer")
    return SubscriptionInfo(
        id=str(d["id"]),
        status=str(d.get("status")),
        customer=customer if isinstance(customer, str) else (customer or {}).get("id"),
        current_period_start=_ts(first.get("current_period_start")),
        current_period_end=_ts(first.get("current_period_end")),
        cancel_at_period_end=bool(d.get("cancel_at_period_end")),
        canceled_at=_ts(d.get("canceled_at")),
        ended_at=_ts(d.get("ended_at")),
        latest_invoice=invoice_from_stripe(latest) if isinstance(latest, dict) else None,
        metadata=dict(d.get("metadata") or {}),
        raw=d,
    )


class BillingCalls:
    client: Any

    async def _call(  # provided by StripeGateway
        self, what: str, fn: Callable[[], Awaitable[T]], *, missing: type[AppError] | None = None
    ) -> T:
        raise NotImplementedError

    # products and prices ---------------------------------------------------------------------
    async def create_product(self, *, plan_id: int, name: str) -> str:
        product = await self._call(
            "products.create",
            lambda: self.client.v1.products.create_async(
                params={"name": name, "metadata": {"plan_id": str(plan_id)}},
                options={"idempotency_key": f"plan-{plan_id}-product-{uuid.uuid4().hex}"},
            ),
        )
        return str(product.id)

    async def update_product(self, product_id: str, *, name: str, active: bool) -> None:
        await self._call(
            "products.update",
            lambda: self.client.v1.products.update_async(product_id, params={"name": name, "active": active}),
        )

    async def create_price(
        self, *, plan_id: int, price_row_id: int, product_id: str, currency: str, amount: int, interval: str
    ) -> str:
        price = await self._call(
            "prices.create",
            lambda: self.client.v1.prices.create_async(
                params={
                    "product": product_id,
                    "currency": currency,
                    "unit_amount": amount,
                    "recurring": {"interval": interval},
                    "metadata": {"plan_id": str(plan_id), "plan_price_id": str(price_row_id)},
                },
                options={"idempotency_key": f"plan-price-{price_row_id}-{uuid.uuid4().hex}"},
            ),
        )
        return str(price.id)

    async def deactivate_price(self, price_id: str) -> None:
        await self._call(
            "prices.update", lambda: self.client.v1.prices.update_async(price_id, params={"active": False})
        )

    # subscriptions ---------------------------------------------------------------------------
    async def create_subscription(
        self,
        *,
        idempotency_key: str,
        customer_id: str,
        price_id: str,
        membership_id: int,
        user_id: int,
        trial_days: int | None,
        payment_method_id: str | None,
    ) -> SubscriptionInfo:
        params: dict[str, Any] = {
            "customer": customer_id,
            "items": [{"price": price_id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "metadata": {"membership_id": str(membership_id), "user_id": str(user_id)},
            "expand": ["latest_invoice.confirmation_secret"],
        }
        if trial_days:
            params["trial_period_days"] = trial_days
        if payment_method_id:
            params["default_payment_method"] = payment_method_id
        sub = await self._call(
            "subscriptions.create",
            lambda: self.client.v1.subscriptions.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return subscription_from_stripe(sub)

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionInfo:
        sub = await self._call(
            "subscriptions.retrieve",
            lambda: self.client.v1.subscriptions.retrieve_async(
                subscription_id, params={"expand": ["latest_invoice"]}
            ),
        )
        return subscription_from_stripe(sub)

    async def set_cancel_at_period_end(self, subscription_id: str, value: bool) -> SubscriptionInfo:
        sub = await self._call(
            "subscriptions.update",
            lambda: self.client.v1.subscriptions.update_async(
                subscription_id, params={"cancel_at_period_end": value, "expand": ["latest_invoice"]}
            ),
        )
        return subscription_from_stripe(sub)

    async def cancel_subscription(self, subscription_id: str) -> SubscriptionInfo:
        sub = await self._call(
            "subscriptions.cancel",
            lambda: self.client.v1.subscriptions.cancel_async(
                subscription_id, params={"expand": ["latest_invoice"]}
            ),
        )
        return subscription_from_stripe(sub)

    # invoices ----------------------------------------------------------------------------------
    async def retrieve_invoice(self, invoice_id: str) -> InvoiceInfo:
        inv = await self._call(
            "invoices.retrieve", lambda: self.client.v1.invoices.retrieve_async(invoice_id)
        )
        return invoice_from_stripe(inv)

    async def pay_invoice(
        self, invoice_id: str, *, payment_method_id: str, idempotency_key: str
    ) -> InvoiceInfo:
        inv = await self._call(
            "invoices.pay",
            lambda: self.client.v1.invoices.pay_async(
                invoice_id,
                params={"payment_method": payment_method_id},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return invoice_from_stripe(inv)

    # test clocks (test mode: the demo and tests move a customer's time) --------------------------
    async def create_test_clock(self, *, frozen_time: datetime, name: str) -> str:
        clock = await self._call(
            "test_clocks.create",
            lambda: self.client.v1.test_helpers.test_clocks.create_async(
                params={"frozen_time": int(frozen_time.timestamp()), "name": name}
            ),
        )
        return str(clock.id)

    async def advance_test_clock(self, clock_id: str, frozen_time: datetime) -> str:
        clock = await self._call(
            "test_clocks.advance",
            lambda: self.client.v1.test_helpers.test_clocks.advance_async(
                clock_id, params={"frozen_time": int(frozen_time.timestamp())}
            ),
        )
        return str(clock.status)

    async def create_clock_customer(self, *, user_id: int, email: str | None, clock_id: str) -> str:
        params: dict[str, Any] = {"metadata": {"user_id": str(user_id)}, "test_clock": clock_id}
        if email:
            params["email"] = email
        customer = await self._call(
            "customers.create", lambda: self.client.v1.customers.create_async(params=params)
        )
        return str(customer.id)
