"""Invoices (retrieve, list, lines, pay) and InvoicePayments (retrieve, list): the invoices a
subscription makes, and what paying them does.

An invoice is created ``draft``, finalized at once (``open``, with a number and, when it is not
free, an ordinary PaymentIntent whose client secret is the includable ``confirmation_secret``), and
becomes ``paid`` when that PaymentIntent succeeds, however it was confirmed: by the client with the
secret (Stripe.js), by ``POST /v1/invoices/{id}/pay``, or by automatic collection (a renewal or a
retry on a test clock). A free invoice is paid at finalization.

A failed automatic collection of a renewal invoice is retried 1, 3 and 7 days after the first
failure (``RETRY_DAYS``: three retries over seven days); when the third retry fails too the
subscription is canceled. A subscription's first invoice is never retried (the subscription
expires instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _billing_objects as billing
from . import _objects as objects
from ._errors import StripeError, invalid, state_error
from ._forms import EXPAND, LIST, enum, validate
from .state import now

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

DAY = 86400
# Automatic retries of a failed renewal payment, in days after the first failure.
RETRY_DAYS = (1, 3, 7)
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
CANCELABLE_PI = ("requires_payment_method", "requires_confirmation", "requires_action")


class Invoices:
    """The invoice routes and invoice lifecycle; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s
        api.includables["invoice"] = {
            "confirmation_secret": self._confirmation_secret,
            "payments": self._payments,
        }

    # --- includable fields (rendered only when expanded) -------------------------------------------
    def _confirmation_secret(self, out: dict[str, Any]) -> dict[str, Any] | None:
        pi = self.s.store.payment_intents.get(self.s.store.invoices[out["id"]]["_payment_intent"] or "")
        if pi is None:
            return None
        return {"client_secret": pi["client_secret"], "type": "payment_intent"}

    def _payments(self, out: dict[str, Any]) -> dict[str, Any]:
        ipay_id = self.s.store.invoices[out["id"]]["_invoice_payment"]
        data = [self.api.render(self.s.store.invoice_payments[ipay_id])] if ipay_id else []
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "total_count": len(data),
            "url": "/v1/invoice_payments",
        }

    # --- building, finalizing, collecting -------------------------------------------------------------
    def of_subscription(self, sub_id: str, status: str | None = None) -> list[dict[str, Any]]:
        return [
            inv
            for inv in self.s.store.invoices.values()
            if inv["parent"]["subscription_details"]["subscription"] == sub_id
            and (status is None or inv["status"] == status)
        ]

    def create_for(self, sub: dict[str, Any], billing_reason: str, period: tuple[int, int]) -> dict[str, Any]:
        """A draft invoice of the subscription's items for their current period (stored, not announced)."""
        cus = self.s.store.customers[sub["customer"]]
        inv = billing.invoice(sub, cus, billing_reason, period)
        for item in self.api.subscriptions.items(sub):
            pr = self.s.store.prices[item["_price"]]
            name = self.s.store.products[pr["product"]]["name"]
            inv["lines"]["data"].append(billing.line_item(inv["id"], sub, item, pr, name))
        total = sum(line["amount"] for line in inv["lines"]["data"])
        inv["lines"]["total_count"] = len(inv["lines"]["data"])
        inv.update(
            amount_due=total,
            amount_remaining=total,
            subtotal=total,
            subtotal_excluding_tax=total,
            total=total,
            total_excluding_tax=total,
        )
        self.s.store.invoices[inv["id"]] = inv
        sub["latest_invoice"] = inv["id"]
        return inv

    def finalize(self, ctx: Ctx | None, inv: dict[str, Any]) -> None:
        """Announce the draft (``invoice.created``), finalize it (``invoice.finalized``, with its
        PaymentIntent), and pay it at once when it is free."""
        self.api.emit(ctx, "invoice.created", inv)
        cus = self.s.store.customers[inv["customer"]]
        t = now()
        inv.update(
            status="open",
            number=f"{cus['invoice_prefix']}-{cus['next_invoice_sequence']:04d}",
            effective_at=t,
            ending_balance=0,
        )
        cus["next_invoice_sequence"] += 1
        inv["status_transitions"]["finalized_at"] = t
        if inv["amount_due"] > 0:
            self._payment_intent(ctx, inv)
        self.api.emit(ctx, "invoice.finalized", inv)
        if inv["amount_due"] == 0:
            self.mark_paid(ctx, inv, None)

    def _payment_intent(self, ctx: Ctx | None, inv: dict[str, Any]) -> dict[str, Any]:
        sub = self.s.store.subscriptions[inv["parent"]["subscription_details"]["subscription"]]
        creation = inv["billing_reason"] == "subscription_create"
        pi = objects.payment_intent(
            {
                "amount": inv["amount_due"],
                "currency": inv["currency"],
                "customer": inv["customer"],
                "description": "Subscription creation" if creation else "Subscription update",
                # saved on the customer by the first payment, for the renewals
                "setup_future_usage": "off_session",
            },
            automatic=False,
        )
        pi["_invoice"] = inv["id"]
        if creation and sub["default_payment_method"]:
            pi.update(payment_method=sub["default_payment_method"], status="requires_confirmation")
        self.s.store.payment_intents[pi["id"]] = pi
        ipay = billing.invoice_payment(inv, pi["id"])
        self.s.store.invoice_payments[ipay["id"]] = ipay
        inv.update(_payment_intent=pi["id"], _invoice_payment=ipay["id"])
        self.api.emit(ctx, "payment_intent.created", pi)
        return pi

    def default_payment_method(self, inv: dict[str, Any]) -> str | None:
        """What automatic collection charges: the subscription's default payment method, else the
        customer's ``invoice_settings.default_payment_method``."""
        sub = self.s.store.subscriptions[inv["parent"]["subscription_details"]["subscription"]]
        cus = self.s.store.customers[inv["customer"]]
        return sub["default_payment_method"] or cus["invoice_settings"]["default_payment_method"]

    def collect(self, ctx: Ctx | None, inv: dict[str, Any], *, off_session: bool = True) -> None:
        """An automatic payment attempt with the default payment method (its outcome is handled by
        ``payment_succeeded`` / ``payment_failed``, which the confirmation calls)."""
        pi = self.s.store.payment_intents[inv["_payment_intent"]]
        if inv["status"] != "open":
            return
        if pi["status"] == "processing":
            inv["next_payment_attempt"] = None  # its settlement decides
            return
        pm_id = self.default_payment_method(inv)
        attempts = inv["attempt_count"]
        if pm_id is not None:
            inv["_attempt"] = "automatic"
            try:
                self.api.confirmation.confirm(ctx, pi, {"payment_method": pm_id}, off_session)
            except StripeError:
                pass  # a decline is recorded by payment_failed
            finally:
                inv.pop("_attempt", None)
        if inv["status"] == "open" and inv["attempt_count"] == attempts and pi["status"] != "processing":
            self._record_failure(ctx, inv, automatic=True)  # no usable payment method: nothing charged

    def mark_paid(self, ctx: Ctx | None, inv: dict[str, Any], pm_id: str | None) -> None:
        t = now()
        inv.update(
            status="paid",
            amount_paid=inv["amount_due"],
            amount_remaining=0,
            attempted=True,
            attempt_count=inv["attempt_count"]
            + (1 if inv["amount_due"] and not inv.pop("_in_action", False) else 0),
            next_payment_attempt=None,
            auto_advance=False,
        )
        inv["status_transitions"]["paid_at"] = t
        ipay = self.s.store.invoice_payments.get(inv["_invoice_payment"] or "")
        if ipay is not None:
            ipay.update(status="paid", amount_paid=inv["amount_due"])
            ipay["status_transitions"]["paid_at"] = t
            self.api.emit(ctx, "invoice_payment.paid", ipay)
        self.api.emit(ctx, "invoice.paid", inv)
        self.api.emit(ctx, "invoice.payment_succeeded", inv)
        sub = self.s.store.subscriptions[inv["parent"]["subscription_details"]["subscription"]]
        self.api.subscriptions.on_invoice_paid(ctx, sub, inv, pm_id)

    def _record_failure(self, ctx: Ctx | None, inv: dict[str, Any], *, automatic: bool) -> None:
        if not inv.pop("_in_action", False):  # else the attempt was counted when it asked for 3-D Secure
            inv["attempt_count"] += 1
        inv["attempted"] = True
        exhausted = False
        if inv["billing_reason"] == "subscription_create":
            inv["next_payment_attempt"] = None
        elif automatic:
            inv["_automatic_attempts"] += 1
            if inv["_first_failed_at"] is None:
                inv["_first_failed_at"] = now()
            n = inv["_automatic_attempts"]
            if n <= len(RETRY_DAYS):
                inv["next_payment_attempt"] = inv["_first_failed_at"] + RETRY_DAYS[n - 1] * DAY
            else:
                exhausted = True
                inv.update(next_payment_attempt=None, auto_advance=False)
        self.api.emit(ctx, "invoice.payment_failed", inv)
        sub = self.s.store.subscriptions[inv["parent"]["subscription_details"]["subscription"]]
        self.api.subscriptions.on_invoice_failed(ctx, sub, inv, exhausted)

    def void(self, ctx: Ctx | None, inv: dict[str, Any]) -> None:
        t = now()
        inv.update(status="void", auto_advance=False, next_payment_attempt=None)
        inv["status_transitions"]["voided_at"] = t
        pi = self.s.store.payment_intents.get(inv["_payment_intent"] or "")
        if pi is not None and pi["status"] in CANCELABLE_PI:
            pi.update(status="canceled", canceled_at=t, cancellation_reason="void_invoice", next_action=None)
            self.api.emit(ctx, "payment_intent.canceled", pi)
        ipay = self.s.store.invoice_payments.get(inv["_invoice_payment"] or "")
        if ipay is not None:
            ipay["status"] = "canceled"
            ipay["status_transitions"]["canceled_at"] = t
        self.api.emit(ctx, "invoice.voided", inv)

    # --- what the confirmation of an invoice's PaymentIntent calls -------------------------------------
    def _open_invoice_of(self, pi: dict[str, Any]) -> dict[str, Any] | None:
        inv = self.s.store.invoices.get(pi.get("_invoice") or "")
        return inv if inv is not None and inv["status"] == "open" else None

    def payment_succeeded(self, ctx: Ctx | None, pi: dict[str, Any]) -> None:
        inv = self._open_invoice_of(pi)
        if inv is not None:
            with self.api.at_customer_clock(inv["customer"]):
                self.mark_paid(ctx, inv, pi["payment_method"])

    def payment_failed(self, ctx: Ctx | None, pi: dict[str, Any]) -> None:
        inv = self._open_invoice_of(pi)
        if inv is not None:
            with self.api.at_customer_clock(inv["customer"]):
                self._record_failure(ctx, inv, automatic=inv.pop("_attempt", None) == "automatic")

    def action_required(self, ctx: Ctx | None, pi: dict[str, Any]) -> None:
        inv = self._open_invoice_of(pi)
        if inv is not None:
            with self.api.at_customer_clock(inv["customer"]):
                inv.update(attempted=True, attempt_count=inv["attempt_count"] + 1, _in_action=True)
                self.api.emit(ctx, "invoice.payment_action_required", inv)

    # --- routes --------------------------------------------------------------------------------------
    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("in", id, "invoice"), p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(
            params,
            {
                **LIST,
                "customer": "str",
                "subscription": "str",
                "status": enum(*INVOICE_STATUSES),
                "collection_method": enum("charge_automatically", "send_invoice"),
                "due_date": "any",
            },
        )
        items = self.api.newest_first(self.s.store.invoices.values())
        for f in ("customer", "status", "collection_method"):
            if p.get(f):
                items = [o for o in items if o[f] == p[f]]
        if p.get("subscription"):
            items = [
                o for o in items if o["parent"]["subscription_details"]["subscription"] == p["subscription"]
            ]
        return self.api.paginate(items, p, "/v1/invoices")

    def list_lines(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, LIST)
        inv = self.api.get("in", id, "invoice")
        return self.api.paginate(inv["lines"]["data"], p, f"/v1/invoices/{id}/lines")

    def pay(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        """Charge an open invoice now (off session unless ``off_session=false``), with
        ``payment_method`` or the default one. A decline is Stripe's 402 card error, after
        ``invoice.payment_failed``."""
        p = validate(params, {"payment_method": "str", "off_session": "bool", **EXPAND})
        inv = self.api.get("in", id, "invoice")
        if inv["status"] == "paid":
            raise StripeError(400, "invalid_request_error", "Invoice is already paid")
        if inv["status"] != "open":
            raise state_error(
                f"You can only pay an open invoice; this invoice has a status of {inv['status']}.",
                code="invoice_not_open",
            )
        pi = self.s.store.payment_intents[inv["_payment_intent"]]
        if pi["status"] == "processing":
            raise state_error(
                "This invoice's payment is processing.", code="invoice_payment_intent_requires_action"
            )
        with self.api.at_customer_clock(inv["customer"]):
            if p.get("payment_method"):
                pm_id = self.api.payment_methods.resolve(ctx, p["payment_method"], "payment_method")["id"]
            else:
                pm_id = pi["payment_method"] or self.default_payment_method(inv)
            if not pm_id:
                raise invalid(
                    "There is no payment method to pay this invoice with: pass `payment_method`, or set the "
                    "subscription's `default_payment_method` or the customer's "
                    "`invoice_settings.default_payment_method`.",
                    param="payment_method",
                )
            off_session = True if p.get("off_session") is None else p["off_session"]
            self.api.confirmation.confirm(ctx, pi, {"payment_method": pm_id}, off_session)
        return self.api.output(inv, p)


class InvoicePayments:
    """The invoice payment routes (one PaymentIntent per invoice here)."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("inpay", id, "invoice_payment"), p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(
            params,
            {
                **LIST,
                "invoice": "str",
                "payment": {"payment_intent": "str", "type": enum("payment_intent")},
                "status": enum("canceled", "open", "paid"),
            },
        )
        items = self.api.newest_first(self.s.store.invoice_payments.values())
        if p.get("invoice"):
            items = [o for o in items if o["invoice"] == p["invoice"]]
        if p.get("status"):
            items = [o for o in items if o["status"] == p["status"]]
        pi_id = (p.get("payment") or {}).get("payment_intent")
        if pi_id:
            items = [o for o in items if o["payment"]["payment_intent"] == pi_id]
        return self.api.paginate(items, p, "/v1/invoice_payments")
