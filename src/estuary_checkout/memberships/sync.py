"""Keeping a membership in step with its Stripe subscription (SPEC 15).

Every event is only a trigger: the subscription (and the invoice an invoice event names) is read
from Stripe again and applied, so duplicate, late and out-of-order events all lead to the same
state. Reading and applying happen under the membership's lock (a write to its row comes first:
on PostgreSQL that locks the row, on SQLite it takes the database's write lock), so two handlers
never apply an older read over a newer one; and a membership that has ended never comes back.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.events import emit
from estuary_checkout.memberships import repository
from estuary_checkout.memberships.errors import MembershipNotFound
from estuary_checkout.memberships.models import ENDED_STATUSES, Membership, MembershipPlan
from estuary_checkout.passes import service as passes_service
from estuary_checkout.payments.billing import InvoiceInfo, SubscriptionInfo
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.types import MembershipSnapshot

log = structlog.get_logger(__name__)

SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
}
INVOICE_EVENTS = {"invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded"}
MEMBERSHIP_EVENTS = SUBSCRIPTION_EVENTS | INVOICE_EVENTS
FROZEN_STATUSES = ("past_due", "unpaid")
USABLE_STATUSES = ("active", "trialing")


def grant_key(membership_id: int, invoice_id: str) -> str:
    return f"membership:{membership_id}:invoice:{invoice_id}"


async def lock(session: AsyncSession, membership_id: int) -> Membership:
    """The membership, locked for the rest of the transaction."""
    touched = await session.execute(
        update(Membership)
        .where(Membership.id == membership_id)
        .values(updated_at=utcnow())
        .returning(Membership.id)
        .execution_options(synchronize_session=False)
    )
    if touched.scalar_one_or_none() is None:
        raise MembershipNotFound(details={"membership_id": membership_id})
    m = await repository.get(session, membership_id)
    assert m is not None
    return m


def _state(m: Membership) -> tuple[Any, ...]:
    return (
        m.status,
        m.current_period_end,
        m.cancel_at_period_end,
        m.latest_invoice_id,
        m.latest_invoice_status,
    )


async def grant(session: AsyncSession, m: Membership, plan: MembershipPlan, inv: InvoiceInfo) -> bool:
    """The period's credits for a paid invoice of this membership, once (unique grant key)."""
    if inv.status != "paid" or inv.subscription_id != m.stripe_subscription_id:
        return False
    start = inv.period_start or m.current_period_start
    end = inv.period_end or m.current_period_end
    if start is None or end is None:
        log.warning("membership_invoice_without_period", membership_id=m.id, invoice_id=inv.id)
        return False
    granted = await passes_service.grant_period(
        session,
        passes_service.PeriodGrant(
            user_id=m.user_id,
            membership_id=m.id,
            grant_key=grant_key(m.id, inv.id),
            service_ids=list(plan.eligible_service_ids),
            sessions=plan.credits_per_period,
            period_start=start,
            period_end=end,
            rollover_cap=plan.rollover_cap,
            frozen=m.status in FROZEN_STATUSES,
        ),
    )
    if granted is not None:
        log.info("membership_credits_granted", membership_id=m.id, invoice_id=inv.id, pass_id=granted)
        await emit.membership_pass_granted(session, granted)
    return granted is not None


async def apply(session: AsyncSession, m: Membership, sub: SubscriptionInfo) -> bool:
    """Apply a fresh read of the subscription (the caller holds the lock); True if anything changed.
    Grants the latest invoice's credits if it is paid, and wakes the membership's workflow."""
    before = _state(m)
    if m.status not in ENDED_STATUSES:
        m.status = sub.status
    if sub.current_period_end and (
        m.current_period_end is None or sub.current_period_end >= m.current_period_end
    ):
        m.current_period_start, m.current_period_end = sub.current_period_start, sub.current_period_end
    m.cancel_at_period_end = sub.cancel_at_period_end
    if m.status in ENDED_STATUSES:
        m.canceled_at, m.ended_at = m.canceled_at or sub.canceled_at, m.ended_at or sub.ended_at
    else:  # a resumed subscription has its canceled_at cleared
        m.canceled_at, m.ended_at = sub.canceled_at, sub.ended_at
    if sub.latest_invoice is not None:
        m.latest_invoice_id, m.latest_invoice_status = sub.latest_invoice.id, sub.latest_invoice.status
    m.stripe_snapshot = {
        k: sub.raw.get(k) for k in ("status", "cancel_at_period_end", "canceled_at", "ended_at")
    } | {
        "latest_invoice": sub.latest_invoice.id if sub.latest_invoice else sub.raw.get("latest_invoice"),
        "current_period_end": int(sub.current_period_end.timestamp()) if sub.current_period_end else None,
    }
    await session.flush()
    if m.status in FROZEN_STATUSES:
        await passes_service.freeze_membership(session, m.id, True)
    elif m.status in USABLE_STATUSES:
        await passes_service.freeze_membership(session, m.id, False)
    plan = await session.get(MembershipPlan, m.plan_id)
    assert plan is not None
    granted = sub.latest_invoice is not None and await grant(session, m, plan, sub.latest_invoice)
    if _state(m) != before:
        m.state_version += 1
        await session.flush()
        await emit.membership_updated(session, m)
    changed = _state(m) != before or granted
    if changed:
        await wake(session, m)
    return changed


async def wake(session: AsyncSession, m: Membership) -> None:
    """A `refresh` signal to the membership's workflow (it re-reads the row); one per change."""
    await outbox.signal_membership_refresh(session, m.id, uuid.uuid4().hex)


async def refresh(session: AsyncSession, gateway: StripeGateway, membership_id: int) -> MembershipSnapshot:
    """Re-read the subscription from Stripe and apply it (the workflow's catch-up for a lost event)."""
    from estuary_checkout.memberships.service import snapshot

    m = await lock(session, membership_id)
    if m.stripe_subscription_id:
        await apply(session, m, await gateway.retrieve_subscription(m.stripe_subscription_id))
    return await snapshot(session, membership_id)


def _subscription_of(event_type: str, obj: dict[str, Any]) -> str | None:
    if event_type in SUBSCRIPTION_EVENTS:
        sid = obj.get("id")
    else:
        sid = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    if isinstance(sid, dict):
        sid = sid.get("id")
    return sid if isinstance(sid, str) else None


async def handle_event(
    session: AsyncSession, gateway: StripeGateway, event_type: str, obj: dict[str, Any]
) -> str:
    """A subscription or invoice event: "processed", or "ignored" when no membership has it."""
    sid = _subscription_of(event_type, obj)
    found = await repository.by_subscription(session, sid) if sid else None
    if found is None:
        return "ignored"
    m = await lock(session, found.id)
    await apply(session, m, await gateway.retrieve_subscription(sid or ""))
    invoice_id = obj.get("id") if event_type in INVOICE_EVENTS else None
    if isinstance(invoice_id, str) and invoice_id != m.latest_invoice_id:
        # an earlier invoice paid late (the latest one was granted by apply above)
        plan = await session.get(MembershipPlan, m.plan_id)
        assert plan is not None
        if await grant(session, m, plan, await gateway.retrieve_invoice(invoice_id)):
            await wake(session, m)
    return "processed"
