"""Builders for the Billing objects (Product, Price, Subscription, SubscriptionItem, Invoice and its
lines, InvoicePayment, TestClock), with the keys of Stripe's published example objects as the
current API version shapes them (an Invoice's subscription is under ``parent``, a subscription's
periods are on its items).

Keys starting with ``_`` are the emulator's own and are never rendered.
"""

from __future__ import annotations

import copy
from typing import Any

from ._money import format_amount
from .state import new_id, now

DAY = 86400


def product(p: dict[str, Any]) -> dict[str, Any]:
    created = now()
    return {
        "id": p.get("id") or new_id("prod", 14),
        "object": "product",
        "active": True if p.get("active") is None else p["active"],
        "created": created,
        "default_price": None,
        "description": p.get("description") or None,
        "images": list(p.get("images") or []),
        "livemode": False,
        "marketing_features": [{"name": f.get("name")} for f in p.get("marketing_features") or []],
        "metadata": {},
        "name": p["name"],
        "package_dimensions": None,
        "shippable": p.get("shippable"),
        "statement_descriptor": p.get("statement_descriptor") or None,
        "tax_code": p.get("tax_code") or None,
        "type": "service",
        "unit_label": p.get("unit_label") or None,
        "updated": created,
        "url": p.get("url") or None,
    }


def price(p: dict[str, Any], product_id: str) -> dict[str, Any]:
    recurring = p.get("recurring")
    return {
        "id": new_id("price"),
        "object": "price",
        "active": True if p.get("active") is None else p["active"],
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": p["currency"],
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": p.get("lookup_key") or None,
        "metadata": {},
        "nickname": p.get("nickname") or None,
        "product": product_id,
        "recurring": (
            {
                "interval": recurring["interval"],
                "interval_count": recurring.get("interval_count") or 1,
                "meter": None,
                "trial_period_days": recurring.get("trial_period_days"),
                "usage_type": "licensed",
            }
            if recurring
            else None
        ),
        "tax_behavior": p.get("tax_behavior") or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": p["unit_amount"],
        "unit_amount_decimal": str(p["unit_amount"]),
    }


def plan(pr: dict[str, Any]) -> dict[str, Any]:
    """The legacy Plan view of a recurring Price, as Stripe still shows it on subscription items."""
    recurring = pr["recurring"] or {}
    return {
        "id": pr["id"],
        "object": "plan",
        "active": pr["active"],
        "amount": pr["unit_amount"],
        "amount_decimal": pr["unit_amount_decimal"],
        "billing_scheme": pr["billing_scheme"],
        "created": pr["created"],
        "currency": pr["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": dict(pr["metadata"]),
        "meter": None,
        "nickname": pr["nickname"],
        "product": pr["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def subscription_item(sub_id: str, price_id: str, quantity: int, start: int, end: int) -> dict[str, Any]:
    # `price` and `plan` are rendered from the stored Price (so they show its current state)
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": now(),
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
        "_price": price_id,
    }


def subscription(p: dict[str, Any], customer: dict[str, Any], currency: str, anchor: int) -> dict[str, Any]:
    created = now()
    save_pm = (p.get("payment_settings") or {}).get("save_default_payment_method")
    return {
        "id": new_id("sub"),
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": anchor,
        "billing_cycle_anchor_config": None,
        # the default for new subscriptions since API version 2025-09-30.clover
        "billing_mode": {
            "flexible": {"proration_discounts": "included"},
            "type": "flexible",
            "updated_at": None,
        },
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer["id"],
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": p.get("description") or None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": save_pm or "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": created,
        "status": "incomplete",
        "status_details": None,
        "test_clock": customer["test_clock"],
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
        # emulator-internal: item ids, and which period the items are in (-1: the trial)
        "_item_ids": [],
        "_cycle": 0,
        "_trial_will_end_sent": False,
    }


def line_item(
    invoice_id: str, sub: dict[str, Any], item: dict[str, Any], pr: dict[str, Any], product_name: str
) -> dict[str, Any]:
    quantity = item["quantity"]
    amount = pr["unit_amount"] * quantity
    recurring = pr["recurring"] or {}
    count = recurring.get("interval_count") or 1
    every = recurring.get("interval", "") if count == 1 else f"every {count} {recurring.get('interval')}s"
    in_trial = sub["status"] == "trialing" and sub["trial_end"] == item["current_period_end"]
    description = (
        f"Trial period for {product_name}"
        if in_trial
        else f"{quantity} × {product_name} (at {format_amount(pr['unit_amount'], pr['currency'])} / {every})"
    )
    if in_trial:
        amount = 0
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": pr["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": dict(sub["metadata"]),
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": pr["id"], "product": pr["product"]},
            "type": "price_details",
            "unit_amount_decimal": pr["unit_amount_decimal"],
        },
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": sub["id"],
        "subtotal": amount,
        "taxes": [],
    }


def invoice(
    sub: dict[str, Any], customer: dict[str, Any], billing_reason: str, period: tuple[int, int]
) -> dict[str, Any]:
    inv_id = new_id("in")
    created = now()
    return {
        "id": inv_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Estuary Checkout (Stripe emulator)",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": sub["currency"],
        "custom_fields": None,
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": copy.deepcopy(customer["address"]),
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": copy.deepcopy(customer["shipping"]),
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period[1],
        "period_start": period[0],
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": sub["test_clock"],
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
        # emulator-internal: its PaymentIntent and InvoicePayment, automatic collection attempts
        # made, and the first failure (the retry schedule counts from it)
        "_payment_intent": None,
        "_invoice_payment": None,
        "_automatic_attempts": 0,
        "_first_failed_at": None,
    }


def invoice_payment(inv: dict[str, Any], pi_id: str) -> dict[str, Any]:
    return {
        "id": new_id("inpay"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": inv["amount_due"],
        "created": now(),
        "currency": inv["currency"],
        "invoice": inv["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": pi_id, "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }


def test_clock(p: dict[str, Any], created: int) -> dict[str, Any]:
    return {
        "id": new_id("clock"),
        "object": "test_helpers.test_clock",
        "created": created,
        # Stripe deletes a test clock 30 days after its creation; the emulator keeps it.
        "deletes_after": created + 30 * DAY,
        "frozen_time": p["frozen_time"],
        "livemode": False,
        "name": p.get("name") or None,
        "status": "ready",
        "status_details": {},
    }
