"""Notifications: a row per message (the record and the dedupe point) and a pluggable sender.

Two writers, one table:
* the workflows' notice activities (the booking lifecycle's `send_notification`, the
  membership workflow's `send_membership_notice`) claim, send and mark their notice in one
  transaction (`claim_unsent`), so their rows are never seen committed and unsent;
* services write notices in their own transaction with `enqueue` (sent_at NULL), and the
  worker's `NotificationRelay` sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import transaction, upsert_insert
from estuary_checkout.workflows.models import Notification

log = structlog.get_logger(__name__)

BOOKING_NOTIFICATION_KINDS = ("confirmation", "reminder", "follow_up", "canceled", "rescheduled")
# written by services in their own transaction (not by a workflow); the worker sends them
ORDER_NOTIFICATION_KINDS = ("refund_succeeded", "refund_failed")
# sent by MembershipWorkflow (booking_id NULL; the payload names the membership)
MEMBERSHIP_NOTIFICATION_KINDS = (
    "membership_renewal_upcoming",
    "membership_payment_failed",
    "membership_ended",
)


class NotificationSender(Protocol):
    async def send(self, notification: Notification) -> None: ...


class LogSender:
    """The default channel: one structured log line per notification."""

    channel = "log"

    async def send(self, notification: Notification) -> None:
        log.info(
            "notification",
            kind=notification.kind,
            user_id=notification.user_id,
            booking_id=notification.booking_id,
            dedupe_key=notification.dedupe_key,
            payload=notification.payload,
        )


def booking_dedupe_key(booking_id: int, kind: str, occurrence: int = 0) -> str:
    """`booking:{id}:{kind}`; a rescheduled booking's later reminders and notices get `:{n}`."""
    base = f"booking:{booking_id}:{kind}"
    return base if occurrence == 0 else f"{base}:{occurrence}"


def membership_dedupe_key(membership_id: int, kind: str, key: str) -> str:
    """`membership:{id}:{kind}:{key}`; the key is what makes the notice one of its kind: the
    period end (renewal upcoming), the invoice (payment failed), the ending status (ended)."""
    return f"membership:{membership_id}:{kind}:{key}"


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    user_id: int,
    kind: str,
    payload: dict[str, Any],
    booking_id: int | None = None,
    channel: str = "log",
) -> bool:
    """Write a notice to send, in the caller's transaction (an outbox row: it exists exactly when
    the change it reports does); the worker's notification relay sends it. Once per dedupe key."""
    result = await session.execute(
        upsert_insert(session, Notification)
        .values(
            dedupe_key=dedupe_key,
            user_id=user_id,
            booking_id=booking_id,
            kind=kind,
            channel=channel,
            payload=payload,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id)
    )
    return result.scalar_one_or_none() is not None


async def claim_unsent(
    session: AsyncSession,
    *,
    dedupe_key: str,
    user_id: int,
    booking_id: int | None,
    kind: str,
    channel: str,
    payload: dict[str, Any],
) -> Notification | None:
    """Insert the row if missing and return it locked if it is still unsent, else None.

    The row lock (PostgreSQL) or the write lock (SQLite) is held until the caller commits, so
    two concurrent attempts of one activity cannot both send.
    """
    await session.execute(
        upsert_insert(session, Notification)
        .values(
            dedupe_key=dedupe_key,
            user_id=user_id,
            booking_id=booking_id,
            kind=kind,
            channel=channel,
            payload=payload,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    row = (
        await session.execute(
            select(Notification)
            .where(Notification.dedupe_key == dedupe_key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return None if row.sent_at is not None else row


SEND_TIMEOUT = timedelta(seconds=30)
MAX_SEND_BACKOFF = timedelta(minutes=5)


class NotificationRelay:
    """Sends every unsent notice (any kind), at least once each, oldest first.

    Each notice is locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock),
    sent and marked in its own short transaction, so:
    * two relays never send one notice twice: the second skips a locked row, and a row
      marked meanwhile no longer matches `sent_at IS NULL`;
    * a lock is held for one send, never for a whole batch's, so the lifecycle activity's
      `claim_unsent`, which waits for the row lock, waits for one send at most (it meets the
      relay only on a key a service also enqueued, and then finds it sent: "duplicate");
    * a crash between the send and the commit sends that notice again (at least once).

    A failed send leaves the row unsent; this relay retries it after an exponential backoff
    kept in memory (the table has no attempts column), so a notice that keeps failing does not
    hold up the ones behind it. A restarted worker retries it at once, then backs off again.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        sender: NotificationSender,
        *,
        batch: int = 100,
        send_timeout: timedelta = SEND_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.sender = sender
        self.batch = batch
        self.send_timeout = send_timeout
        self._clock = clock
        # notification id -> (failed attempts, clock time of the next try)
        self._failures: dict[int, tuple[int, float]] = {}

    def backing_off(self) -> dict[int, int]:
        """Failed notices waiting for their next try: id -> failed attempts."""
        now = self._clock()
        return {nid: attempts for nid, (attempts, at) in self._failures.items() if at > now}

    async def send_once(self, stop: asyncio.Event | None = None) -> int:
        """Send up to `batch` unsent notices; returns how many this call sent."""
        waiting = list(self.backing_off())
        async with self.session_factory() as session:
            ids = (
                (
                    await session.execute(
                        select(Notification.id)
                        .where(Notification.sent_at.is_(None), Notification.id.not_in(waiting))
                        .order_by(Notification.id)
                        .limit(self.batch)
                    )
                )
                .scalars()
                .all()
            )
        sent = 0
        for notification_id in ids:
            if stop is not None and stop.is_set():
                break
            sent += await self._send(notification_id)
        return sent

    async def _send(self, notification_id: int) -> int:
        try:
            async with transaction(self.session_factory) as session:
                row = (
                    await session.execute(
                        select(Notification)
                        .where(Notification.id == notification_id, Notification.sent_at.is_(None))
                        .with_for_update(skip_locked=True)
                        .execution_options(populate_existing=True)
                    )
                ).scalar_one_or_none()
                if row is None:  # sent meanwhile, or another relay is sending it now
                    self._failures.pop(notification_id, None)
                    return 0
                await asyncio.wait_for(self.sender.send(row), timeout=self.send_timeout.total_seconds())
                row.sent_at = utcnow()
        except Exception as exc:
            attempts = self._failures.get(notification_id, (0, 0.0))[0] + 1
            delay = min(timedelta(seconds=2 ** min(attempts, 16)), MAX_SEND_BACKOFF)
            self._failures[notification_id] = (attempts, self._clock() + delay.total_seconds())
            log.warning(
                "notification.send_failed",
                notification_id=notification_id,
                attempts=attempts,
                error=f"{type(exc).__name__}: {exc}",
            )
            return 0
        self._failures.pop(notification_id, None)
        return 1

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Send until `stop` is set; a full batch is followed at once by the next."""
        while not stop.is_set():
            sent = 0
            try:
                sent = await self.send_once(stop)
            except Exception:
                log.exception("notification.relay_failed")
            if sent >= self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
