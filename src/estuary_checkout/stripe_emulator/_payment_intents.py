"""PaymentIntents: create, retrieve, update, confirm, cancel, capture, list.

What confirming does (3-D Secure, authorization, declines, settlement) is in ``_confirmation``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _objects as objects
from ._errors import PUBLISHABLE_FORBIDDEN, auth_error, invalid, missing_param, state_error
from ._forms import EXPAND, LIST, enum, validate
from ._money import check_amount, check_currency, check_step
from ._params import PM_DATA, SHIPPING, opt
from .state import new_id

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

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

CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
AMOUNT_MUTABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


class PaymentIntents:
    """The PaymentIntent routes; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    # --- helpers ------------------------------------------------------------------------------
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

    # --- routes -------------------------------------------------------------------------------
    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, PI_CREATE)
        currency = check_currency(p.get("currency"))
        if p.get("amount") is None:
            raise missing_param("amount")
        p["currency"] = currency
        check_amount(p["amount"], currency)
        if p.get("customer"):
            self.api.get("cus", p["customer"], "customer", status=400)
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
        pm = self.api.payment_methods.from_params(ctx, p)
        if pm is not None:
            self.api.payment_methods.check_usable(pm, p.get("customer"))
        pi = objects.payment_intent(p, automatic)
        if apm.get("allow_redirects") and pi["automatic_payment_methods"]:
            pi["automatic_payment_methods"]["allow_redirects"] = apm["allow_redirects"]
        self.api.apply_metadata(pi, p.get("metadata"))
        if pm is not None:
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
        self.s.store.payment_intents[pi["id"]] = pi
        self.api.emit(ctx, "payment_intent.created", pi)
        if p.get("confirm"):
            confirm_params = {
                k: v for k, v in p.items() if k not in ("payment_method", "payment_method_data")
            }
            self.api.confirmation.confirm(ctx, pi, confirm_params, off_session)
        return self.api.output(pi, p)

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_RETRIEVE)
        pi = self.api.get("pi", id, "intent")
        self._check_client_secret(ctx, pi, p.get("client_secret"))
        return self.api.output(pi, p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_UPDATE)
        pi = self.api.get("pi", id, "intent")
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
        currency = check_currency(p["currency"]) if p.get("currency") else pi["currency"]
        amount = p["amount"] if p.get("amount") is not None else pi["amount"]
        if "amount" in p or "currency" in p:
            check_amount(amount, currency)
        if p.get("customer"):
            self.api.get("cus", p["customer"], "customer", status=400)
            if pi["customer"] and pi["customer"] != p["customer"]:
                raise invalid(
                    "You cannot change the customer of a PaymentIntent once it has been set.",
                    param="customer",
                )
        self._check_pm_types(p.get("payment_method_types"))
        customer = p.get("customer") or pi["customer"]
        pm = self.api.payment_methods.from_params(ctx, p)
        if pm is not None:
            self.api.payment_methods.check_usable(pm, customer)
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
                pi[field] = opt(p[field])
        if p.get("capture_method"):
            pi["capture_method"] = p["capture_method"]
        if p.get("payment_method_types"):
            pi["payment_method_types"] = p["payment_method_types"]
            pi["automatic_payment_methods"] = None
        self.api.apply_metadata(pi, p.get("metadata"))
        if pm is not None:
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
            pi["next_action"] = None
            pi["_three_ds_passed"] = False
        elif "payment_method" in p and p["payment_method"] == "":
            pi["payment_method"] = None
            pi["status"] = "requires_payment_method"
        return self.api.output(pi, p)

    def confirm(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_CONFIRM)
        pi = self.api.get("pi", id, "intent")
        self._check_client_secret(ctx, pi, p.get("client_secret"))
        if ctx.key_kind == "publishable" and p.get("off_session"):
            raise auth_error(PUBLISHABLE_FORBIDDEN)
        off_session = self._parse_off_session(p.get("off_session"))
        changes: dict[str, Any] = {
            f: opt(p[f]) for f in ("receipt_email", "shipping", "setup_future_usage") if f in p
        }
        if p.get("capture_method"):
            changes["capture_method"] = p["capture_method"]
        self.api.confirmation.confirm(ctx, pi, p, off_session, changes)
        return self.api.output(pi, p)

    def cancel(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_CANCEL)
        pi = self.api.get("pi", id, "intent")
        if pi["status"] not in CANCELABLE:
            raise state_error(
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.api.render(pi)},
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
        self.api.emit(ctx, "payment_intent.canceled", pi)
        return self.api.output(pi, p)

    def capture(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, PI_CAPTURE)
        pi = self.api.get("pi", id, "intent")
        if pi["status"] != "requires_capture":
            raise state_error(
                f"This PaymentIntent could not be captured because it has a status of {pi['status']}. Only a "
                "PaymentIntent with one of the following statuses may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.api.render(pi)},
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
        check_step(amount, pi["currency"], "amount_to_capture")
        ch = self.s.store.charges[pi["latest_charge"]]
        released = ch["amount"] - amount
        ch.update(
            captured=True,
            amount_captured=amount,
            amount_refunded=released,
            refunded=released > 0 and amount == 0,
            balance_transaction=new_id("txn"),
        )
        self.api.apply_metadata(pi, p.get("metadata"))
        pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self.api.emit(ctx, "charge.captured", ch)
        self.api.emit(ctx, "payment_intent.succeeded", pi)
        return self.api.output(pi, p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "customer": "str"})
        items = self.api.newest_first(self.s.store.payment_intents.values())
        if p.get("customer"):
            items = [o for o in items if o["customer"] == p["customer"]]
        return self.api.paginate(items, p, "/v1/payment_intents")
