"""Subscriptions: create, retrieve, update, cancel, list, and the transitions that invoices and test
clocks drive.

Status machine (``collection_method=charge_automatically``):

```
create ──▶ incomplete ──first invoice paid──▶ active
   │           └─unpaid 23 h after creation──▶ incomplete_expired (first invoice voided)
   └─trial──▶ trialing ──trial end: invoice──▶ active
active ──renewal payment fails──▶ past_due ──a retry (or invoices.pay) succeeds──▶ active
                                     └─the 3rd retry fails──▶ canceled
any live status ──cancel, or the period end with cancel_at_period_end──▶ canceled
```

Renewals, retries, trial ends, period-end cancellations and the expiry of an incomplete
subscription happen when a test clock advances past them (``_test_clocks``); without a test clock
only the expiry happens (on the scheduler, ``subscription_incomplete_expiry_seconds`` after the
creation).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import _billing_objects as billing
from ._errors import invalid, missing, missing_param
from ._forms import EXPAND, LIST, enum, validate
from ._params import opt
from .state import now

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

STATUSES = (
    "active",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
ENDED = ("canceled", "incomplete_expired")
DAY = 86400
MAX_TRIAL_DAYS = 730
ITEM = {"price": "str", "quantity": "int", "metadata": "metadata"}
PAYMENT_SETTINGS = {
    "save_default_payment_method": enum("on_subscription", "off"),
    "payment_method_types": ["str"],
    "payment_method_options": "any",
}
CANCELLATION_DETAILS = {
    "comment": "str",
    "feedback": enum(
        "customer_service",
        "low_quality",
        "missing_features",
        "other",
        "switched_service",
        "too_complex",
        "too_expensive",
        "unused",
        "",
    ),
}
SUB_UPDATE = {
    "cancel_at_period_end": "bool",
    "cancellation_details": CANCELLATION_DETAILS,
    "default_payment_method": "str",
    "description": "str",
    "metadata": "metadata",
    "off_session": "bool",
    "payment_settings": PAYMENT_SETTINGS,
    "proration_behavior": enum("always_invoice", "create_prorations", "none"),
    **EXPAND,
}
SUB_CREATE = {
    **{k: v for k, v in SUB_UPDATE.items() if k != "cancellation_details"},
    "customer": "str",
    "items": [ITEM],
    "currency": "str",
    "collection_method": enum("charge_automatically"),
    "payment_behavior": enum(
        "allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"
    ),
    "trial_end": "str",
    "trial_period_days": "int",
}
SUB_CANCEL = {
    "cancellation_details": CANCELLATION_DETAILS,
    "invoice_now": "bool",
    "prorate": "bool",
    **EXPAND,
}
CANCELED_UPDATABLE = {"metadata", "cancellation_details", "expand"}


def add_interval(anchor: int, interval: str, count: int) -> int:
    """``anchor`` plus ``count`` intervals. Months and years are calendar ones counted from the
    anchor, with the day clamped to the month's end (an anchor on Jan 31 gives Feb 28 or 29, then
    Mar 31, Apr 30, ...), as Stripe's billing cycle anchor."""
    if interval == "day":
        return anchor + count * DAY
    if interval == "week":
        return anchor + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(anchor, UTC)
    year, month0 = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month0 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in before.items() if after.get(k) != v}


class Subscriptions:
    """The subscription routes and transitions; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s
        api.render_hooks["subscription"] = self._render
        api.render_hooks["subscription_item"] = self._render_item

    # --- rendering --------------------------------------------------------------------------------
    def _render(self, sub: dict[str, Any], out: dict[str, Any]) -> None:
        items = [self.api.render(self.s.store.subscription_items[i]) for i in sub["_item_ids"]]
        out["items"] = {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={sub['id']}",
        }

    def _render_item(self, item: dict[str, Any], out: dict[str, Any]) -> None:
        pr = self.s.store.prices[item["_price"]]
        out["price"] = self.api.render(pr)
        out["plan"] = billing.plan(pr)

    # --- helpers ----------------------------------------------------------------------------------
    def items(self, sub: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.s.store.subscription_items[i] for i in sub["_item_ids"]]

    def interval(self, sub: dict[str, Any]) -> tuple[str, int]:
        recurring = self.s.store.prices[self.items(sub)[0]["_price"]]["recurring"]
        return recurring["interval"], recurring["interval_count"]

    def period_end(self, sub: dict[str, Any]) -> int:
        return int(self.items(sub)[0]["current_period_end"])

    def _check_payment_method(self, customer_id: str, pm_id: str, param: str) -> None:
        pm = self.s.store.payment_methods.get(pm_id)
        if pm is None or pm["customer"] != customer_id:
            raise invalid(
                f"The customer does not have a payment method with the ID {pm_id}. "
                "The payment method must be attached to the customer.",
                param=param,
            )

    def _prices(self, p: dict[str, Any]) -> list[tuple[dict[str, Any], int, dict[str, str] | None]]:
        if not p.get("items"):
            raise missing_param("items")
        out = []
        for i, item in enumerate(p["items"]):
            param = f"items[{i}][price]"
            if not item.get("price"):
                raise missing_param(param)
            pr = self.api.get("price", item["price"], param, status=400)
            if pr["type"] != "recurring":
                raise invalid(
                    "The price specified is set to `type=one_time` but this field only accepts prices "
                    "with `type=recurring`.",
                    param=param,
                )
            if not pr["active"]:
                raise invalid(
                    "The price specified is inactive. This field only accepts active prices.", param=param
                )
            quantity = 1 if item.get("quantity") is None else item["quantity"]
            if quantity < 0:
                raise invalid(
                    "This value must be greater than or equal to 0.",
                    param=f"items[{i}][quantity]",
                    code="parameter_invalid_integer",
                )
            out.append((pr, quantity, item.get("metadata")))
        first = out[0][0]
        for pr, _, _ in out[1:]:
            if pr["currency"] != first["currency"]:
                raise invalid("All prices on a subscription must have the same `currency`.", param="items")
            if pr["recurring"]["interval"] != first["recurring"]["interval"] or (
                pr["recurring"]["interval_count"] != first["recurring"]["interval_count"]
            ):
                raise invalid(
                    "All prices on a subscription must have the same `recurring[interval]` and "
                    "`recurring[interval_count]`.",
                    param="items",
                )
        if len({pr["id"] for pr, _, _ in out}) < len(out):
            raise invalid("Cannot add multiple subscription items with the same price.", param="items")
        if p.get("currency") and p["currency"].lower() != first["currency"]:
            raise invalid(
                f"The price's currency ({first['currency']}) does not match the subscription's currency "
                f"({p['currency'].lower()}).",
                param="currency",
            )
        return out

    @staticmethod
    def _trial_end(p: dict[str, Any], start: int) -> int | None:
        if p.get("trial_end") and p.get("trial_period_days") is not None:
            raise invalid("You may only specify one of these parameters: trial_end, trial_period_days.")
        days = p.get("trial_period_days")
        if days is not None:
            if not 0 <= days <= MAX_TRIAL_DAYS:
                raise invalid(
                    f"Trial period days must be between 0 and {MAX_TRIAL_DAYS}.", param="trial_period_days"
                )
            return start + days * DAY if days else None
        value = p.get("trial_end")
        if not value or value == "now":
            return None
        if not value.isdigit() or int(value) <= start:
            raise invalid(
                "Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end"
            )
        if int(value) > start + MAX_TRIAL_DAYS * DAY:
            raise invalid(
                f"Invalid timestamp: can be no more than {MAX_TRIAL_DAYS} days in the future.",
                param="trial_end",
            )
        return int(value)

    # --- routes -----------------------------------------------------------------------------------
    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, SUB_CREATE)
        if not p.get("customer"):
            raise missing_param("customer")
        cus = self.api.get("cus", p["customer"], "customer", status=400)
        behavior = p.get("payment_behavior") or "allow_incomplete"
        if behavior not in ("allow_incomplete", "default_incomplete"):
            raise invalid(
                f"payment_behavior={behavior} is not supported by the Stripe emulator "
                "(allow_incomplete and default_incomplete are).",
                param="payment_behavior",
            )
        prices = self._prices(p)
        if p.get("default_payment_method"):
            self._check_payment_method(cus["id"], p["default_payment_method"], "default_payment_method")
        with self.api.at_customer_clock(cus["id"]):
            start = now()
            trial_end = self._trial_end(p, start)
            sub = billing.subscription(p, cus, prices[0][0]["currency"], trial_end or start)
            self.api.apply_metadata(sub, p.get("metadata"))
            sub["default_payment_method"] = p.get("default_payment_method") or None
            if trial_end:
                sub.update(status="trialing", trial_start=start, trial_end=trial_end, _cycle=-1)
                end = trial_end
            else:
                interval, count = (
                    prices[0][0]["recurring"]["interval"],
                    prices[0][0]["recurring"]["interval_count"],
                )
                end = add_interval(start, interval, count)
            for pr, quantity, metadata in prices:
                item = billing.subscription_item(sub["id"], pr["id"], quantity, start, end)
                self.api.apply_metadata(item, metadata)
                self.s.store.subscription_items[item["id"]] = item
                sub["_item_ids"].append(item["id"])
            if p.get("cancel_at_period_end"):
                self._set_cancel_at_period_end(sub, True)
            self.s.store.subscriptions[sub["id"]] = sub
            inv = self.api.invoices.create_for(sub, "subscription_create", (start, start))
            self.api.emit(ctx, "customer.subscription.created", sub)
            self.api.invoices.finalize(ctx, inv)
            if sub["status"] == "incomplete" and behavior == "allow_incomplete":
                if self.api.invoices.default_payment_method(inv):
                    self.api.invoices.collect(ctx, inv, off_session=bool(p.get("off_session")))
        if sub["status"] == "incomplete" and sub["test_clock"] is None:
            sub_id = sub["id"]
            delay = self.s.config["subscription_incomplete_expiry_seconds"]
            self.s.scheduler.schedule(delay, lambda: self._scheduled_expire(sub_id))
        return self.api.output(sub, p)

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("sub", id), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, SUB_UPDATE)
        sub = self.api.get("sub", id)
        if sub["status"] in ENDED and set(p) - CANCELED_UPDATABLE:
            raise invalid(
                "A canceled subscription can only update its cancellation_details and metadata.", save=True
            )
        dpm = opt(p.get("default_payment_method"))
        if dpm:
            self._check_payment_method(sub["customer"], dpm, "default_payment_method")
        with self.api.at_customer_clock(sub["customer"]):
            before = self.api.render(sub)
            if "default_payment_method" in p:
                sub["default_payment_method"] = dpm
            if "description" in p:
                sub["description"] = opt(p["description"])
            if p.get("cancel_at_period_end") is not None:
                self._set_cancel_at_period_end(sub, p["cancel_at_period_end"])
            self._apply_cancellation_details(sub, p.get("cancellation_details"))
            save_pm = (p.get("payment_settings") or {}).get("save_default_payment_method")
            if save_pm:
                sub["payment_settings"]["save_default_payment_method"] = save_pm
            self.api.apply_metadata(sub, p.get("metadata"))
            previous = _changes(before, self.api.render(sub))
            if previous:
                self.api.emit(ctx, "customer.subscription.updated", sub, previous)
        return self.api.output(sub, p)

    def cancel(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, SUB_CANCEL)
        sub = self.s.store.subscriptions.get(id)
        # Stripe treats a canceled (or expired) subscription as gone for this route.
        if sub is None or sub["status"] in ENDED:
            raise missing("subscription", id)
        with self.api.at_customer_clock(sub["customer"]):
            self._apply_cancellation_details(sub, p.get("cancellation_details"))
            sub["canceled_at"] = None  # canceled now, not at the period end asked for earlier
            self.end(ctx, sub, "cancellation_requested")
        return self.api.output(sub, p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(
            params,
            {
                **LIST,
                "customer": "str",
                "price": "str",
                "status": enum(*STATUSES, "all", "ended"),
                "test_clock": "str",
                "collection_method": enum("charge_automatically", "send_invoice"),
            },
        )
        items = self.api.newest_first(self.s.store.subscriptions.values())
        status = p.get("status")
        if status == "ended":
            items = [s for s in items if s["status"] in ENDED]
        elif status and status != "all":
            items = [s for s in items if s["status"] == status]
        elif not status:
            items = [s for s in items if s["status"] != "canceled"]
        for f in ("customer", "test_clock", "collection_method"):
            if p.get(f):
                items = [s for s in items if s[f] == p[f]]
        if p.get("price"):
            items = [s for s in items if any(i["_price"] == p["price"] for i in self.items(s))]
        return self.api.paginate(items, p, "/v1/subscriptions")

    # --- transitions (invoices, test clocks, customers) ---------------------------------------------
    def _set_cancel_at_period_end(self, sub: dict[str, Any], value: bool) -> None:
        sub["cancel_at_period_end"] = value
        sub["cancel_at"] = self.period_end(sub) if value else None
        sub["canceled_at"] = now() if value else None
        sub["cancellation_details"]["reason"] = "cancellation_requested" if value else None

    @staticmethod
    def _apply_cancellation_details(sub: dict[str, Any], details: dict[str, Any] | None) -> None:
        for k in ("comment", "feedback"):
            if details and k in details:
                sub["cancellation_details"][k] = opt(details[k])

    def on_invoice_paid(
        self, ctx: Ctx | None, sub: dict[str, Any], inv: dict[str, Any], pm_id: str | None
    ) -> None:
        """An invoice of ``sub`` was paid (with ``pm_id``): save the card, activate."""
        if sub["status"] in ENDED:
            return
        before = self.api.render(sub)
        pm = self.s.store.payment_methods.get(pm_id or "")
        saving = sub["payment_settings"]["save_default_payment_method"] == "on_subscription"
        if saving and pm is not None and pm["customer"] == sub["customer"]:
            sub["default_payment_method"] = pm["id"]
        if inv["id"] == sub["latest_invoice"] and sub["status"] in ("incomplete", "past_due", "unpaid"):
            sub["status"] = "active"
        previous = _changes(before, self.api.render(sub))
        if previous:
            self.api.emit(ctx, "customer.subscription.updated", sub, previous)

    def on_invoice_failed(
        self, ctx: Ctx | None, sub: dict[str, Any], inv: dict[str, Any], exhausted: bool
    ) -> None:
        """A payment of an invoice of ``sub`` failed; ``exhausted``: its last automatic retry."""
        if sub["status"] in ENDED or inv["billing_reason"] == "subscription_create":
            return  # the first invoice: the subscription stays incomplete until it expires
        if exhausted:
            self.end(ctx, sub, "payment_failed")
        elif sub["status"] in ("active", "trialing"):
            before = self.api.render(sub)
            sub["status"] = "past_due"
            self.api.emit(ctx, "customer.subscription.updated", sub, _changes(before, self.api.render(sub)))

    def end(self, ctx: Ctx | None, sub: dict[str, Any], reason: str) -> None:
        """Cancel now: ``customer.subscription.deleted``. An incomplete subscription's first invoice is
        voided; the other open invoices stop being collected automatically."""
        t = now()
        for inv in self.api.invoices.of_subscription(sub["id"], "open"):
            if sub["status"] == "incomplete":
                self.api.invoices.void(ctx, inv)
            else:
                inv.update(auto_advance=False, next_payment_attempt=None)
        sub.update(status="canceled", ended_at=t, canceled_at=sub["canceled_at"] or t)
        sub["cancellation_details"]["reason"] = reason
        self.api.emit(ctx, "customer.subscription.deleted", sub)

    def end_all_for_customer(self, ctx: Ctx | None, customer_id: str) -> None:
        """A deleted customer's subscriptions are canceled (as Stripe does)."""
        for sub in list(self.s.store.subscriptions.values()):
            if sub["customer"] == customer_id and sub["status"] not in ENDED:
                self.end(ctx, sub, "cancellation_requested")

    def expire(self, ctx: Ctx | None, sub: dict[str, Any]) -> None:
        """The first invoice stayed unpaid 23 hours: ``incomplete_expired`` (a terminal status), the
        invoice voided, and ``customer.subscription.updated`` (Stripe sends no ``.deleted`` here)."""
        before = self.api.render(sub)
        for inv in self.api.invoices.of_subscription(sub["id"], "open"):
            self.api.invoices.void(ctx, inv)
        t = now()
        sub.update(status="incomplete_expired", ended_at=t, canceled_at=t)
        self.api.emit(ctx, "customer.subscription.updated", sub, _changes(before, self.api.render(sub)))

    def _scheduled_expire(self, sub_id: str) -> None:
        with self.s.lock:
            sub = self.s.store.subscriptions.get(sub_id)
            if sub is not None and sub["status"] == "incomplete":
                self.expire(None, sub)

    def renew(self, sub: dict[str, Any]) -> None:
        """The current period (or the trial) ended: the next period, its invoice, and its payment with
        the default payment method."""
        before = self.api.render(sub)
        first = self.items(sub)[0]
        previous_period = (first["current_period_start"], first["current_period_end"])
        interval, count = self.interval(sub)
        sub["_cycle"] += 1
        start = add_interval(sub["billing_cycle_anchor"], interval, count * sub["_cycle"])
        end = add_interval(sub["billing_cycle_anchor"], interval, count * (sub["_cycle"] + 1))
        for item in self.items(sub):
            item.update(current_period_start=start, current_period_end=end)
        if sub["status"] == "trialing":
            sub["status"] = "active"
        inv = self.api.invoices.create_for(sub, "subscription_cycle", previous_period)
        self.api.emit(None, "customer.subscription.updated", sub, _changes(before, self.api.render(sub)))
        self.api.invoices.finalize(None, inv)
        if inv["status"] == "open":
            self.api.invoices.collect(None, inv)

    def trial_will_end(self, sub: dict[str, Any]) -> None:
        sub["_trial_will_end_sent"] = True
        self.api.emit(None, "customer.subscription.trial_will_end", sub)
