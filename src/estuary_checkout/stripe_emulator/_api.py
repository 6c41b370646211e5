"""The Stripe API surface: routing, parameter specs and the business rules of each resource."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _objects as objects
from ._cards import TOKENS, card_for, luhn_ok
from ._errors import StripeError, auth_error, invalid, missing, missing_param, state_error
from ._forms import EXPAND, LIST, enum, validate
from ._money import MAX_AMOUNT, MINIMUMS, ZERO_DECIMAL, format_amount
from ._refunds import Refunds
from .state import EmulatorState, new_id


@dataclass
class Ctx:
    key_kind: str  # "secret" | "publishable" | "internal"
    request_id: str | None
    idempotency_key: str | None
    base_url: str


PUBLISHABLE_FORBIDDEN = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. "
    "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)

# --- parameter specs -----------------------------------------------------------------------------
ADDRESS = {k: "str" for k in ("city", "country", "line1", "line2", "postal_code", "state")}
SHIPPING = {"address": ADDRESS, "name": "str", "phone": "str", "carrier": "str", "tracking_number": "str"}
BILLING = {"address": ADDRESS, "email": "str", "name": "str", "phone": "str", "tax_id": "str"}
CARD = {"number": "str", "exp_month": "int", "exp_year": "int", "cvc": "str", "networks": "any"}
REDISPLAY = enum("always", "limited", "unspecified")
PM_DATA = {
    "type": "str",
    "card": CARD,
    "billing_details": BILLING,
    "metadata": "metadata",
    "allow_redisplay": REDISPLAY,
}
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
CUSTOMER_CREATE = {**CUSTOMER_UPDATE, "payment_method": "str"}
SFU = enum("on_session", "off_session", "")
CAPTURE_METHOD = enum("automatic", "automatic_async", "manual")
PI_COMMON = {
    "amount": "int",
    "currency": "str",
    "customer": "str",
    "payment_method": "str",
    "payment_method_data": PM_DATA,
    "payment_method_types": ["str"],
    "payment_method_options": "any",
    "setup_future_usage": SFU,
    "capture_method": CAPTURE_METHOD,
    "metadata": "metadata",
    "description": "str",
    "receipt_email": "str",
    "shipping": SHIPPING,
    "statement_descriptor": "str",
    "statement_descriptor_suffix": "str",
    "transfer_group": "str",
    **EXPAND,
}
PI_CREATE = {
    **PI_COMMON,
    "confirm": "bool",
    "off_session": "str",
    "automatic_payment_methods": {"enabled": "bool", "allow_redirects": enum("always", "never")},
    "confirmation_method": enum("automatic", "manual"),
    "return_url": "str",
    "error_on_requires_action": "bool",
    "use_stripe_sdk": "bool",
    "mandate_data": "any",
}
PI_UPDATE = PI_COMMON
PI_CONFIRM = {
    "payment_method": "str",
    "payment_method_data": PM_DATA,
    "payment_method_options": "any",
    "payment_method_types": ["str"],
    "off_session": "str",
    "return_url": "str",
    "setup_future_usage": SFU,
    "receipt_email": "str",
    "shipping": SHIPPING,
    "capture_method": CAPTURE_METHOD,
    "client_secret": "str",
    "error_on_requires_action": "bool",
    "use_stripe_sdk": "bool",
    "mandate_data": "any",
    **EXPAND,
}
PI_CANCEL = {
    "cancellation_reason": enum("duplicate", "fraudulent", "requested_by_customer", "abandoned"),
    **EXPAND,
}
PI_CAPTURE = {
    "amount_to_capture": "int",
    "metadata": "metadata",
    "statement_descriptor": "str",
    "statement_descriptor_suffix": "str",
    "final_capture": "bool",
    **EXPAND,
}
PI_RETRIEVE = {"client_secret": "str", **EXPAND}
WE_CREATE = {
    "url": "str",
    "enabled_events": ["str"],
    "description": "str",
    "metadata": "metadata",
    "api_version": "str",
    "connect": "bool",
    **EXPAND,
}
WE_UPDATE = {
    "url": "str",
    "enabled_events": ["str"],
    "description": "str",
    "metadata": "metadata",
    "disabled": "bool",
    **EXPAND,
}

CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
AMOUNT_MUTABLE = ("requires_payment_method", "requires_confirmation", "requires_action")

PREFIXES = {
    "cus": ("customers", "customer"),
    "pm": ("payment_methods", "PaymentMethod"),
    "pi": ("payment_intents", "payment_intent"),
    "ch": ("charges", "charge"),
    "re": ("refunds", "refund"),
    "evt": ("events", "event"),
    "we": ("webhook_endpoints", "webhook endpoint"),
}

AUTH_FAILURE_MESSAGE = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new "
    "PaymentMethod to attempt to fulfill this PaymentIntent again."
)
PM_CONSUMED_MESSAGE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, "
    "shared with a connected account without Customer attachment, or was detached from a Customer. It may "
    "not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first."
)


def _opt(value: Any) -> Any:
    """Stripe treats an empty string as "unset"."""
    return None if value == "" else value


class StripeAPI:
    def __init__(self, state: EmulatorState) -> None:
        self.s = state
        self.refunds = Refunds(self)
        R = self._route
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any], bool]] = [
            R("POST", "/v1/customers", self.create_customer),
            R("GET", "/v1/customers", self.list_customers),
            R("GET", "/v1/customers/{id}", self.retrieve_customer),
            R("POST", "/v1/customers/{id}", self.update_customer),
            R("DELETE", "/v1/customers/{id}", self.delete_customer),
            R("GET", "/v1/customers/{id}/payment_methods", self.list_customer_payment_methods),
            R("GET", "/v1/customers/{id}/payment_methods/{pm}", self.retrieve_customer_payment_method),
            R("POST", "/v1/payment_methods", self.create_payment_method, publishable=True),
            R("GET", "/v1/payment_methods", self.list_payment_methods),
            R("GET", "/v1/payment_methods/{id}", self.retrieve_payment_method),
            R("POST", "/v1/payment_methods/{id}", self.update_payment_method),
            R("POST", "/v1/payment_methods/{id}/attach", self.attach_payment_method),
            R("POST", "/v1/payment_methods/{id}/detach", self.detach_payment_method),
            R("POST", "/v1/payment_intents", self.create_payment_intent),
            R("GET", "/v1/payment_intents", self.list_payment_intents),
            R("GET", "/v1/payment_intents/{id}", self.retrieve_payment_intent, publishable=True),
            R("POST", "/v1/payment_intents/{id}", self.update_payment_intent),
            R("POST", "/v1/payment_intents/{id}/confirm", self.confirm_payment_intent, publishable=True),
            R("POST", "/v1/payment_intents/{id}/cancel", self.cancel_payment_intent),
            R("POST", "/v1/payment_intents/{id}/capture", self.capture_payment_intent),
            R("GET", "/v1/charges", self.list_charges),
            R("GET", "/v1/charges/{id}", self.retrieve_charge),
            R("POST", "/v1/charges/{id}", self.update_charge),
            R("GET", "/v1/charges/{id}/refunds", self.refunds.list_for_charge),
            R("POST", "/v1/refunds", self.refunds.create),
            R("GET", "/v1/refunds", self.refunds.list),
            R("GET", "/v1/refunds/{id}", self.refunds.retrieve),
            R("POST", "/v1/refunds/{id}", self.refunds.update),
            R("GET", "/v1/events", self.list_events),
            R("GET", "/v1/events/{id}", self.retrieve_event),
            R("POST", "/v1/webhook_endpoints", self.create_webhook_endpoint),
            R("GET", "/v1/webhook_endpoints", self.list_webhook_endpoints),
            R("GET", "/v1/webhook_endpoints/{id}", self.retrieve_webhook_endpoint),
            R("POST", "/v1/webhook_endpoints/{id}", self.update_webhook_endpoint),
            R("DELETE", "/v1/webhook_endpoints/{id}", self.delete_webhook_endpoint),
        ]

    @staticmethod
    def _route(method: str, template: str, handler: Callable[..., Any], *, publishable: bool = False):
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        return method, re.compile(f"^{pattern}/?$"), handler, publishable

    # --- dispatch ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict[str, Any], ctx: Ctx) -> tuple[int, dict[str, Any]]:
        for r_method, pattern, handler, publishable in self.routes:
            m = pattern.match(path)
            if m and r_method == method:
                if ctx.key_kind == "publishable" and not publishable:
                    raise auth_error(PUBLISHABLE_FORBIDDEN)
                with self.s.lock:
                    return 200, handler(ctx, params, **m.groupdict())
        raise invalid(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            status=404,
        )

    # --- helpers -----------------------------------------------------------------------------
    def render(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
        if obj.get("object") == "charge":
            refunds = [self.render(self.s.store.refunds[r]) for r in reversed(obj["_refund_ids"])]
            out["refunds"] = {
                "object": "list",
                "data": refunds,
                "has_more": False,
                "total_count": len(refunds),
                "url": f"/v1/charges/{obj['id']}/refunds",
            }
        return out

    def output(self, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        out = self.render(obj)
        for path in params.get("expand") or []:
            self._expand(out, path.split("."), path)
        return out

    def _lookup_any(self, obj_id: str) -> dict[str, Any] | None:
        prefix = obj_id.split("_", 1)[0]
        if prefix not in PREFIXES:
            return None
        return getattr(self.s.store, PREFIXES[prefix][0]).get(obj_id)

    def _expand(self, obj: dict[str, Any], parts: list[str], full: str) -> None:
        head, rest = parts[0], parts[1:]
        if obj.get("object") == "list" and head == "data":
            if rest:
                for item in obj["data"]:
                    self._expand(item, rest, full)
            return
        if head not in obj:
            raise invalid(f"This property cannot be expanded ({full}).", param="expand")
        value = obj[head]
        if isinstance(value, str):
            target = self._lookup_any(value)
            if target is None:
                raise invalid(f"This property cannot be expanded ({full}).", param="expand")
            obj[head] = value = self.render(target)
        elif value is not None and not isinstance(value, dict):
            raise invalid(f"This property cannot be expanded ({full}).", param="expand")
        if rest and isinstance(value, dict):
            self._expand(value, rest, full)

    def get(self, kind: str, obj_id: str, param: str | None = "id", *, status: int = 404) -> dict[str, Any]:
        store_name, label = PREFIXES[kind]
        obj = getattr(self.s.store, store_name).get(obj_id)
        if obj is None or obj.get("deleted"):
            raise missing(label, obj_id, param, status=status)
        return obj

    def emit(
        self, ctx: Ctx | None, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> None:
        self.s.emit(
            type_,
            self.render(obj),
            request_id=ctx.request_id if ctx else None,
            idempotency_key=ctx.idempotency_key if ctx else None,
            previous_attributes=previous,
        )

    def paginate(self, items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
        """``items`` newest first, as Stripe lists are."""
        limit = params.get("limit")
        if limit is None:
            limit = 10
        if not 1 <= limit <= 100:
            raise invalid(
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                param="limit",
                code="parameter_invalid_integer",
            )
        items = self._filter_created(items, params.get("created"))
        ids = [o["id"] for o in items]
        if params.get("starting_after") and params.get("ending_before"):
            raise invalid("You may only specify one of these parameters: ending_before, starting_after.")
        if params.get("starting_after"):
            sa = params["starting_after"]
            if sa not in ids:
                raise missing("object", sa, "starting_after", status=400)
            window = items[ids.index(sa) + 1 :]
            page, has_more = window[:limit], len(window) > limit
        elif params.get("ending_before"):
            eb = params["ending_before"]
            if eb not in ids:
                raise missing("object", eb, "ending_before", status=400)
            window = items[: ids.index(eb)]
            page, has_more = window[-limit:], len(window) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        result = {"object": "list", "data": [self.render(o) for o in page], "has_more": has_more, "url": url}
        for path in params.get("expand") or []:
            self._expand(result, path.split("."), path)
        return result

    @staticmethod
    def _filter_created(items: list[dict[str, Any]], created: Any) -> list[dict[str, Any]]:
        if created is None or created == "":
            return items
        ops: dict[str, int] = {}
        try:
            if isinstance(created, dict):
                for op, v in created.items():
                    if op not in ("gt", "gte", "lt", "lte"):
                        raise invalid(f"Received unknown parameter: created[{op}]", code="parameter_unknown")
                    ops[op] = int(v)
            else:
                ops["eq"] = int(created)
        except (TypeError, ValueError):
            raise invalid(
                f"Invalid integer: {created}", param="created", code="parameter_invalid_integer"
            ) from None
        checks = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
            "eq": lambda a, b: a == b,
        }
        return [o for o in items if all(checks[op](o["created"], v) for op, v in ops.items())]

    @staticmethod
    def newest_first(values: Any) -> list[dict[str, Any]]:
        return list(reversed(list(values)))

    @staticmethod
    def apply_metadata(obj: dict[str, Any], metadata: dict[str, str] | None) -> None:
        if metadata is None:
            return
        if metadata == {}:
            obj["metadata"] = {}
            return
        for k, v in metadata.items():
            if v == "":
                obj["metadata"].pop(k, None)
            else:
                obj["metadata"][k] = v

    # --- amounts ------------------------------------------------------------------------------
    @staticmethod
    def check_currency(currency: str | None) -> str:
        if not currency:
            raise missing_param("currency")
        cur = currency.lower()
        if cur not in MINIMUMS:
            raise invalid(
                f"Invalid currency: {currency}. The emulator supports: {', '.join(sorted(MINIMUMS))}.",
                param="currency",
            )
        return cur

    @staticmethod
    def check_amount(amount: int | None, currency: str, param: str = "amount") -> int:
        if amount is None:
            raise missing_param(param)
        if amount < 1:
            raise invalid(
                "This value must be greater than or equal to 1.",
                param=param,
                code="parameter_invalid_integer",
            )
        minimum = MINIMUMS[currency]
        if amount < minimum:
            unit = "" if currency in ZERO_DECIMAL else " "
            raise invalid(
                f"Amount must be at least {format_amount(minimum, currency)}{unit}{currency}",
                param=param,
                code="amount_too_small",
            )
        if amount > MAX_AMOUNT:
            raise invalid(
                f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)} {currency}",
                param=param,
                code="amount_too_large",
            )
        return amount

    # === customers ============================================================================
    def create_customer(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, CUSTOMER_CREATE)
        self._check_email(p.get("email"))
        pm = None
        if p.get("payment_method"):
            pm = self.resolve_payment_method(ctx, p["payment_method"], "payment_method")
            if pm["customer"]:
                raise invalid(
                    "The payment method you provided has already been attached to a customer.",
                    param="payment_method",
                )
        cus = objects.customer(p)
        self.apply_metadata(cus, p.get("metadata"))
        default_pm = (p.get("invoice_settings") or {}).get("default_payment_method")
        if default_pm and (pm is None or default_pm not in (pm["id"], p["payment_method"])):
            raise invalid(
                f"The customer does not have a payment method with the ID {default_pm}. "
                "The payment method must be attached to the customer.",
                param="invoice_settings[default_payment_method]",
            )
        self.s.store.customers[cus["id"]] = cus
        self.emit(ctx, "customer.created", cus)
        if pm is not None:
            self._attach(ctx, pm, cus)
            if default_pm:
                cus["invoice_settings"]["default_payment_method"] = pm["id"]
        return self.output(cus, p)

    @staticmethod
    def _check_email(email: str | None) -> None:
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise invalid(f"Invalid email address: {email}", param="email", code="email_invalid")

    def retrieve_customer(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        cus = self.s.store.customers.get(id)
        if cus is None:
            raise missing("customer", id)
        if cus.get("deleted"):
            return {"id": id, "object": "customer", "deleted": True}
        return self.output(cus, p)

    def update_customer(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, CUSTOMER_UPDATE)
        cus = self.get("cus", id)
        self._check_email(p.get("email"))
        previous: dict[str, Any] = {}
        before = self.render(cus)
        for field in ("email", "name", "phone", "description", "shipping", "balance", "tax_exempt"):
            if field in p:
                cus[field] = _opt(p[field]) if field != "balance" else (p[field] or 0)
        if "tax_exempt" in p and not cus["tax_exempt"]:
            cus["tax_exempt"] = "none"
        if "address" in p:
            if p["address"] is None:
                cus["address"] = None
            else:
                cus["address"] = cus["address"] or objects.empty_address()
                cus["address"].update({k: _opt(v) for k, v in p["address"].items()})
        if "preferred_locales" in p:
            cus["preferred_locales"] = p["preferred_locales"]
        if "invoice_settings" in p and p["invoice_settings"] is not None:
            inv = p["invoice_settings"]
            if "default_payment_method" in inv:
                dpm = _opt(inv["default_payment_method"])
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
                cus["invoice_settings"]["footer"] = _opt(inv["footer"])
        self.apply_metadata(cus, p.get("metadata"))
        after = self.render(cus)
        for k, v in before.items():
            if after.get(k) != v:
                previous[k] = v
        if previous:
            self.emit(ctx, "customer.updated", cus, previous)
        return self.output(cus, p)

    def delete_customer(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        validate(params, {})
        cus = self.get("cus", id)
        snapshot = self.render(cus)
        for pm in self.s.store.payment_methods.values():
            if pm["customer"] == id:
                pm["customer"] = None
                pm["_consumed"] = True
        cus["deleted"] = True
        self.s.emit(
            "customer.deleted", snapshot, request_id=ctx.request_id, idempotency_key=ctx.idempotency_key
        )
        return {"id": id, "object": "customer", "deleted": True}

    def list_customers(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "email": "str"})
        items = [c for c in self.newest_first(self.s.store.customers.values()) if not c.get("deleted")]
        if p.get("email"):
            items = [c for c in items if c["email"] == p["email"]]
        return self.paginate(items, p, "/v1/customers")

    def list_customer_payment_methods(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {**LIST, "type": "str", "allow_redisplay": REDISPLAY})
        self.get("cus", id, "customer")
        items = self._payment_methods_of(id, p.get("type"))
        return self.paginate(items, p, f"/v1/customers/{id}/payment_methods")

    def retrieve_customer_payment_method(
        self, ctx: Ctx, params: dict[str, Any], id: str, pm: str
    ) -> dict[str, Any]:
        p = validate(params, EXPAND)
        self.get("cus", id, "customer")
        obj = self.s.store.payment_methods.get(pm)
        if obj is None or obj["customer"] != id:
            raise missing("PaymentMethod", pm, "payment_method")
        return self.output(obj, p)

    def _payment_methods_of(self, customer_id: str | None, type_: str | None) -> list[dict[str, Any]]:
        items = self.newest_first(self.s.store.payment_methods.values())
        if customer_id:
            items = [pm for pm in items if pm["customer"] == customer_id]
        if type_:
            items = [pm for pm in items if pm["type"] == type_]
        return items

    # === payment methods ======================================================================
    def _new_payment_method(self, p: dict[str, Any], param_prefix: str = "") -> dict[str, Any]:
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
        self.apply_metadata(pm, p.get("metadata"))
        self.s.store.payment_methods[pm["id"]] = pm
        return pm

    def _token_payment_method(self, token: str) -> dict[str, Any]:
        card = card_for(TOKENS[token])
        year = time.gmtime().tm_year + 3
        pm = objects.payment_method(card, 12, year, True, {})
        self.s.store.payment_methods[pm["id"]] = pm
        return pm

    def resolve_payment_method(self, ctx: Ctx, pm_id: str, param: str) -> dict[str, Any]:
        """A stored PaymentMethod, or a fresh one for a ``pm_card_*`` test token."""
        if pm_id in TOKENS:
            return self._token_payment_method(pm_id)
        return self.get("pm", pm_id, param)

    def create_payment_method(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**PM_DATA, **EXPAND, "payment_method": "str", "customer": "str"})
        if p.get("payment_method") or p.get("customer"):
            raise invalid(
                "Cloning PaymentMethods (payment_method/customer) is not supported by the emulator.",
                param="payment_method",
            )
        pm = self._new_payment_method(p)
        return self.output(pm, p)

    def retrieve_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.output(self.resolve_payment_method(ctx, id, "payment_method"), p)

    def update_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
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
        pm = self.get("pm", id, "payment_method")
        before = self.render(pm)
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
        self.apply_metadata(pm, p.get("metadata"))
        after = self.render(pm)
        previous = {k: v for k, v in before.items() if after.get(k) != v}
        if previous and pm["customer"]:
            self.emit(ctx, "payment_method.updated", pm, previous)
        return self.output(pm, p)

    def _attach(self, ctx: Ctx | None, pm: dict[str, Any], cus: dict[str, Any]) -> None:
        pm["customer"] = cus["id"]
        self.emit(ctx, "payment_method.attached", pm)

    def attach_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {"customer": "str", **EXPAND})
        if not p.get("customer"):
            raise missing_param("customer")
        cus = self.get("cus", p["customer"], "customer")
        pm = self.resolve_payment_method(ctx, id, "payment_method")
        if pm["customer"] == cus["id"]:
            return self.output(pm, p)
        if pm["customer"]:
            raise invalid(
                "The payment method you provided has already been attached to a customer.",
                param="payment_method",
            )
        if pm["_consumed"]:
            raise invalid(PM_CONSUMED_MESSAGE, param="payment_method")
        self._attach(ctx, pm, cus)
        return self.output(pm, p)

    def detach_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        pm = self.get("pm", id, "payment_method")
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
        self.emit(ctx, "payment_method.detached", pm, previous)
        return self.output(pm, p)

    def list_payment_methods(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "customer": "str", "type": "str"})
        if p.get("customer"):
            self.get("cus", p["customer"], "customer")
        items = self._payment_methods_of(p.get("customer"), p.get("type"))
        if not p.get("customer"):
            items = [pm for pm in items if pm["customer"]]
        return self.paginate(items, p, "/v1/payment_methods")

    # === payment intents ======================================================================
    def _check_pm_usable(self, pm: dict[str, Any], customer_id: str | None) -> None:
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

    def _pm_from_params(self, ctx: Ctx, p: dict[str, Any]) -> dict[str, Any] | None:
        if p.get("payment_method") and p.get("payment_method_data"):
            raise invalid(
                "You may only specify one of these parameters: payment_method, payment_method_data."
            )
        if p.get("payment_method_data"):
            return self._new_payment_method(p["payment_method_data"], "payment_method_data")
        if p.get("payment_method"):
            return self.resolve_payment_method(ctx, p["payment_method"], "payment_method")
        return None

    @staticmethod
    def _parse_off_session(value: Any) -> bool:
        if value is None or value in ("", "false"):
            return False
        if value in ("true", "one_off", "recurring"):
            return True
        raise invalid(f"Invalid off_session: {value}", param="off_session")

    @staticmethod
    def _check_pm_types(types: list[str] | None) -> None:
        for t in types or []:
            if t != "card":
                raise invalid(
                    f'The payment method type "{t}" is invalid. The emulator supports: card.',
                    param="payment_method_types",
                    code="payment_intent_invalid_parameter",
                )

    def create_payment_intent(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, PI_CREATE)
        currency = self.check_currency(p.get("currency"))
        if p.get("amount") is None:
            raise missing_param("amount")
        p["currency"] = currency
        self.check_amount(p["amount"], currency)
        if p.get("customer"):
            self.get("cus", p["customer"], "customer", status=400)
        off_session = self._parse_off_session(p.get("off_session"))
        if off_session and not p.get("confirm"):
            raise invalid("off_session can only be used when confirm=true.", param="off_session")
        if p.get("return_url") and not p.get("confirm"):
            raise invalid("return_url can only be used when confirm=true.", param="return_url")
        self._check_pm_types(p.get("payment_method_types"))
        apm = p.get("automatic_payment_methods") or {}
        if apm and p.get("payment_method_types"):
            raise invalid(
                "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
                param="automatic_payment_methods",
            )
        automatic = bool(apm.get("enabled")) if apm else not p.get("payment_method_types")
        pm = self._pm_from_params(ctx, p)
        if pm is not None:
            self._check_pm_usable(pm, p.get("customer"))
        pi = objects.payment_intent(p, automatic)
        if apm.get("allow_redirects") and pi["automatic_payment_methods"]:
            pi["automatic_payment_methods"]["allow_redirects"] = apm["allow_redirects"]
        self.apply_metadata(pi, p.get("metadata"))
        if pm is not None:
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
        self.s.store.payment_intents[pi["id"]] = pi
        self.emit(ctx, "payment_intent.created", pi)
        if p.get("confirm"):
            confirm_params = {
                k: v for k, v in p.items() if k not in ("payment_method", "payment_method_data")
            }
            self._confirm(ctx, pi, confirm_params, off_session)
        return self.output(pi, p)

    def _check_client_secret(self, ctx: Ctx, pi: dict[str, Any], client_secret: str | None) -> None:
        if client_secret is None:
            if ctx.key_kind == "publishable":
                raise auth_error(PUBLISHABLE_FORBIDDEN)
            return
        if client_secret != pi["client_secret"]:
            raise invalid(
                "The client_secret provided does not match any associated PaymentIntent on this account. "
                "Ensure the publishable key used belongs to the same account that created the PaymentIntent.",
                param="client_secret",
                code="payment_intent_invalid_parameter",
            )

    def retrieve_payment_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_RETRIEVE)
        pi = self.get("pi", id, "intent")
        self._check_client_secret(ctx, pi, p.get("client_secret"))
        return self.output(pi, p)

    def update_payment_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_UPDATE)
        pi = self.get("pi", id, "intent")
        status = pi["status"]
        money_fields = {
            "amount",
            "currency",
            "payment_method",
            "payment_method_data",
            "capture_method",
            "setup_future_usage",
            "payment_method_types",
            "customer",
        }
        touched = money_fields & set(p)
        if touched and status not in AMOUNT_MUTABLE:
            raise state_error(
                f"This PaymentIntent's {sorted(touched)[0]} could not be updated because it has a status of {status}. "
                "You may only update the amount, currency, payment method, customer or capture method of a PaymentIntent "
                f"with one of the following statuses: {', '.join(AMOUNT_MUTABLE)}.",
                param=sorted(touched)[0],
                code="payment_intent_unexpected_state",
            )
        currency = self.check_currency(p["currency"]) if p.get("currency") else pi["currency"]
        amount = p["amount"] if p.get("amount") is not None else pi["amount"]
        if "amount" in p or "currency" in p:
            self.check_amount(amount, currency)
        if p.get("customer"):
            self.get("cus", p["customer"], "customer", status=400)
            if pi["customer"] and pi["customer"] != p["customer"]:
                raise invalid(
                    "You cannot change the customer of a PaymentIntent once it has been set.",
                    param="customer",
                )
        self._check_pm_types(p.get("payment_method_types"))
        customer = p.get("customer") or pi["customer"]
        pm = self._pm_from_params(ctx, p)
        if pm is not None:
            self._check_pm_usable(pm, customer)
        pi["amount"], pi["currency"], pi["customer"] = amount, currency, customer
        for field in (
            "description",
            "receipt_email",
            "shipping",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "transfer_group",
            "setup_future_usage",
        ):
            if field in p:
                pi[field] = _opt(p[field])
        if p.get("capture_method"):
            pi["capture_method"] = p["capture_method"]
        if p.get("payment_method_types"):
            pi["payment_method_types"] = p["payment_method_types"]
            pi["automatic_payment_methods"] = None
        self.apply_metadata(pi, p.get("metadata"))
        if pm is not None:
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
            pi["next_action"] = None
            pi["_three_ds_passed"] = False
        elif "payment_method" in p and p["payment_method"] == "":
            pi["payment_method"] = None
            pi["status"] = "requires_payment_method"
        return self.output(pi, p)

    def confirm_payment_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_CONFIRM)
        pi = self.get("pi", id, "intent")
        self._check_client_secret(ctx, pi, p.get("client_secret"))
        if ctx.key_kind == "publishable" and p.get("off_session"):
            raise auth_error(PUBLISHABLE_FORBIDDEN)
        off_session = self._parse_off_session(p.get("off_session"))
        for field in ("receipt_email", "shipping", "setup_future_usage"):
            if field in p:
                pi[field] = _opt(p[field])
        if p.get("capture_method"):
            pi["capture_method"] = p["capture_method"]
        self._confirm(ctx, pi, p, off_session)
        return self.output(pi, p)

    def _confirm(self, ctx: Ctx, pi: dict[str, Any], p: dict[str, Any], off_session: bool) -> None:
        if pi["status"] not in CONFIRMABLE:
            raise state_error(
                f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.render(pi)},
            )
        pm = (
            self._pm_from_params(ctx, p)
            if (p.get("payment_method") or p.get("payment_method_data"))
            else None
        )
        if pm is not None:
            self._check_pm_usable(pm, pi["customer"])
            if pi["payment_method"] != pm["id"]:
                pi["_three_ds_passed"] = False
            pi["payment_method"] = pm["id"]
        if not pi["payment_method"]:
            raise state_error(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                "PaymentIntent, specify a payment method with `payment_method` or `payment_method_data`.",
                param="payment_method",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.render(pi)},
            )
        pm = self.s.store.payment_methods[pi["payment_method"]]
        if p.get("return_url"):
            pi["_return_url"] = p["return_url"]
        pi["_off_session"] = off_session
        card = card_for(pm["_number"])
        needs_auth = card.three_ds == "always" or (
            card.three_ds == "unless_setup" and not (pm["_setup"] and off_session)
        )
        if needs_auth and not pi["_three_ds_passed"]:
            if off_session or p.get("error_on_requires_action"):
                self._decline(
                    ctx,
                    pi,
                    pm,
                    (
                        "authentication_required",
                        "authentication_required",
                        "Your card was declined. This transaction requires authentication.",
                    ),
                )
            self._require_action(ctx, pi)
            return
        self._authorize(ctx, pi, pm)

    def _require_action(self, ctx: Ctx, pi: dict[str, Any]) -> None:
        challenge = f"{ctx.base_url}/_emulator/three_d_secure/{pi['id']}?client_secret={pi['client_secret']}"
        pi["status"] = "requires_action"
        pi["last_payment_error"] = None
        if pi["_return_url"]:
            pi["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"return_url": pi["_return_url"], "url": challenge},
            }
        else:
            pi["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "source": new_id("src"),
                    "stripe_js": challenge,
                },
            }
        self.emit(ctx, "payment_intent.requires_action", pi)

    def _decline(
        self, ctx: Ctx | None, pi: dict[str, Any], pm: dict[str, Any], failure: tuple[str, str, str]
    ) -> None:
        code, decline_code, message = failure
        ch = objects.charge(pi, pm, status="failed", failure=failure, three_ds=pi["_three_ds_passed"])
        self.s.store.charges[ch["id"]] = ch
        pm_snapshot = self.render(pm)
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "charge": ch["id"],
            "doc_url": "https://stripe.com/docs/error-codes/" + code.replace("_", "-"),
            "advice_code": ch["outcome"]["advice_code"],
            "payment_method": pm_snapshot,
        }
        pi.update(
            status="requires_payment_method",
            last_payment_error=error,
            latest_charge=ch["id"],
            payment_method=None,
            next_action=None,
            _three_ds_passed=False,
        )
        self.emit(ctx, "charge.failed", ch)
        self.emit(ctx, "payment_intent.payment_failed", pi)
        raise StripeError(
            402,
            "card_error",
            message,
            code=code,
            decline_code=decline_code,
            extra={
                "charge": ch["id"],
                "advice_code": ch["outcome"]["advice_code"],
                "payment_intent": self.render(pi),
                "payment_method": pm_snapshot,
            },
        )

    def _authorize(self, ctx: Ctx | None, pi: dict[str, Any], pm: dict[str, Any]) -> None:
        card = card_for(pm["_number"])
        if card.decline:
            self._decline(ctx, pi, pm, card.decline)
        manual = pi["capture_method"] == "manual"
        delay_ms = self.s.config["processing_delay_ms"]
        if not manual and delay_ms > 0:
            ch = objects.charge(pi, pm, status="pending", three_ds=pi["_three_ds_passed"])
            self.s.store.charges[ch["id"]] = ch
            pi.update(
                status="processing",
                latest_charge=ch["id"],
                next_action=None,
                last_payment_error=None,
                processing={"card": {}, "type": "card"},
            )
            self.emit(ctx, "payment_intent.processing", pi)
            pi_id, request_ctx = pi["id"], ctx
            self.s.scheduler.schedule(delay_ms / 1000, lambda: self._finish_processing(pi_id, request_ctx))
            return
        ch = objects.charge(pi, pm, status="succeeded", three_ds=pi["_three_ds_passed"])
        self.s.store.charges[ch["id"]] = ch
        pi["latest_charge"] = ch["id"]
        self._settle(ctx, pi, pm, ch)

    def _finish_processing(self, pi_id: str, ctx: Ctx | None) -> None:
        with self.s.lock:
            pi = self.s.store.payment_intents.get(pi_id)
            if pi is None or pi["status"] != "processing":
                return
            ch = self.s.store.charges[pi["latest_charge"]]
            pm = self.s.store.payment_methods[ch["payment_method"]]
            ch["status"] = "succeeded"
            ch["paid"] = True
            self._settle(ctx, pi, pm, ch)

    def _settle(self, ctx: Ctx | None, pi: dict[str, Any], pm: dict[str, Any], ch: dict[str, Any]) -> None:
        manual = pi["capture_method"] == "manual"
        pi.update(next_action=None, last_payment_error=None, processing=None)
        if not manual:
            ch.update(captured=True, amount_captured=ch["amount"], balance_transaction=new_id("txn"))
        self.emit(ctx, "charge.succeeded", ch)
        # Save / consume the card the way Stripe does.
        if pi["setup_future_usage"]:
            pm["_setup"] = True
        if pi["customer"] and pi["setup_future_usage"] and not pm["customer"]:
            cus = self.s.store.customers.get(pi["customer"])
            if cus is not None and not cus.get("deleted"):
                self._attach(ctx, pm, cus)
        if not pm["customer"]:
            pm["_consumed"] = True
        if manual:
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
            self.emit(ctx, "payment_intent.amount_capturable_updated", pi)
        else:
            pi.update(status="succeeded", amount_received=pi["amount"], amount_capturable=0)
            self.emit(ctx, "payment_intent.succeeded", pi)

    def complete_three_d_secure(self, pi_id: str, outcome: str) -> dict[str, Any]:
        """Finish the 3-D Secure challenge of a PaymentIntent in ``requires_action``."""
        with self.s.lock:
            pi = self.get("pi", pi_id, "payment_intent")
            if pi["status"] != "requires_action":
                raise state_error(
                    f"This PaymentIntent has a status of {pi['status']}; only a PaymentIntent in requires_action "
                    "has a 3-D Secure challenge to complete.",
                    code="payment_intent_unexpected_state",
                )
            pm = self.s.store.payment_methods[pi["payment_method"]]
            if outcome == "complete":
                pi["_three_ds_passed"] = True
                try:
                    self._authorize(None, pi, pm)
                except StripeError:
                    pass  # the decline is recorded on the PaymentIntent
            elif outcome == "fail":
                pi.update(
                    status="requires_payment_method",
                    next_action=None,
                    payment_method=None,
                    last_payment_error={
                        "type": "invalid_request_error",
                        "code": "payment_intent_authentication_failure",
                        "message": AUTH_FAILURE_MESSAGE,
                        "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
                        "payment_method": self.render(pm),
                    },
                )
                self.emit(None, "payment_intent.payment_failed", pi)
            else:
                raise invalid("outcome must be 'complete' or 'fail'", param="outcome")
            return self.render(pi)

    def cancel_payment_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_CANCEL)
        pi = self.get("pi", id, "intent")
        if pi["status"] not in CANCELABLE:
            raise state_error(
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.render(pi)},
            )
        if pi["status"] == "requires_capture" and pi["latest_charge"]:
            ch = self.s.store.charges[pi["latest_charge"]]
            ch.update(refunded=True, amount_refunded=ch["amount"])
        if pi["status"] == "processing" and pi["latest_charge"]:
            ch = self.s.store.charges[pi["latest_charge"]]
            ch.update(status="failed", paid=False)
        pi.update(
            status="canceled",
            canceled_at=objects.now(),
            cancellation_reason=p.get("cancellation_reason"),
            next_action=None,
            amount_capturable=0,
            processing=None,
        )
        self.emit(ctx, "payment_intent.canceled", pi)
        return self.output(pi, p)

    def capture_payment_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_CAPTURE)
        pi = self.get("pi", id, "intent")
        if pi["status"] != "requires_capture":
            raise state_error(
                f"This PaymentIntent could not be captured because it has a status of {pi['status']}. Only a "
                "PaymentIntent with one of the following statuses may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.render(pi)},
            )
        amount = p.get("amount_to_capture")
        if amount is None:
            amount = pi["amount_capturable"]
        if amount < 1:
            raise invalid(
                "This value must be greater than or equal to 1.",
                param="amount_to_capture",
                code="parameter_invalid_integer",
            )
        if amount > pi["amount_capturable"]:
            raise invalid(
                f"The amount to capture ({amount}) is greater than the amount capturable ({pi['amount_capturable']}).",
                param="amount_to_capture",
                code="amount_too_large",
            )
        ch = self.s.store.charges[pi["latest_charge"]]
        released = ch["amount"] - amount
        ch.update(
            captured=True,
            amount_captured=amount,
            amount_refunded=released,
            refunded=released > 0 and amount == 0,
            balance_transaction=new_id("txn"),
        )
        self.apply_metadata(pi, p.get("metadata"))
        pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self.emit(ctx, "charge.captured", ch)
        self.emit(ctx, "payment_intent.succeeded", pi)
        return self.output(pi, p)

    def list_payment_intents(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "customer": "str"})
        items = self.newest_first(self.s.store.payment_intents.values())
        if p.get("customer"):
            items = [o for o in items if o["customer"] == p["customer"]]
        return self.paginate(items, p, "/v1/payment_intents")

    # === charges ==============================================================================
    def retrieve_charge(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.output(self.get("ch", id, "charge"), p)

    def update_charge(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {"metadata": "metadata", "description": "str", "receipt_email": "str", **EXPAND})
        ch = self.get("ch", id, "charge")
        for field in ("description", "receipt_email"):
            if field in p:
                ch[field] = _opt(p[field])
        self.apply_metadata(ch, p.get("metadata"))
        return self.output(ch, p)

    def list_charges(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "customer": "str", "payment_intent": "str"})
        items = self.newest_first(self.s.store.charges.values())
        for f in ("customer", "payment_intent"):
            if p.get(f):
                items = [o for o in items if o[f] == p[f]]
        return self.paginate(items, p, "/v1/charges")

    # === events ===============================================================================
    def retrieve_event(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.output(self.get("evt", id, "id"), p)

    def list_events(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "type": "str", "types": ["str"], "delivery_success": "bool"})
        if p.get("type") and p.get("types"):
            raise invalid("You may only specify one of these parameters: type, types.")
        patterns = p.get("types") or ([p["type"]] if p.get("type") else [])
        items = self.newest_first(self.s.store.events.values())
        if patterns:
            items = [e for e in items if any(self._type_matches(pat, e["type"]) for pat in patterns)]
        if p.get("delivery_success") is not None:
            want = p["delivery_success"]
            items = [e for e in items if (e["pending_webhooks"] == 0) == want]
        return self.paginate(items, p, "/v1/events")

    @staticmethod
    def _type_matches(pattern: str, type_: str) -> bool:
        if pattern.endswith("*"):
            return type_.startswith(pattern[:-1])
        return pattern == type_

    # === webhook endpoints ====================================================================
    @staticmethod
    def _check_enabled_events(events: list[str]) -> None:
        for ev in events:
            if ev != "*" and not re.match(r"^[a-z_]+(\.[a-z_]+)+$", ev):
                raise invalid(f"Invalid event type: {ev}", param="enabled_events")

    def create_webhook_endpoint(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, WE_CREATE)
        if not p.get("url"):
            raise missing_param("url")
        if not re.match(r"^https?://", p["url"]):
            raise invalid(
                f"Invalid URL: {p['url']}. URLs must begin with http:// or https://",
                param="url",
                code="url_invalid",
            )
        if not p.get("enabled_events"):
            raise missing_param("enabled_events")
        self._check_enabled_events(p["enabled_events"])
        ep = self.s.add_webhook_endpoint(
            p["url"],
            enabled_events=p["enabled_events"],
            description=_opt(p.get("description")),
            metadata=p.get("metadata"),
            api_version=_opt(p.get("api_version")),
        )
        return ep  # the only response that includes `secret`

    def _public_endpoint(self, ep: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        out = self.output(ep, p)
        out.pop("secret", None)
        return out

    def retrieve_webhook_endpoint(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self._public_endpoint(self.get("we", id, "webhook_endpoint"), p)

    def update_webhook_endpoint(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, WE_UPDATE)
        ep = self.get("we", id, "webhook_endpoint")
        if p.get("url"):
            ep["url"] = p["url"]
        if p.get("enabled_events"):
            self._check_enabled_events(p["enabled_events"])
            ep["enabled_events"] = p["enabled_events"]
        if "description" in p:
            ep["description"] = _opt(p["description"])
        if p.get("disabled") is not None:
            ep["status"] = "disabled" if p["disabled"] else "enabled"
        self.apply_metadata(ep, p.get("metadata"))
        return self._public_endpoint(ep, p)

    def delete_webhook_endpoint(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        validate(params, {})
        self.get("we", id, "webhook_endpoint")
        del self.s.store.webhook_endpoints[id]
        return {"id": id, "object": "webhook_endpoint", "deleted": True}

    def list_webhook_endpoints(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, LIST)
        items = self.newest_first(self.s.store.webhook_endpoints.values())
        result = self.paginate(items, p, "/v1/webhook_endpoints")
        for ep in result["data"]:
            ep.pop("secret", None)
        return result
