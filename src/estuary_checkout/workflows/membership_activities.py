"""The membership workflow's activities: read the row, re-read Stripe, send a notice.

Each is one transaction and safe to run again (Temporal retries an activity whose result it did
not receive, even if the first attempt committed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import transaction
from estuary_checkout.memberships import repository as memberships_repository
from estuary_checkout.memberships import service as memberships_service
from estuary_checkout.memberships import sync
from estuary_checkout.memberships.errors import MembershipNotFound
from estuary_checkout.memberships.models import Membership
from estuary_checkout.workflows.notifications import (
    MEMBERSHIP_NOTIFICATION_KINDS,
    LogSender,
    NotificationSender,
    claim_unsent,
    membership_dedupe_key,
)
from estuary_checkout.workflows.types import MembershipSnapshot


class MembershipActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        gateway: Any,
        sender: NotificationSender | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.gateway = gateway
        self.sender: NotificationSender = sender or LogSender()

    def all(self) -> list[Any]:
        return [self.read_membership, self.refresh_membership, self.send_membership_notice]

    @activity.defn(name="read_membership")
    async def read_membership(self, membership_id: int) -> MembershipSnapshot:
        """The membership as the database holds it now: what the workflow follows."""
        try:
            async with transaction(self.session_factory) as session:
                return await memberships_service.snapshot(session, membership_id)
        except MembershipNotFound as exc:
            raise _not_found(membership_id) from exc

    @activity.defn(name="refresh_membership")
    async def refresh_membership(self, membership_id: int) -> MembershipSnapshot:
        """Re-read the Stripe subscription and apply it to the row (a webhook may have been lost);
        the row as it is afterwards."""
        try:
            async with transaction(self.session_factory) as session:
                snapshot: MembershipSnapshot = await sync.refresh(session, self.gateway, membership_id)
                return snapshot
        except MembershipNotFound as exc:
            raise _not_found(membership_id) from exc

    @activity.defn(name="send_membership_notice")
    async def send_membership_notice(self, membership_id: int, kind: str, key: str) -> str:
        """Write the notice once and send it once: "sent", or "duplicate" when its dedupe key
        (`membership:{id}:{kind}:{key}`) was sent before.

        "skipped" when the row no longer says what the notice would (the workflow read it a
        moment ago; a webhook may have been applied since): no renewal notice for a period that
        no longer renews, no failed-payment notice for an invoice no longer the one due.
        """
        if kind not in MEMBERSHIP_NOTIFICATION_KINDS:
            raise ApplicationError(f"unknown notification kind {kind!r}", non_retryable=True)
        async with transaction(self.session_factory) as session:
            membership = await memberships_repository.get(session, membership_id)
            if membership is None:
                raise _not_found(membership_id)
            if not _still_true(membership, kind, key):
                return "skipped"
            period_end = membership.current_period_end.isoformat() if membership.current_period_end else None
            row = await claim_unsent(
                session,
                dedupe_key=membership_dedupe_key(membership_id, kind, key),
                user_id=membership.user_id,
                booking_id=None,
                kind=kind,
                channel=getattr(self.sender, "channel", "log"),
                payload={
                    "membership_id": membership_id,
                    "plan_id": membership.plan_id,
                    "status": membership.status,
                    "period_end": period_end,
                    "cancel_at_period_end": membership.cancel_at_period_end,
                    "invoice_id": membership.latest_invoice_id,
                    "invoice_status": membership.latest_invoice_status,
                    "amount_cents": membership.amount_cents,
                    "currency": membership.currency,
                },
            )
            if row is None:
                return "duplicate"
            # Sent inside the transaction, as the booking notices are: a failed send stores
            # nothing, a failed commit after the send sends again (at least once).
            await self.sender.send(row)
            row.sent_at = utcnow()
            return "sent"


def _still_true(membership: Membership, kind: str, key: str) -> bool:
    if kind == "membership_renewal_upcoming":
        period_end = membership.current_period_end
        return (
            membership.status in ("active", "trialing")
            and not membership.cancel_at_period_end
            and period_end is not None
            and period_end.isoformat() == key
        )
    if kind == "membership_payment_failed":
        return membership.status in ("past_due", "unpaid") and membership.latest_invoice_id == key
    return membership.status == key  # membership_ended: keyed by the ending status


def _not_found(membership_id: int) -> ApplicationError:
    return ApplicationError(
        f"membership {membership_id} not found", type="MembershipNotFound", non_retryable=True
    )
