"""Parameter specs and value conventions shared by several resources (see ``_forms.validate``)."""

from __future__ import annotations

from typing import Any

from ._forms import enum

ADDRESS = {k: "str" for k in ("city", "country", "line1", "line2", "postal_code", "state")}
SHIPPING = {"address": ADDRESS, "name": "str", "phone": "str", "carrier": "str", "tracking_number": "str"}
BILLING = {"address": ADDRESS, "email": "str", "name": "str", "phone": "str", "tax_id": "str"}
CARD = {"number": "str", "exp_month": "int", "exp_year": "int", "cvc": "str", "networks": "any"}
REDISPLAY = enum("always", "limited", "unspecified")
# A PaymentMethod's parameters: POST /v1/payment_methods, and `payment_method_data` elsewhere.
PM_DATA = {
    "type": "str",
    "card": CARD,
    "billing_details": BILLING,
    "metadata": "metadata",
    "allow_redisplay": REDISPLAY,
}


def opt(value: Any) -> Any:
    """Stripe treats an empty string as "unset"."""
    return None if value == "" else value
