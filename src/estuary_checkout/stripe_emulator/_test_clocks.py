"""Test clocks (create, retrieve, list, delete, advance) and the time engine behind ``advance``.

A customer created with ``test_clock`` lives on that clock's time: it, its subscriptions and
invoices, their PaymentIntents' charges and every event about them are stamped with the clock's
``frozen_time``. Advancing a clock runs, in time order, everything due for the subscriptions of its
customers up to the new time, each at its own moment (the clock's ``frozen_time`` is that moment
while it runs):

* a failed renewal's retry, when its invoice's ``next_payment_attempt`` comes (``_invoices``);
* ``customer.subscription.trial_will_end`` three days before a trial ends;
* an ``incomplete`` subscription's expiry, 23 hours after its creation;
* at a period end: the cancellation asked for with ``cancel_at_period_end`` (or ``cancel_at``),
  else the renewal (next period, ``subscription_cycle`` invoice, automatic payment).

Unlike Stripe, where the clock is ``advancing`` for a while and the work happens in the background,
``advance`` does all of it inside the request and answers with the clock ``ready``; the events
``test_helpers.test_clock.advancing`` and ``.ready`` are still both sent.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _billing_objects as billing
from ._errors import api_error, invalid, missing_param
from ._forms import EXPAND, LIST, validate
from ._subscriptions import ENDED, add_interval
from .state import frozen_at

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

DAY = 86400
EXPIRE_INCOMPLETE_AFTER = 23 * 3600
TRIAL_WILL_END_BEFORE = 3 * DAY
# A safety net: one advance never runs more steps than this.
MAX_STEPS = 10_000

Step = tuple[int, int, int, Callable[[], None]]  # (time, rank at equal times, order, action)


class TestClocks:
    """The test clock routes and the time engine; shares the API's state, lock, rendering and events."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    # --- routes --------------------------------------------------------------------------------------
    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {"frozen_time": "int", "name": "str", **EXPAND})
        if p.get("frozen_time") is None:
            raise missing_param("frozen_time")
        clock = billing.test_clock(p, int(time.time()))
        self.s.store.test_clocks[clock["id"]] = clock
        with frozen_at(clock["frozen_time"]):
            self.api.emit(ctx, "test_helpers.test_clock.created", clock)
        return self.api.output(clock, p)

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("clock", id, "test_clock"), p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, LIST)
        items = [c for c in self.api.newest_first(self.s.store.test_clocks.values()) if not c.get("deleted")]
        return self.api.paginate(items, p, "/v1/test_helpers/test_clocks")

    def delete(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        """Delete the clock and, as Stripe does, its customers and their subscriptions and invoices
        (no events for those)."""
        validate(params, {})
        clock = self.api.get("clock", id, "test_clock")
        store = self.s.store
        customers = {c["id"] for c in store.customers.values() if c["test_clock"] == id}
        for cus_id in customers:
            store.customers[cus_id]["deleted"] = True
        for sub in [s for s in store.subscriptions.values() if s["customer"] in customers]:
            for inv in self.api.invoices.of_subscription(sub["id"]):
                store.invoice_payments.pop(inv["_invoice_payment"] or "", None)
                del store.invoices[inv["id"]]
            for item_id in sub["_item_ids"]:
                del store.subscription_items[item_id]
            del store.subscriptions[sub["id"]]
        snapshot = self.api.render(clock)
        clock["deleted"] = True
        with frozen_at(clock["frozen_time"]):
            self.s.emit(
                "test_helpers.test_clock.deleted",
                snapshot,
                request_id=ctx.request_id,
                idempotency_key=ctx.idempotency_key,
            )
        return {"id": id, "object": "test_helpers.test_clock", "deleted": True}

    def advance(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {"frozen_time": "int", **EXPAND})
        if p.get("frozen_time") is None:
            raise missing_param("frozen_time")
        clock = self.api.get("clock", id, "test_clock")
        target = p["frozen_time"]
        if target <= clock["frozen_time"]:
            raise invalid(
                f"The test clock's frozen_time can only move forward: {target} is not after its current "
                f"frozen_time {clock['frozen_time']}.",
                param="frozen_time",
            )
        limit = self._limit(clock)
        if target > limit:
            raise invalid(
                "A test clock cannot be advanced more than two intervals of its shortest subscription "
                f"(two years without subscriptions) at once: frozen_time can be at most {limit}.",
                param="frozen_time",
            )
        clock.update(status="advancing", status_details={"advancing": {"target_frozen_time": target}})
        with frozen_at(clock["frozen_time"]):
            self.api.emit(ctx, "test_helpers.test_clock.advancing", clock)
        self._run(clock, target)
        clock.update(frozen_time=target, status="ready", status_details={})
        with frozen_at(target):
            self.api.emit(ctx, "test_helpers.test_clock.ready", clock)
        return self.api.output(clock, p)

    # --- the time engine -------------------------------------------------------------------------------
    def _subscriptions(self, clock_id: str) -> builtins.list[dict[str, Any]]:
        return [s for s in self.s.store.subscriptions.values() if s["test_clock"] == clock_id]

    def _limit(self, clock: dict[str, Any]) -> int:
        frozen = clock["frozen_time"]
        live = [s for s in self._subscriptions(clock["id"]) if s["status"] not in ENDED]
        if not live:
            return add_interval(frozen, "year", 2)
        limits = []
        for sub in live:
            interval, count = self.api.subscriptions.interval(sub)
            limits.append(add_interval(frozen, interval, 2 * count))
        return min(limits)

    def _run(self, clock: dict[str, Any], target: int) -> None:
        for _ in range(MAX_STEPS):
            due = [step for step in self._steps(clock["id"]) if step[0] <= target]
            if not due:
                return
            at, _, _, action = min(due, key=lambda step: step[:3])
            clock["frozen_time"] = max(clock["frozen_time"], at)
            with frozen_at(clock["frozen_time"]):
                action()
        raise api_error(f"The test clock {clock['id']} needed more than {MAX_STEPS} steps to advance.")

    def _steps(self, clock_id: str) -> Iterator[Step]:
        subs_api, invoices_api = self.api.subscriptions, self.api.invoices
        for order, sub in enumerate(self._subscriptions(clock_id)):
            status = sub["status"]
            if status in ENDED:
                continue
            if status == "incomplete":
                yield (
                    sub["created"] + EXPIRE_INCOMPLETE_AFTER,
                    2,
                    order,
                    partial(subs_api.expire, None, sub),
                )
                continue
            for inv in invoices_api.of_subscription(sub["id"], "open"):
                if inv["next_payment_attempt"] is not None:
                    yield inv["next_payment_attempt"], 0, order, partial(invoices_api.collect, None, inv)
            if status == "trialing" and not sub["_trial_will_end_sent"]:
                warn_at = sub["trial_end"] - TRIAL_WILL_END_BEFORE
                if warn_at > sub["trial_start"]:
                    yield warn_at, 1, order, partial(subs_api.trial_will_end, sub)
            end = subs_api.period_end(sub)
            if sub["cancel_at"] is not None and sub["cancel_at"] <= end:
                yield (
                    sub["cancel_at"],
                    3,
                    order,
                    partial(subs_api.end, None, sub, "cancellation_requested"),
                )
            else:
                yield end, 4, order, partial(subs_api.renew, sub)
