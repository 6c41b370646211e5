"""Confirming a PaymentIntent: 3-D Secure, authorization, declines, processing, settlement.

A card that needs authentication sends the intent to ``requires_action`` until the 3-D Secure
control route completes or fails the challenge (off session, or with ``error_on_requires_action``,
it is a 402 ``authentication_required`` instead). A declined card is a 402 and the intent goes back
to ``requires_payment_method``. An approved card settles at once (``succeeded``, or
``requires_capture`` with manual capture), or, with automatic capture while
``processing_delay_ms > 0``, goes through ``processing`` and settles on the scheduler thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _objects as objects
from ._cards import card_for
from ._errors import StripeError, invalid, state_error
from .state import new_id

if TYPE_CHECKING:
    from ._api import Ctx, StripeAPI

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")

AUTH_FAILURE_MESSAGE = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new "
    "PaymentMethod to attempt to fulfill this PaymentIntent again."
)


class Confirmation:
    """What confirming a PaymentIntent does, for its create/confirm routes and the 3-D Secure control route."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.s = api.s

    def confirm(
        self,
        ctx: Ctx | None,
        pi: dict[str, Any],
        p: dict[str, Any],
        off_session: bool,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Confirm ``pi`` with the confirm parameters ``p`` (the create route's, with ``confirm=true``).

        ``changes`` (fields the confirm request sets) are applied only once the confirmation is
        accepted, so a request refused with a 400 leaves the intent as it was. The charge and the
        events of a test clock customer's payment carry the clock's time.
        """
        with self.api.at_customer_clock(pi["customer"]):
            self._confirm(ctx, pi, p, off_session, changes)

    def _confirm(
        self,
        ctx: Ctx | None,
        pi: dict[str, Any],
        p: dict[str, Any],
        off_session: bool,
        changes: dict[str, Any] | None,
    ) -> None:
        if pi["status"] not in CONFIRMABLE:
            raise state_error(
                f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.api.render(pi)},
            )
        pm = (
            self.api.payment_methods.from_params(ctx, p)
            if (p.get("payment_method") or p.get("payment_method_data"))
            else None
        )
        if pm is not None:
            self.api.payment_methods.check_usable(pm, pi["customer"])
            if pi["payment_method"] != pm["id"]:
                pi["_three_ds_passed"] = False
            pi["payment_method"] = pm["id"]
        if not pi["payment_method"]:
            raise state_error(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                "PaymentIntent, specify a payment method with `payment_method` or `payment_method_data`.",
                param="payment_method",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": self.api.render(pi)},
            )
        if changes:
            pi.update(changes)
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

    def _require_action(self, ctx: Ctx | None, pi: dict[str, Any]) -> None:
        assert ctx is not None  # only an on-session confirmation (an API request) asks for 3-D Secure
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
        self.api.emit(ctx, "payment_intent.requires_action", pi)
        if pi.get("_invoice"):
            self.api.invoices.action_required(ctx, pi)

    def _decline(
        self, ctx: Ctx | None, pi: dict[str, Any], pm: dict[str, Any], failure: tuple[str, str, str]
    ) -> None:
        code, decline_code, message = failure
        ch = objects.charge(pi, pm, status="failed", failure=failure, three_ds=pi["_three_ds_passed"])
        self.s.store.charges[ch["id"]] = ch
        pm_snapshot = self.api.render(pm)
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
        self.api.emit(ctx, "charge.failed", ch)
        self.api.emit(ctx, "payment_intent.payment_failed", pi)
        if pi.get("_invoice"):
            self.api.invoices.payment_failed(ctx, pi)
        raise StripeError(
            402,
            "card_error",
            message,
            code=code,
            decline_code=decline_code,
            extra={
                "charge": ch["id"],
                "advice_code": ch["outcome"]["advice_code"],
                "payment_intent": self.api.render(pi),
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
            self.api.emit(ctx, "payment_intent.processing", pi)
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
        self.api.emit(ctx, "charge.succeeded", ch)
        # Save / consume the card the way Stripe does.
        if pi["setup_future_usage"]:
            pm["_setup"] = True
        if pi["customer"] and pi["setup_future_usage"] and not pm["customer"]:
            cus = self.s.store.customers.get(pi["customer"])
            if cus is not None and not cus.get("deleted"):
                self.api.payment_methods.attach_to(ctx, pm, cus)
        if not pm["customer"]:
            pm["_consumed"] = True
        if manual:
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
            self.api.emit(ctx, "payment_intent.amount_capturable_updated", pi)
        else:
            pi.update(status="succeeded", amount_received=pi["amount"], amount_capturable=0)
            self.api.emit(ctx, "payment_intent.succeeded", pi)
            if pi.get("_invoice"):
                self.api.invoices.payment_succeeded(ctx, pi)

    def complete_three_d_secure(self, pi_id: str, outcome: str) -> dict[str, Any]:
        """Finish the 3-D Secure challenge of a PaymentIntent in ``requires_action``."""
        with (
            self.s.lock,
            self.api.at_customer_clock(self.s.store.payment_intents.get(pi_id, {}).get("customer")),
        ):
            pi = self.api.get("pi", pi_id, "payment_intent")
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
                        "payment_method": self.api.render(pm),
                    },
                )
                self.api.emit(None, "payment_intent.payment_failed", pi)
                if pi.get("_invoice"):
                    self.api.invoices.payment_failed(None, pi)
            else:
                raise invalid("outcome must be 'complete' or 'fail'", param="outcome")
            return self.api.render(pi)
