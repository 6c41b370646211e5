"""The Stripe API's core: the route table, dispatch, and what every resource shares (lookup by id,
rendering with ``expand``, events, pagination, metadata).

Each resource's parameters and rules live in its own module, as a class that gets this object:
``_customers``, ``_payment_methods``, ``_payment_intents`` (with ``_confirmation``), ``_charges``,
``_refunds``, ``_events`` (events and webhook endpoints), and Billing: ``_products`` (products and
prices), ``_subscriptions``, ``_invoices``, ``_test_clocks`` (test clocks and the time engine that
runs renewals and retries).
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._charges import Charges
from ._confirmation import Confirmation
from ._customers import Customers
from ._errors import PUBLISHABLE_FORBIDDEN, auth_error, invalid, missing
from ._events import Events, WebhookEndpoints
from ._invoices import InvoicePayments, Invoices
from ._payment_intents import PaymentIntents
from ._payment_methods import PaymentMethods
from ._products import Prices, Products
from ._refunds import Refunds
from ._subscriptions import Subscriptions
from ._test_clocks import TestClocks
from .state import EmulatorState, frozen_at


@dataclass
class Ctx:
    key_kind: str  # "secret" | "publishable" | "internal"
    request_id: str | None
    idempotency_key: str | None
    base_url: str


PREFIXES = {
    "cus": ("customers", "customer"),
    "pm": ("payment_methods", "PaymentMethod"),
    "pi": ("payment_intents", "payment_intent"),
    "ch": ("charges", "charge"),
    "re": ("refunds", "refund"),
    "evt": ("events", "event"),
    "we": ("webhook_endpoints", "webhook endpoint"),
    "prod": ("products", "product"),
    "price": ("prices", "price"),
    "sub": ("subscriptions", "subscription"),
    "si": ("subscription_items", "subscription item"),
    "in": ("invoices", "invoice"),
    "inpay": ("invoice_payments", "invoice payment"),
    # Stripe's message for a missing test clock names its internal object, "billingclock"
    "clock": ("test_clocks", "billingclock"),
}


class StripeAPI:
    def __init__(self, state: EmulatorState) -> None:
        self.s = state
        # Per object type: what ``render`` adds to the stored object (lists built from other
        # objects), and the includable fields Stripe renders only when expanded.
        self.render_hooks: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {}
        self.includables: dict[str, dict[str, Callable[[dict[str, Any]], Any]]] = {}
        self.customers = Customers(self)
        self.payment_methods = PaymentMethods(self)
        self.payment_intents = PaymentIntents(self)
        self.confirmation = Confirmation(self)
        self.charges = Charges(self)
        self.refunds = Refunds(self)
        self.events = Events(self)
        self.webhook_endpoints = WebhookEndpoints(self)
        self.products = Products(self)
        self.prices = Prices(self)
        self.subscriptions = Subscriptions(self)
        self.invoices = Invoices(self)
        self.invoice_payments = InvoicePayments(self)
        self.test_clocks = TestClocks(self)
        R = self._route
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any], bool]] = [
            R("POST", "/v1/customers", self.customers.create),
            R("GET", "/v1/customers", self.customers.list),
            R("GET", "/v1/customers/{id}", self.customers.retrieve),
            R("POST", "/v1/customers/{id}", self.customers.update),
            R("DELETE", "/v1/customers/{id}", self.customers.delete),
            R("GET", "/v1/customers/{id}/payment_methods", self.customers.list_payment_methods),
            R("GET", "/v1/customers/{id}/payment_methods/{pm}", self.customers.retrieve_payment_method),
            R("POST", "/v1/payment_methods", self.payment_methods.create, publishable=True),
            R("GET", "/v1/payment_methods", self.payment_methods.list),
            R("GET", "/v1/payment_methods/{id}", self.payment_methods.retrieve),
            R("POST", "/v1/payment_methods/{id}", self.payment_methods.update),
            R("POST", "/v1/payment_methods/{id}/attach", self.payment_methods.attach),
            R("POST", "/v1/payment_methods/{id}/detach", self.payment_methods.detach),
            R("POST", "/v1/payment_intents", self.payment_intents.create),
            R("GET", "/v1/payment_intents", self.payment_intents.list),
            R("GET", "/v1/payment_intents/{id}", self.payment_intents.retrieve, publishable=True),
            R("POST", "/v1/payment_intents/{id}", self.payment_intents.update),
            R("POST", "/v1/payment_intents/{id}/confirm", self.payment_intents.confirm, publishable=True),
            R("POST", "/v1/payment_intents/{id}/cancel", self.payment_intents.cancel),
            R("POST", "/v1/payment_intents/{id}/capture", self.payment_intents.capture),
            R("GET", "/v1/charges", self.charges.list),
            R("GET", "/v1/charges/{id}", self.charges.retrieve),
            R("POST", "/v1/charges/{id}", self.charges.update),
            R("GET", "/v1/charges/{id}/refunds", self.refunds.list_for_charge),
            R("POST", "/v1/refunds", self.refunds.create),
            R("GET", "/v1/refunds", self.refunds.list),
            R("GET", "/v1/refunds/{id}", self.refunds.retrieve),
            R("POST", "/v1/refunds/{id}", self.refunds.update),
            R("GET", "/v1/events", self.events.list),
            R("GET", "/v1/events/{id}", self.events.retrieve),
            R("POST", "/v1/webhook_endpoints", self.webhook_endpoints.create),
            R("GET", "/v1/webhook_endpoints", self.webhook_endpoints.list),
            R("GET", "/v1/webhook_endpoints/{id}", self.webhook_endpoints.retrieve),
            R("POST", "/v1/webhook_endpoints/{id}", self.webhook_endpoints.update),
            R("DELETE", "/v1/webhook_endpoints/{id}", self.webhook_endpoints.delete),
            R("POST", "/v1/products", self.products.create),
            R("GET", "/v1/products", self.products.list),
            R("GET", "/v1/products/{id}", self.products.retrieve),
            R("POST", "/v1/products/{id}", self.products.update),
            R("DELETE", "/v1/products/{id}", self.products.delete),
            R("POST", "/v1/prices", self.prices.create),
            R("GET", "/v1/prices", self.prices.list),
            R("GET", "/v1/prices/{id}", self.prices.retrieve),
            R("POST", "/v1/prices/{id}", self.prices.update),
            R("POST", "/v1/subscriptions", self.subscriptions.create),
            R("GET", "/v1/subscriptions", self.subscriptions.list),
            R("GET", "/v1/subscriptions/{id}", self.subscriptions.retrieve),
            R("POST", "/v1/subscriptions/{id}", self.subscriptions.update),
            R("DELETE", "/v1/subscriptions/{id}", self.subscriptions.cancel),
            R("GET", "/v1/invoices", self.invoices.list),
            R("GET", "/v1/invoices/{id}", self.invoices.retrieve),
            R("GET", "/v1/invoices/{id}/lines", self.invoices.list_lines),
            R("POST", "/v1/invoices/{id}/pay", self.invoices.pay),
            R("GET", "/v1/invoice_payments", self.invoice_payments.list),
            R("GET", "/v1/invoice_payments/{id}", self.invoice_payments.retrieve),
            R("POST", "/v1/test_helpers/test_clocks", self.test_clocks.create),
            R("GET", "/v1/test_helpers/test_clocks", self.test_clocks.list),
            R("GET", "/v1/test_helpers/test_clocks/{id}", self.test_clocks.retrieve),
            R("DELETE", "/v1/test_helpers/test_clocks/{id}", self.test_clocks.delete),
            R("POST", "/v1/test_helpers/test_clocks/{id}/advance", self.test_clocks.advance),
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
        hook = self.render_hooks.get(obj.get("object", ""))
        if hook is not None:
            hook(obj, out)
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
            include = self.includables.get(obj.get("object", ""), {}).get(head)
            if include is None:
                raise invalid(f"This property cannot be expanded ({full}).", param="expand")
            obj[head] = include(obj)
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

    def clock_time(self, customer_id: str | None) -> int | None:
        """The frozen time of the customer's test clock, or None (no customer, or no clock)."""
        cus = self.s.store.customers.get(customer_id or "")
        clock = self.s.store.test_clocks.get((cus or {}).get("test_clock") or "")
        return clock["frozen_time"] if clock is not None else None

    def at_customer_clock(self, customer_id: str | None) -> contextlib.AbstractContextManager[None]:
        """Stamp what happens inside with the time of the customer's test clock, if it has one."""
        return frozen_at(self.clock_time(customer_id))

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
