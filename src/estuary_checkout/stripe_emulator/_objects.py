"""Builders for Stripe objects, with every key of Stripe's published example objects."""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Any

from ._cards import TestCard, fingerprint
from .state import new_id
from .state import now as now  # the wall clock, or a test clock's time (state.frozen_at)


def empty_address() -> dict[str, Any]:
    return {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def billing_details(params: dict[str, Any] | None) -> dict[str, Any]:
    params = params or {}
    address = empty_address()
    address.update({k: (v or None) for k, v in (params.get("address") or {}).items()})
    return {
        "address": address,
        "email": params.get("email") or None,
        "name": params.get("name") or None,
        "phone": params.get("phone") or None,
        "tax_id": params.get("tax_id") or None,
    }


def customer(params: dict[str, Any]) -> dict[str, Any]:
    address = None
    if params.get("address"):
        address = empty_address()
        address.update(params["address"])
    return {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": address,
        "balance": params.get("balance") or 0,
        "created": now(),
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description") or None,
        "discount": None,
        "email": params.get("email") or None,
        "invoice_prefix": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": params.get("name") or None,
        "next_invoice_sequence": 1,
        "phone": params.get("phone") or None,
        "preferred_locales": list(params.get("preferred_locales") or []),
        "shipping": params.get("shipping") or None,
        "tax_exempt": params.get("tax_exempt") or "none",
        "test_clock": None,
    }


def card_details(card: TestCard, exp_month: int, exp_year: int, cvc_checked: bool) -> dict[str, Any]:
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass" if cvc_checked else None,
        },
        "country": card.country,
        "display_brand": card.brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": fingerprint(card.number),
        "funding": card.funding,
        "generated_from": None,
        "last4": card.number[-4:],
        "networks": {"available": [card.brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def payment_method(
    card: TestCard, exp_month: int, exp_year: int, cvc_checked: bool, params: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": params.get("allow_redisplay") or "unspecified",
        "billing_details": billing_details(params.get("billing_details")),
        "card": card_details(card, exp_month, exp_year, cvc_checked),
        "created": now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
        # emulator-internal (never rendered)
        "_number": card.number,
        "_consumed": False,
        "_setup": False,
    }


def payment_intent(p: dict[str, Any], automatic: bool) -> dict[str, Any]:
    pi_id = new_id("pi")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": p["amount"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True} if automatic else None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": p.get("capture_method") or "automatic_async",
        "client_secret": f"{pi_id}_secret_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}",
        "confirmation_method": p.get("confirmation_method") or "automatic",
        "created": now(),
        "currency": p["currency"],
        "customer": p.get("customer") or None,
        "customer_account": None,
        "description": p.get("description") or None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": (
            {"id": "pmc_emulatordefaultconfig", "parent": None} if automatic else None
        ),
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": p.get("receipt_email") or None,
        "review": None,
        "setup_future_usage": p.get("setup_future_usage") or None,
        "shipping": p.get("shipping") or None,
        "source": None,
        "statement_descriptor": p.get("statement_descriptor") or None,
        "statement_descriptor_suffix": p.get("statement_descriptor_suffix") or None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": p.get("transfer_group") or None,
        # emulator-internal
        "_three_ds_passed": False,
        "_return_url": None,
        "_off_session": False,
    }


def three_d_secure_details() -> dict[str, Any]:
    return {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": "05",
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": "2.2.0",
    }


def charge(
    pi: dict[str, Any],
    pm: dict[str, Any],
    *,
    status: str,
    failure: tuple[str, str, str] | None = None,
    three_ds: bool = False,
) -> dict[str, Any]:
    card = pm["card"]
    succeeded = status == "succeeded"
    ch_id = new_id("ch")
    if failure:
        code, decline_code, message = failure
        outcome = {
            "advice_code": "try_again_later"
            if decline_code in {"generic_decline", "processing_error"}
            else None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": decline_code,
            "risk_level": "normal",
            "risk_score": 40,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    else:
        code = message = None  # type: ignore[assignment]
        outcome = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 22,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "id": ch_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": dict(pm["billing_details"]),
        "calculated_statement_descriptor": "ESTUARY EMULATOR",
        "captured": False,
        "created": now(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": code,
        "failure_message": message,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": pi["amount"] if succeeded else None,
                "authorization_code": f"{secrets.randbelow(10**6):06d}" if succeeded else None,
                "brand": card["brand"],
                "checks": dict(card["checks"]),
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": card["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": card["brand"],
                "network_token": {"used": False},
                "network_transaction_id": secrets.token_hex(8) if succeeded else None,
                "overcapture": {"maximum_amount_capturable": pi["amount"], "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": three_d_secure_details() if three_ds else None,
                "transaction_link_id": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/emulator/{ch_id}",
        "refunded": False,
        "review": None,
        "shipping": pi["shipping"],
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
        "_refund_ids": [],
    }


def refund(ch: dict[str, Any], amount: int, p: dict[str, Any], status: str) -> dict[str, Any]:
    pending = status == "pending"
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None if pending else new_id("txn"),
        "charge": ch["id"],
        "created": now(),
        "currency": ch["currency"],
        "customer": ch["customer"],
        "customer_account": None,
        "description": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "pending" if pending else "refund",
            },
            "type": "card",
        },
        "failure_balance_transaction": None,
        "failure_reason": None,
        "instructions_email": p.get("instructions_email") or None,
        "metadata": dict(p.get("metadata") or {}),
        "next_action": None,
        "payment_intent": ch["payment_intent"],
        "payment_method": ch["payment_method"],
        "pending_reason": "processing" if pending else None,
        "reason": p.get("reason") or None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }
