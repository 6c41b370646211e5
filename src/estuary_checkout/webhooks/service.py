"""Stripe webhooks: verify, store once by event id, then act on what Stripe says *now*.

The event body is only a trigger: the object is re-read from Stripe, so a stale or forged-looking
payload can never move an order. Claiming the event and acting on it share one transaction, so
concurrent deliveries of one event act once; a failure leaves it claimable for Stripe's retry.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.config import Settings
from estuary_checkout.db.session import session_scope
from estuary_checkout.errors import AppError
from estuary_checkout.memberships import sync as memberships_sync
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.orders import service as orders_service
from estuary_checkout.payments import cards
from estuary_checkout.payments import service as payments_service
from estuary_checkout.payments.errors import PaymentProviderUnavailable
from estuary_checkout.payments.gateway import InvalidWebhookSignature, StripeGateway, verify_webhook
from estuary_checkout.refunds import service as refunds_service
from estuary_checkout.webhooks import repository
from estuary_checkout.webhooks.errors import InvalidSignature

log = structlog.get_logger(__name__)

INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
}
REFUND_EVENTS = {
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
}
# What a webhook endpoint for this service should subscribe to (Stripe's `enabled_events`):
# every other type would only be stored and ignored, at the cost of a request and a transaction.
HANDLED_EVENTS = tuple(
    sorted(INTENT_EVENTS | REFUND_EVENTS | memberships_sync.MEMBERSHIP_EVENTS | {"payment_method.detached"})
)


def _object(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object") or {}
    return obj if isinstance(obj, dict) else {}


async def _process(session: AsyncSession, gateway: StripeGateway, event: dict[str, Any]) -> str:
    etype, obj = event["type"], _object(event)
    if etype in INTENT_EVENTS:
        order = await orders_repo.by_payment_intent(session, str(obj.get("id")))
        if order is None:
            return "ignored"
        if order.status in orders_repo.SETTLED_STATUSES:
            return "processed"  # nothing the intent says can change it: no need to ask Stripe
        intent = await gateway.retrieve_intent(order.payment_intent_id or "")
        mismatched = payments_service.intent_mismatches(order, intent)
        if mismatched:
            log.warning(
                "webhook_intent_mismatch", event_id=event["id"], order_id=str(order.id), mismatched=mismatched
            )
            return "ignored"
        await orders_service.apply_intent(session, gateway, order, intent)
        return "processed"
    if etype in REFUND_EVENTS:
        pi = obj.get("payment_intent")
        order = await orders_repo.by_payment_intent(session, str(pi)) if isinstance(pi, str) else None
        if order is None:
            return "ignored"
        await refunds_service.sync_from_stripe(session, gateway, order.id)
        return "processed"
    if etype in memberships_sync.MEMBERSHIP_EVENTS:
        return await memberships_sync.handle_event(session, gateway, etype, obj)
    if etype == "payment_method.detached":
        return "processed" if await cards.mark_detached(session, str(obj.get("id"))) else "ignored"
    return "ignored"


async def receive(
    factory: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    settings: Settings,
    payload: bytes,
    signature: str | None,
) -> dict[str, Any]:
    try:
        event = verify_webhook(payload, signature, settings.stripe_webhook_secret)
    except InvalidWebhookSignature as exc:
        raise InvalidSignature(details={"reason": str(exc)}) from exc
    object_id = _object(event).get("id")
    async for session in session_scope(factory):
        await repository.store_once(session, event, str(object_id) if object_id else None)
    try:
        async for session in session_scope(factory):
            if not await repository.claim(session, event["id"]):
                return {"received": True, "event_id": event["id"], "status": "duplicate"}
            outcome = await _process(session, gateway, event)
            await repository.finish(session, event["id"], outcome)
    except Exception as exc:
        async for session in session_scope(factory):
            await repository.finish(session, event["id"], "failed", str(exc)[:1000])
        log.warning("webhook_failed", event_id=event["id"], type=event["type"], error=str(exc)[:300])
        if isinstance(exc, AppError) and exc.status_code < 500:
            return {"received": True, "event_id": event["id"], "status": "failed"}
        # 5xx: Stripe redelivers later; the stored event stays claimable
        raise PaymentProviderUnavailable("Could not process the event now; it will be retried") from exc
    return {"received": True, "event_id": event["id"], "status": outcome}
