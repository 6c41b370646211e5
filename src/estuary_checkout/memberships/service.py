"""Memberships: plans, subscribing, cancel/resume, and what the workflow reads."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.memberships import repository
from estuary_checkout.memberships.errors import MembershipNotFound
from estuary_checkout.workflows.types import MembershipSnapshot


async def snapshot(session: AsyncSession, membership_id: int) -> MembershipSnapshot:
    m = await repository.get(session, membership_id)
    if m is None:
        raise MembershipNotFound()
    return MembershipSnapshot(
        status=m.status,
        current_period_end=m.current_period_end.isoformat() if m.current_period_end else None,
        cancel_at_period_end=m.cancel_at_period_end,
        latest_invoice_id=m.latest_invoice_id,
        latest_invoice_status=m.latest_invoice_status,
    )
