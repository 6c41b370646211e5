"""The safety net (SPEC 6): the worker asks Stripe about whatever a lost webhook or a crashed
API may have left behind, and brings the database in line. Each order in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope
from estuary_checkout.orders import repository
from estuary_checkout.orders.service import apply_intent, expire_order
from estuary_checkout.payments.errors import PaymentNotFound
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.refunds import repository as refunds_repo
from estuary_checkout.refunds import service as refunds_service

log = structlog.get_logger(__name__)


async def reconcile(
    session_factory: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    *,
    older_than: timedelta = timedelta(minutes=2),
    now_fn: Callable[[], datetime] = utcnow,
) -> dict[str, int]:
    """Orders left open (dropped webhook, crashed API) are fulfilled or expired; card refunds
    Stripe has not finished with are followed (see `refunds_pending`)."""
    counts = {"checked": 0, "fulfilled": 0, "expired": 0, "unchanged": 0, "errors": 0}
    async for session in session_scope(session_factory):
        orders = await repository.stuck(session, created_before=now_fn() - older_than)
    for stale in orders:
        counts["checked"] += 1
        try:
            async for session in session_scope(session_factory):
                order = await repository.get(session, stale.id)
                if order is None or order.status not in repository.OPEN_STATUSES:
                    counts["unchanged"] += 1
                    continue
                if order.payment_intent_id:
                    try:
                        intent = await gateway.retrieve_intent(order.payment_intent_id)
                    except PaymentNotFound:
                        intent = None  # unknown at Stripe: it can only expire
                    if intent is not None and intent.status == "succeeded":
                        result = await apply_intent(session, gateway, order, intent)
                        counts["fulfilled" if result == "completed" else "unchanged"] += 1
                        continue
                if order.expires_at <= now_fn():
                    result = await expire_order(session, gateway, order.id)
                    counts[
                        "expired"
                        if result == "expired"
                        else "fulfilled"
                        if result == "completed"
                        else "unchanged"
                    ] += 1
                else:
                    counts["unchanged"] += 1
        except Exception as exc:
            counts["errors"] += 1
            log.warning("reconcile_failed", order_id=str(stale.id), error=str(exc)[:300])
    return counts


async def refunds_pending(
    session_factory: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    *,
    older_than: timedelta = timedelta(minutes=2),
    now_fn: Callable[[], datetime] = utcnow,
) -> dict[str, int]:
    """Card refunds still pending at Stripe after `older_than` (their events lost or late):
    re-read each order's refunds and follow them (a failure falls back to store credit)."""
    counts = {"orders": 0, "settled": 0, "errors": 0}
    async for session in session_scope(session_factory):
        waiting = await refunds_repo.card_refunds_pending(session, older_than=now_fn() - older_than)
    for order_id in dict.fromkeys(r.order_id for r in waiting):
        counts["orders"] += 1
        try:
            async for session in session_scope(session_factory):
                await refunds_service.sync_from_stripe(session, gateway, order_id)
                still = [
                    r
                    for r in await refunds_repo.for_order(session, order_id)
                    if r.status in refunds_service.OPEN
                ]
                counts["settled"] += 0 if still else 1
        except Exception as exc:
            counts["errors"] += 1
            log.warning("refund_reconcile_failed", order_id=str(order_id), error=str(exc)[:300])
    return counts
