"""Customers: create, retrieve, update, delete, list, and the PaymentMethods attached to one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import _objects as objects
from ._errors import invalid, missing
from ._forms import EXPAND, LIST, enum, validate
from ._params import ADDRESS, REDISPLAY, SHIPPING, opt
from .state import frozen_at

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

INVOICE_SETTINGS = {
    "default_payment_method": "str",
    "footer": "str",
    "custom_fields": "any",
    "rendering_options": "any",
}
CUSTOMER_UPDATE = {
    "email": "str",
    "name": "str",
    "phone": "str",
    "description": "str",
    "metadata": "metadata",
    "address": ADDRESS,
    "shipping": SHIPPING,
    "invoice_settings": INVOICE_SETTINGS,
    "preferred_locales": ["str"],
    "tax_exempt": enum("none", "exempt", "reverse"),
    "balance": "int",
    **EXPAND,
}
CUSTOMER_CREATE = {**CUSTOMER_UPDATE, "payment_method": "str", "test_clock": "str"}


class Customers:
    """The customer routes; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, CUSTOMER_CREATE)
        self._check_email(p.get("email"))
        clock = (
            self.api.get("clock", p["test_clock"], "test_clock", status=400) if p.get("test_clock") else None
        )
        pm = None
        if p.get("payment_method"):
            pm = self.api.payment_methods.resolve(ctx, p["payment_method"], "payment_method")
            if pm["customer"]:
                raise invalid(
                    "The payment method you provided has already been attached to a customer.",
                    param="payment_method",
                )
        default_pm = (p.get("invoice_settings") or {}).get("default_payment_method")
        if default_pm and (pm is None or default_pm not in (pm["id"], p["payment_method"])):
            raise invalid(
                f"The customer does not have a payment method with the ID {default_pm}. "
                "The payment method must be attached to the customer.",
                param="invoice_settings[default_payment_method]",
            )
        # a customer on a test clock (and all it does) lives on the clock's time
        with frozen_at(clock["frozen_time"] if clock else None):
            cus = objects.customer(p)
            cus["test_clock"] = clock["id"] if clock else None
            self.api.apply_metadata(cus, p.get("metadata"))
            self.s.store.customers[cus["id"]] = cus
            self.api.emit(ctx, "customer.created", cus)
            if pm is not None:
                self.api.payment_methods.attach_to(ctx, pm, cus)
                if default_pm:
                    cus["invoice_settings"]["default_payment_method"] = pm["id"]
        return self.api.output(cus, p)

    @staticmethod
    def _check_email(email: str | None) -> None:
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise invalid(f"Invalid email address: {email}", param="email", code="email_invalid")

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        cus = self.s.store.customers.get(id)
        if cus is None:
            raise missing("customer", id)
        if cus.get("deleted"):
            return {"id": id, "object": "customer", "deleted": True}
        return self.api.output(cus, p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, CUSTOMER_UPDATE)
        cus = self.api.get("cus", id)
        self._check_email(p.get("email"))
        previous: dict[str, Any] = {}
        before = self.api.render(cus)
        for field in ("email", "name", "phone", "description", "shipping", "balance", "tax_exempt"):
            if field in p:
                cus[field] = opt(p[field]) if field != "balance" else (p[field] or 0)
        if "tax_exempt" in p and not cus["tax_exempt"]:
            cus["tax_exempt"] = "none"
        if "address" in p:
            if p["address"] is None:
                cus["address"] = None
            else:
                cus["address"] = cus["address"] or objects.empty_address()
                cus["address"].update({k: opt(v) for k, v in p["address"].items()})
        if "preferred_locales" in p:
            cus["preferred_locales"] = p["preferred_locales"]
        if "invoice_settings" in p and p["invoice_settings"] is not None:
            inv = p["invoice_settings"]
            if "default_payment_method" in inv:
                dpm = opt(inv["default_payment_method"])
                if dpm is not None:
                    pm = self.s.store.payment_methods.get(dpm)
                    if pm is None or pm["customer"] != cus["id"]:
                        raise invalid(
                            f"The customer does not have a payment method with the ID {dpm}. "
                            "The payment method must be attached to the customer.",
                            param="invoice_settings[default_payment_method]",
                        )
                cus["invoice_settings"]["default_payment_method"] = dpm
            if "footer" in inv:
                cus["invoice_settings"]["footer"] = opt(inv["footer"])
        self.api.apply_metadata(cus, p.get("metadata"))
        after = self.api.render(cus)
        for k, v in before.items():
            if after.get(k) != v:
                previous[k] = v
        if previous:
            self.api.emit(ctx, "customer.updated", cus, previous)
        return self.api.output(cus, p)

    def delete(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        validate(params, {})
        cus = self.api.get("cus", id)
        with self.api.at_customer_clock(id):
            self.api.subscriptions.end_all_for_customer(ctx, id)
        snapshot = self.api.render(cus)
        for pm in self.s.store.payment_methods.values():
            if pm["customer"] == id:
                pm["customer"] = None
                pm["_consumed"] = True
        cus["deleted"] = True
        self.s.emit(
            "customer.deleted", snapshot, request_id=ctx.request_id, idempotency_key=ctx.idempotency_key
        )
        return {"id": id, "object": "customer", "deleted": True}

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "email": "str"})
        items = [c for c in self.api.newest_first(self.s.store.customers.values()) if not c.get("deleted")]
        if p.get("email"):
            items = [c for c in items if c["email"] == p["email"]]
        return self.api.paginate(items, p, "/v1/customers")

    def list_payment_methods(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {**LIST, "type": "str", "allow_redisplay": REDISPLAY})
        self.api.get("cus", id, "customer")
        items = self.api.payment_methods.of_customer(id, p.get("type"))
        return self.api.paginate(items, p, f"/v1/customers/{id}/payment_methods")

    def retrieve_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str, pm: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        self.api.get("cus", id, "customer")
        obj = self.s.store.payment_methods.get(pm)
        if obj is None or obj["customer"] != id:
            raise missing("PaymentMethod", pm, "payment_method")
        return self.api.output(obj, p)
