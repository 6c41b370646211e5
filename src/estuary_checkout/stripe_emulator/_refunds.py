"""Refunds: create, retrieve, update, list, and the asynchronous life of a refund after its creation.

A refund's later transitions run on the emulator's scheduler thread (no API request, so their
events carry ``request: {id: null, idempotency_key: null}``):

* ``pending → succeeded``: every refund while ``refund_delay_ms > 0``, and always for Stripe's
  asynchronous-success card (4000000000007726, ``pm_card_pendingRefund``), which stays pending at
  least ``refund_pending_card_delay_ms``;
* ``succeeded → failed``: Stripe's asynchronous-failure card (4000000000005126,
  ``pm_card_refundFail``), ``refund_failure_delay_ms`` after the refund succeeded.

A refund counts in its charge's ``amount_refunded`` from its creation until it fails; a failed
refund's amount can be refunded again. The control routes ``/_emulator/refunds/{id}/succeed`` and
``/fail`` make a transition happen now; a scheduled transition then finds the refund no longer in the
status it expects and does nothing, so no refund ever changes status twice for one cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _objects as objects
from ._cards import card_for
from ._errors import StripeError, invalid, state_error
from ._forms import EXPAND, LIST, enum, validate
from ._money import check_step, format_amount
from .state import new_id

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

REFUND_CREATE = {
    "payment_intent": "str",
    "charge": "str",
    "amount": "int",
    "reason": enum("duplicate", "fraudulent", "requested_by_customer"),
    "metadata": "metadata",
    "instructions_email": "str",
    **EXPAND,
}

# Stripe's documented values of Refund.failure_reason.
FAILURE_REASONS = (
    "lost_or_stolen_card",
    "expired_or_canceled_card",
    "charge_for_pending_refund_disputed",
    "insufficient_funds",
    "declined",
    "merchant_request",
    "unknown",
)
# What the asynchronous-failure card's refunds fail with.
DEFAULT_FAILURE_REASON = "expired_or_canceled_card"


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``data.previous_attributes``: the earlier value of every top-level key that changed."""
    return {k: v for k, v in before.items() if after.get(k) != v}


class Refunds:
    """The refund routes and transitions; shares the API's state, lock, rendering and events."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    # --- routes --------------------------------------------------------------------------------
    def create(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, REFUND_CREATE)
        ch = self._refundable_charge(p)
        # What the charge can still give back: its amount less what is refunded already (which
        # includes the part a partial capture released, as Stripe reports it, and excludes failed
        # refunds).
        remaining = ch["amount"] - ch["amount_refunded"]
        if remaining <= 0:
            raise state_error(f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded")
        amount = p.get("amount")
        if amount is None:
            amount = remaining
        if amount < 1:
            raise invalid(
                "This value must be greater than or equal to 1.",
                param="amount",
                code="parameter_invalid_integer",
            )
        if amount > remaining:
            raise state_error(
                f"Refund amount ({format_amount(amount, ch['currency'])}) is greater than unrefunded amount on "
                f"charge ({format_amount(remaining, ch['currency'])})",
                param="amount",
                code="amount_too_large",
            )
        check_step(amount, ch["currency"])
        behaviour = self._card_behaviour(ch)
        pending_ms = self.s.config["refund_delay_ms"]
        if behaviour == "pending":
            pending_ms = max(pending_ms, self.s.config["refund_pending_card_delay_ms"])
        pending = pending_ms > 0 or behaviour == "pending"
        re_obj = objects.refund(ch, amount, p, "pending" if pending else "succeeded")
        self.s.store.refunds[re_obj["id"]] = re_obj
        charge_before = self.api.render(ch)
        ch["_refund_ids"].append(re_obj["id"])
        self._count_on_charge(ch)
        self.api.emit(ctx, "refund.created", re_obj)
        self.api.emit(ctx, "charge.refunded", ch, self._charge_changes(charge_before, ch))
        re_id = re_obj["id"]
        if pending:
            self.s.scheduler.schedule(pending_ms / 1000, lambda: self._scheduled_succeed(re_id))
        elif behaviour == "fail":
            self._schedule_failure(re_id)
        return self.api.output(re_obj, p)

    def retrieve(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, EXPAND)
        return self.api.output(self.api.get("re", id, "refund"), p)

    def update(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, {"metadata": "metadata", **EXPAND})
        re_obj = self.api.get("re", id, "refund")
        before = dict(re_obj["metadata"])
        self.api.apply_metadata(re_obj, p.get("metadata"))
        if before != re_obj["metadata"]:
            self.api.emit(ctx, "refund.updated", re_obj, {"metadata": before})
        return self.api.output(re_obj, p)

    def list(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        p = validate(params, {**LIST, "payment_intent": "str", "charge": "str"})
        items = self.api.newest_first(self.s.store.refunds.values())
        for f in ("payment_intent", "charge"):
            if p.get(f):
                items = [o for o in items if o[f] == p[f]]
        return self.api.paginate(items, p, "/v1/refunds")

    def list_for_charge(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        p = validate(params, LIST)
        ch = self.api.get("ch", id, "charge")
        items = [self.s.store.refunds[r] for r in reversed(ch["_refund_ids"])]
        return self.api.paginate(items, p, f"/v1/charges/{id}/refunds")

    # --- test helpers (control routes; emulator-only, Stripe has no such API) ----------------------
    def succeed_now(self, re_id: str) -> dict[str, Any]:
        """Settle a ``pending`` refund now (as its delay running out would)."""
        with self.s.lock:
            re_obj = self.api.get("re", re_id, "refund")
            if re_obj["status"] != "pending":
                raise self._unexpected_state(re_obj, "succeed", "pending")
            self._succeed(re_obj)
            return self.api.render(re_obj)

    def fail_now(self, re_id: str, failure_reason: str | None = None) -> dict[str, Any]:
        """Fail a ``pending`` or ``succeeded`` refund of any card now."""
        reason = failure_reason or DEFAULT_FAILURE_REASON
        if reason not in FAILURE_REASONS:
            raise invalid(
                f"Invalid failure_reason: must be one of {', '.join(FAILURE_REASONS)}",
                param="failure_reason",
            )
        with self.s.lock:
            re_obj = self.api.get("re", re_id, "refund")
            if re_obj["status"] not in ("pending", "succeeded"):
                raise self._unexpected_state(re_obj, "fail", "pending or succeeded")
            self._fail(re_obj, reason)
            return self.api.render(re_obj)

    # --- transitions -----------------------------------------------------------------------------
    def _scheduled_succeed(self, re_id: str) -> None:
        with self.s.lock:
            re_obj = self.s.store.refunds.get(re_id)
            if re_obj is not None and re_obj["status"] == "pending":
                self._succeed(re_obj)

    def _scheduled_fail(self, re_id: str) -> None:
        with self.s.lock:
            re_obj = self.s.store.refunds.get(re_id)
            if re_obj is not None and re_obj["status"] == "succeeded":
                self._fail(re_obj, DEFAULT_FAILURE_REASON)

    def _schedule_failure(self, re_id: str) -> None:
        delay_ms = self.s.config["refund_failure_delay_ms"]
        self.s.scheduler.schedule(delay_ms / 1000, lambda: self._scheduled_fail(re_id))

    def _succeed(self, re_obj: dict[str, Any]) -> None:
        before = self.api.render(re_obj)
        re_obj.update(status="succeeded", balance_transaction=new_id("txn"), pending_reason=None)
        re_obj["destination_details"]["card"]["type"] = "refund"
        previous = _changed(before, self.api.render(re_obj))
        self.api.emit(None, "refund.updated", re_obj, previous)
        self.api.emit(None, "charge.refund.updated", re_obj, previous)
        if self._card_behaviour(self.s.store.charges[re_obj["charge"]]) == "fail":
            self._schedule_failure(re_obj["id"])

    def _fail(self, re_obj: dict[str, Any], reason: str) -> None:
        before = self.api.render(re_obj)
        re_obj.update(
            status="failed",
            failure_reason=reason,
            # the balance transaction that gives back what the refund took from the balance (a
            # refund that never left `pending` took nothing)
            failure_balance_transaction=new_id("txn") if re_obj["balance_transaction"] else None,
            pending_reason=None,
        )
        re_obj["destination_details"]["card"]["reference_status"] = "unavailable"
        previous = _changed(before, self.api.render(re_obj))
        self._count_on_charge(self.s.store.charges[re_obj["charge"]])
        self.api.emit(None, "refund.updated", re_obj, previous)
        self.api.emit(None, "charge.refund.updated", re_obj, previous)
        self.api.emit(None, "refund.failed", re_obj)

    # --- helpers ----------------------------------------------------------------------------------
    def _refundable_charge(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("payment_intent") and not p.get("charge"):
            raise invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
            )
        if p.get("payment_intent"):
            pi = self.api.get("pi", p["payment_intent"], "payment_intent", status=400)
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                raise state_error(
                    f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                    param="payment_intent",
                    code="charge_not_refundable"
                    if pi["status"] == "requires_capture"
                    else "payment_intent_unexpected_state",
                )
            ch = self.s.store.charges[pi["latest_charge"]]
            if p.get("charge") and p["charge"] != ch["id"]:
                raise invalid("The charge does not belong to the given payment_intent.", param="charge")
        else:
            ch = self.api.get("ch", p["charge"], "charge", status=400)
        if ch["status"] != "succeeded" or not ch["captured"]:
            raise state_error(
                f"Charge {ch['id']} cannot be refunded: it was not captured.",
                param="charge",
                code="charge_not_refundable",
            )
        return ch

    def _card_behaviour(self, ch: dict[str, Any]) -> str | None:
        pm = self.s.store.payment_methods.get(ch["payment_method"])
        return card_for(pm["_number"]).refund if pm is not None else None

    def _count_on_charge(self, ch: dict[str, Any]) -> None:
        """Recompute the charge's refunded amount: what a partial capture released plus every refund
        that has not failed or been canceled."""
        refunds = [self.s.store.refunds[r] for r in ch["_refund_ids"]]
        live = sum(r["amount"] for r in refunds if r["status"] not in ("failed", "canceled"))
        ch["amount_refunded"] = ch["amount"] - ch["amount_captured"] + live
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]

    def _charge_changes(self, before: dict[str, Any], ch: dict[str, Any]) -> dict[str, Any]:
        after = self.api.render(ch)
        return {k: before[k] for k in ("amount_refunded", "refunded") if before[k] != after[k]}

    @staticmethod
    def _unexpected_state(re_obj: dict[str, Any], action: str, allowed: str) -> StripeError:
        return StripeError(
            400,
            "invalid_request_error",
            f"Refund {re_obj['id']} has a status of {re_obj['status']}; only a refund that is {allowed} "
            f"can {action}.",
        )
