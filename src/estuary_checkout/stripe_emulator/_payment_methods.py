"""PaymentMethods (cards only): create, retrieve, update, attach, detach, list; test tokens; the
rules for using a PaymentMethod with a PaymentIntent."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from . import _objects as objects
from ._cards import TOKENS, card_for, luhn_ok
from ._errors import StripeError, invalid, missing_param, state_error
from ._forms import EXPAND, LIST, validate
from ._params import BILLING, PM_DATA, REDISPLAY

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

PM_CONSUMED_MESSAGE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, "
    "shared with a connected account without Customer attachment, or was detached from a Customer. It may "
    "not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first."
)


class PaymentMethods:
    """The PaymentMethod routes, and the PaymentMethod rules the customer and PaymentIntent routes use."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    # --- building, resolving and checking PaymentMethods (customers and PaymentIntents too) -------
    def _new(self, p: dict[str, Any], param_prefix: str = "") -> dict[str, Any]:
        if not p.get("type"):
            raise missing_param(f"{param_prefix}type" if not param_prefix else f"{param_prefix}[type]")
        if p["type"] != "card":
            raise invalid(
                f"The payment method type provided: {p['type']} is invalid. The emulator supports: card.",
                param=f"{param_prefix}[type]" if param_prefix else "type",
            )
        card_p = p.get("card")
        pfx = f"{param_prefix}[card]" if param_prefix else "card"
        if not card_p:
            raise missing_param(pfx)
        number = re.sub(r"[\s-]", "", card_p.get("number") or "")
        if not number:
            raise missing_param(f"{pfx}[number]")
        if not luhn_ok(number):
            raise StripeError(
                402,
                "card_error",
                "Your card number is incorrect.",
                code="incorrect_number",
                param=f"{pfx}[number]",
            )
        exp_month, exp_year = card_p.get("exp_month"), card_p.get("exp_year")
        if exp_month is None:
            raise missing_param(f"{pfx}[exp_month]")
        if exp_year is None:
            raise missing_param(f"{pfx}[exp_year]")
        if not 1 <= exp_month <= 12:
            raise StripeError(
                402,
                "card_error",
                "Your card's expiration month is invalid.",
                code="invalid_expiry_month",
                param=f"{pfx}[exp_month]",
            )
        if exp_year < 100:
            exp_year += 2000
        lt = time.gmtime()
        if (
            exp_year < lt.tm_year
            or (exp_year == lt.tm_year and exp_month < lt.tm_mon)
            or exp_year > lt.tm_year + 50
        ):
            raise StripeError(
                402,
                "card_error",
                "Your card's expiration year is invalid.",
                code="invalid_expiry_year",
                param=f"{pfx}[exp_year]",
            )
        card = card_for(number)
        cvc = card_p.get("cvc")
        if cvc is not None:
            want = 4 if card.brand == "amex" else 3
            if not (cvc.isdigit() and len(cvc) == want):
                raise StripeError(
                    402,
                    "card_error",
                    "Your card's security code is invalid.",
                    code="invalid_cvc",
                    param=f"{pfx}[cvc]",
                )
        pm = objects.payment_method(card, exp_month, exp_year, cvc is not None, p)
        self.api.apply_metadata(pm, p.get("metadata"))
        self.s.store.payment_methods[pm["id"]] = pm
        return pm

    def _from_token(self, token: str) -> dict[str, Any]:
        card = card_for(TOKENS[token])
        year = time.gmtime().tm_year + 3
        pm = objects.payment_method(card, 12, year, True, {})
        self.s.store.payment_methods[pm["id"]] = pm
        return pm

    def resolve(self, ctx: Ctx | None, pm_id: str, param: str) -> dict[str, Any]:
        """A stored PaymentMethod, or a fresh one for a ``pm_card_*`` test token."""
        if pm_id in TOKENS:
            return self._from_token(pm_id)
        return self.api.get("pm", pm_id, param)

    def from_params(self, ctx: Ctx | None, p: dict[str, Any]) -> dict[str, Any] | None:
        if p.get("payment_method") and p.get("payment_method_data"):
            raise invalid(
                "You may only specify one of these parameters: payment_method, payment_method_data."
            )
        if p.get("payment_method_data"):
            return self._new(p["payment_method_data"], "payment_method_data")
        if p.get("payment_method"):
            return self.resolve(ctx, p["payment_method"], "payment_method")
        return None

    def check_usable(self, pm: dict[str, Any], customer_id: str | None) -> None:
        if pm["customer"] and pm["customer"] != customer_id:
            if customer_id:
                raise invalid(
                    f"The customer does not have a payment method with the ID {pm['id']}. "
                    "The payment method must be attached to the customer.",
                    param="payment_method",
                )
            raise invalid(
                f"The provided PaymentMethod {pm['id']} is attached to a Customer. To use it with a "
                "PaymentIntent, also provide that Customer's id as `customer`.",
                param="payment_method",
            )
        if pm["_consumed"] and not pm["customer"]:
            raise invalid(PM_CONSUMED_MESSAGE, param="payment_method")

    def attach_to(self, ctx: Ctx | None, pm: dict[str, Any], cus: dict[str, Any]) -> None:
        pm["customer"] = cus["id"]
        self.api.emit(ctx, "payment_method.attached", pm)

    def of_customer(self, customer_id: str | None, type_: str | None) -> list[dict[str, Any]]:
        items = self.api.newest_first(self.s.store.payment_methods.values())
        if customer_id:
            items = [pm for pm in items if pm["customer"] == customer_id]
        if type_:
            items = [pm for pm in items if pm["type"] == type_]
        return items

    # --- routes -------------------------------------------------------------------------------
    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**PM_DATA, **EXPAND, "payment_method": "str", "customer": "str"})
        if p.get("payment_method") or p.get("customer"):
            raise invalid(
                "Cloning PaymentMethods (payment_method/customer) is not supported by the emulator.",
                param="payment_method",
            )
        pm = self._new(p)
        return self.api.output(pm, p)

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.resolve(ctx, id, "payment_method"), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(
            params,
            {
                "metadata": "metadata",
                "billing_details": BILLING,
                "card": {"exp_month": "int", "exp_year": "int", "networks": "any"},
                "allow_redisplay": REDISPLAY,
                **EXPAND,
            },
        )
        pm = self.api.get("pm", id, "payment_method")
        before = self.api.render(pm)
        if p.get("billing_details"):
            merged = {
                **before["billing_details"],
                **{k: v for k, v in p["billing_details"].items() if k != "address"},
            }
            merged["address"] = {
                **before["billing_details"]["address"],
                **(p["billing_details"].get("address") or {}),
            }
            pm["billing_details"] = objects.billing_details(merged)
        if p.get("card"):
            if p["card"].get("exp_month") is not None:
                pm["card"]["exp_month"] = p["card"]["exp_month"]
            if p["card"].get("exp_year") is not None:
                pm["card"]["exp_year"] = p["card"]["exp_year"]
        if p.get("allow_redisplay"):
            pm["allow_redisplay"] = p["allow_redisplay"]
        self.api.apply_metadata(pm, p.get("metadata"))
        after = self.api.render(pm)
        previous = {k: v for k, v in before.items() if after.get(k) != v}
        if previous and pm["customer"]:
            self.api.emit(ctx, "payment_method.updated", pm, previous)
        return self.api.output(pm, p)

    def attach(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {"customer": "str", **EXPAND})
        if not p.get("customer"):
            raise missing_param("customer")
        cus = self.api.get("cus", p["customer"], "customer")
        pm = self.resolve(ctx, id, "payment_method")
        if pm["customer"] == cus["id"]:
            return self.api.output(pm, p)
        if pm["customer"]:
            raise invalid(
                "The payment method you provided has already been attached to a customer.",
                param="payment_method",
            )
        if pm["_consumed"]:
            raise invalid(PM_CONSUMED_MESSAGE, param="payment_method")
        self.attach_to(ctx, pm, cus)
        return self.api.output(pm, p)

    def detach(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        pm = self.api.get("pm", id, "payment_method")
        if not pm["customer"]:
            raise state_error(
                "The payment method you provided is not attached to a customer so detachment is impossible.",
                param="payment_method",
                code="payment_method_unexpected_state",
            )
        previous = {"customer": pm["customer"]}
        cus = self.s.store.customers.get(pm["customer"])
        if cus and cus["invoice_settings"]["default_payment_method"] == pm["id"]:
            cus["invoice_settings"]["default_payment_method"] = None
        pm["customer"] = None
        pm["_consumed"] = True  # a detached PaymentMethod cannot be used again
        self.api.emit(ctx, "payment_method.detached", pm, previous)
        return self.api.output(pm, p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "customer": "str", "type": "str"})
        if p.get("customer"):
            self.api.get("cus", p["customer"], "customer")
        items = self.of_customer(p.get("customer"), p.get("type"))
        if not p.get("customer"):
            items = [pm for pm in items if pm["customer"]]
        return self.api.paginate(items, p, "/v1/payment_methods")
