"""The one module that talks to Stripe, through the official SDK's async methods.

Every POST carries an idempotency key derived from our own ids, so a retried call (by the SDK
after a timeout, or by us) can never create a second intent or refund.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe
import structlog

from estuary_checkout.config import Settings
from estuary_checkout.errors import AppError
from estuary_checkout.payments.billing import BillingCalls
from estuary_checkout.payments.errors import (
    CustomerMissing,
    PaymentFailed,
    PaymentMethodNotFound,
    PaymentNotFound,
    PaymentProviderRejected,
    PaymentProviderUnavailable,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Card:
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    customer: str | None


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    amount: int
    currency: str
    customer: str | None
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    payment_method: str | None = None
    next_action: dict[str, Any] | None = None
    last_error_code: str | None = None
    last_error_decline_code: str | None = None
    last_error_message: str | None = None
    latest_charge: str | None = None
    amount_refunded: int = 0
    card: dict[str, Any] | None = None


@dataclass(frozen=True)
class RefundInfo:
    id: str
    amount: int
    currency: str
    status: str
    payment_intent: str | None
    failure_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def refund_from_stripe(refund: Any) -> RefundInfo:
    d = _plain(refund)
    return RefundInfo(
        id=d["id"],
        amount=int(d["amount"]),
        currency=d["currency"],
        status=str(d["status"]),
        payment_intent=_id(d.get("payment_intent")),
        failure_reason=d.get("failure_reason"),
        metadata=dict(d.get("metadata") or {}),
    )


# the reasons Stripe's refund API accepts; ours are kept in the refund's metadata
STRIPE_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _to_dict(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()  # type: ignore[no-any-return]
    return dict(obj)


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        # an expanded object read through _plain() is a plain dict, not an SDK object
        return value.get("id")
    return getattr(value, "id", None)


def _plain(obj: Any) -> dict[str, Any]:
    """SDK objects are not dicts (stripe-python ≥ 13): read them as plain nested dicts."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def intent_from_stripe(pi: Any) -> Intent:
    pi = _plain(pi)
    err = pi.get("last_payment_error") or {}
    charge = pi.get("latest_charge")
    refunded = 0
    if charge is not None and not isinstance(charge, str):
        refunded = int(charge.get("amount_refunded") or 0)
    pm = pi.get("payment_method")
    card = None
    if pm is not None and not isinstance(pm, str):
        raw = pm.get("card") or {}
        card = {k: raw.get(k) for k in ("brand", "last4", "exp_month", "exp_year")}
    return Intent(
        id=pi["id"],
        status=pi["status"],
        amount=int(pi["amount"]),
        currency=pi["currency"],
        customer=_id(pi.get("customer")),
        client_secret=pi.get("client_secret"),
        metadata=dict(pi.get("metadata") or {}),
        payment_method=_id(pi.get("payment_method")),
        next_action=_to_dict(pi.get("next_action")),
        last_error_code=err.get("code") if err else None,
        last_error_decline_code=err.get("decline_code") if err else None,
        last_error_message=err.get("message") if err else None,
        latest_charge=_id(charge),
        amount_refunded=refunded,
        card=card,
    )


def card_from_stripe(pm: Any) -> Card:
    pm = _plain(pm)
    card = pm.get("card") or {}
    return Card(
        id=pm["id"],
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        customer=_id(pm.get("customer")),
    )


class InvalidWebhookSignature(Exception):
    pass


def verify_webhook(
    payload: bytes, signature_header: str | None, secret: str, tolerance: int = 300
) -> dict[str, Any]:
    """Check Stripe's signature (HMAC-SHA256 over "t.payload", timestamp within `tolerance` s)
    and return the event as a plain dict."""
    if not signature_header:
        raise InvalidWebhookSignature("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature_header, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidWebhookSignature(str(exc)) from exc
    import json

    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise InvalidWebhookSignature("body is not JSON") from exc
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
    ):
        raise InvalidWebhookSignature("not a Stripe event")
    return event


class StripeGateway(BillingCalls):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http = stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses={"api": settings.stripe_api_base},
            http_client=self._http,
            max_network_retries=settings.stripe_max_network_retries,
        )

    async def aclose(self) -> None:
        close = getattr(self._http, "close_async", None)
        if close is not None:
            try:
                await close()
            except Exception:
                log.debug("stripe_http_close_failed")

    async def _call(
        self, what: str, fn: Callable[[], Awaitable[T]], *, missing: type[AppError] | None = None
    ) -> T:
        try:
            return await fn()
        except stripe.CardError as exc:
            err = exc.error
            raise PaymentFailed(
                exc.user_message or "The card was declined",
                details={
                    "decline_code": getattr(err, "decline_code", None) if err else None,
                    "stripe_code": exc.code,
                    "payment_intent_id": _id(getattr(err, "payment_intent", None)) if err else None,
                },
            ) from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            log.warning("stripe_unavailable", call=what, error=str(exc))
            raise PaymentProviderUnavailable(details={"call": what}) from exc
        except stripe.APIError as exc:
            log.warning("stripe_api_error", call=what, error=str(exc))
            raise PaymentProviderUnavailable(details={"call": what}) from exc
        except stripe.AuthenticationError as exc:
            log.error("stripe_authentication_failed", call=what)
            raise PaymentProviderUnavailable(
                "The payment provider is misconfigured", details={"call": what}
            ) from exc
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing" and exc.param == "customer":
                raise CustomerMissing(details={"call": what}) from exc
            if exc.code == "resource_missing" and missing is not None:
                raise missing() from exc
            raise PaymentProviderRejected(
                exc.user_message or "The payment provider rejected the request",
                details={"stripe_code": exc.code, "param": exc.param},
            ) from exc
        except stripe.StripeError as exc:
            log.warning("stripe_error", call=what, error=str(exc))
            raise PaymentProviderUnavailable(details={"call": what}) from exc

    # customers -----------------------------------------------------------------------------
    async def create_customer(self, *, user_id: int, email: str | None, replacing: str | None = None) -> str:
        """One customer per user; `replacing` names a customer Stripe no longer knows."""
        params: dict[str, Any] = {"metadata": {"user_id": str(user_id)}}
        if email:
            params["email"] = email
        customer = await self._call(
            "customers.create",
            lambda: self.client.v1.customers.create_async(
                params=params,  # type: ignore[arg-type]
                options={
                    "idempotency_key": f"customer-user-{user_id}"
                    + (f"-after-{replacing}" if replacing else "")
                },
            ),
        )
        return str(customer.id)

    # payment methods -----------------------------------------------------------------------
    async def list_cards(self, customer_id: str) -> list[Card]:
        page = await self._call(
            "payment_methods.list",
            lambda: self.client.v1.payment_methods.list_async(
                params={"customer": customer_id, "type": "card", "limit": 100}
            ),
        )
        return [card_from_stripe(pm) for pm in page.data]

    async def retrieve_card(self, payment_method_id: str) -> Card:
        pm = await self._call(
            "payment_methods.retrieve",
            lambda: self.client.v1.payment_methods.retrieve_async(payment_method_id),
            missing=PaymentMethodNotFound,
        )
        return card_from_stripe(pm)

    async def default_payment_method(self, customer_id: str) -> str | None:
        customer = await self._call(
            "customers.retrieve", lambda: self.client.v1.customers.retrieve_async(customer_id)
        )
        settings = _plain(customer).get("invoice_settings") or {}
        return _id(settings.get("default_payment_method"))

    # payment intents -----------------------------------------------------------------------
    async def create_intent(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        customer_id: str,
        metadata: dict[str, str],
        save_card: bool,
        payment_method_id: str | None,
        description: str | None = None,
        receipt_email: str | None = None,
    ) -> Intent:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "customer": customer_id,
            "metadata": metadata,
        }
        if description:
            params["description"] = description
        if receipt_email:
            params["receipt_email"] = receipt_email
        if save_card:
            params["setup_future_usage"] = "off_session"
        if payment_method_id:
            # a saved card: confirmed now, server side; cards only, so no redirect is needed
            params["payment_method"] = payment_method_id
            params["confirm"] = True
            params["payment_method_types"] = ["card"]
        else:
            params["automatic_payment_methods"] = {"enabled": True}
        pi = await self._call(
            "payment_intents.create",
            lambda: self.client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            ),
            missing=PaymentMethodNotFound,
        )
        return intent_from_stripe(pi)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        pi = await self._call(
            "payment_intents.retrieve",
            lambda: self.client.v1.payment_intents.retrieve_async(
                intent_id,
                params={"expand": ["latest_charge", "payment_method"]},
            ),
            missing=PaymentNotFound,
        )
        return intent_from_stripe(pi)

    async def confirm_intent(self, intent_id: str, *, payment_method_id: str, idempotency_key: str) -> Intent:
        pi = await self._call(
            "payment_intents.confirm",
            lambda: self.client.v1.payment_intents.confirm_async(
                intent_id,
                params={"payment_method": payment_method_id, "expand": ["latest_charge", "payment_method"]},
                options={"idempotency_key": idempotency_key},
            ),
            missing=PaymentMethodNotFound,
        )
        return intent_from_stripe(pi)

    async def cancel_intent(self, intent_id: str, *, idempotency_key: str) -> Intent:
        pi = await self._call(
            "payment_intents.cancel",
            lambda: self.client.v1.payment_intents.cancel_async(
                intent_id,
                params={"cancellation_reason": "abandoned"},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return intent_from_stripe(pi)

    async def refund(
        self,
        *,
        intent_id: str,
        amount: int | None,
        idempotency_key: str,
        reason: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundInfo:
        """Refund (part of) the intent's charge. `idempotency_key` comes from our refund row, so a
        retried call returns the same refund instead of refunding twice."""
        params: dict[str, Any] = {
            "payment_intent": intent_id,
            "metadata": {"reason": reason[:500], **(metadata or {})},
        }
        if reason in STRIPE_REFUND_REASONS:
            params["reason"] = reason
        if amount is not None:
            params["amount"] = amount
        refund = await self._call(
            "refunds.create",
            lambda: self.client.v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            ),
        )
        return refund_from_stripe(refund)

    async def list_refunds(self, intent_id: str) -> list[RefundInfo]:
        page = await self._call(
            "refunds.list",
            lambda: self.client.v1.refunds.list_async(params={"payment_intent": intent_id, "limit": 100}),
        )
        return [refund_from_stripe(r) for r in page.data]

    async def ping(self) -> bool:
        """Is the API reachable with our key? (used by /ready)"""
        try:
            await self.client.v1.customers.list_async(params={"limit": 1})
            return True
        except Exception:
            return False
