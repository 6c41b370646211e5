"""MembershipWorkflow: one per membership, one run per billing period. Deterministic code only.

The database is the source of truth: Stripe's webhooks update the membership row (memberships
owns that) and then signal `refresh`, which carries nothing but "read the row again". At every
waking point (start, signal, timer) the workflow reads the row (`read_membership`) and acts on
what it finds, so a repeated, late or lost signal changes nothing but when it looks:

* `active`/`trialing`, not `cancel_at_period_end`: a timer to 3 days before the period end, then
  the "renewal upcoming" notice (once per period; none for a period first seen with less than
  3 days left);
* `past_due`/`unpaid`: the "payment failed" notice, once per invoice;
* `canceled`/`incomplete_expired`: the "ended" notice and the workflow completes;
* a new `current_period_end` (the renewal applied): continue-as-new with the same input, so a
  membership that lasts years keeps short histories;
* still the same period an hour after it ended, or still `incomplete` 23 h (+ the hour) after
  the first run started (the start is written with the membership row, so it follows the
  subscription's creation within moments; Stripe expires an unpaid first invoice after 23 h):
  a webhook may have been lost, so `refresh_membership` re-reads the Stripe subscription and
  applies it; if that changes nothing either, it is asked again every 6 hours, never in a
  tight loop.

Notices are sent by `send_membership_notice`, whose dedupe key (`membership:{id}:{kind}:{key}`)
makes them single across retries, repeated signals and runs; the workflow also remembers what
this run sent so a repeated signal does not even call it.

It runs on the bookings task queue, the worker's only one, next to the booking workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from estuary_checkout.workflows.types import MembershipInput, MembershipSnapshot

T = TypeVar("T")

RENEWAL_NOTICE_BEFORE = timedelta(days=3)
# After the period end (or the incomplete deadline) before asking Stripe: the renewal's own
# webhook normally arrives within seconds of it.
PERIOD_END_GRACE = timedelta(hours=1)
INCOMPLETE_EXPIRES_AFTER = timedelta(hours=23)
RECHECK_EVERY = timedelta(hours=6)
# A run that has to keep rechecking (a membership left unpaid for months) starts afresh before
# its history grows long; a renewal does so anyway.
MAX_HISTORY_EVENTS = 2_000

RENEWING = ("active", "trialing")
PAYMENT_FAILED = ("past_due", "unpaid")
ENDED = ("canceled", "incomplete_expired")
# Where a change is due at a deadline (a renewal, a retry's outcome, the first invoice's expiry),
# so its silence past that deadline is worth a look at Stripe. `paused` waits for a signal.
EXPECTS_CHANGE = ("incomplete", *RENEWING, *PAYMENT_FAILED)

RENEWAL_UPCOMING = "membership_renewal_upcoming"
PAYMENT_FAILED_NOTICE = "membership_payment_failed"
ENDED_NOTICE = "membership_ended"

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# The workflow can do nothing without the row: reading retries for as long as it takes.
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["MembershipNotFound"],
)
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=["MembershipNotFound"],
)
# A Stripe read: when Stripe stays unreachable the next recheck (RECHECK_EVERY) tries again.
REFRESH_TIMEOUT = timedelta(minutes=1)
REFRESH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=["MembershipNotFound"],
)


@dataclass
class MembershipNoticeRecord:
    kind: str
    key: str
    at: str  # workflow time, ISO 8601
    result: str  # sent | duplicate | skipped | failed


@dataclass
class MembershipWorkflowStatus:
    """What the `status` query answers (for tests and operators); covers the current run only."""

    membership_id: int
    phase: str
    status: str = ""  # the membership's status as last read
    period_end: str | None = None  # the period this run follows
    cancel_at_period_end: bool = False
    notices: list[MembershipNoticeRecord] = field(default_factory=list)
    refreshes: int = 0  # refresh_membership calls in this run
    next_wake_at: str | None = None  # the next timer (signals wake it earlier)
    last_error: str | None = None

    def sent(self, kind: str) -> list[str]:
        """Keys of this run's notices of one kind that are out (sent now or before)."""
        return [n.key for n in self.notices if n.kind == kind and n.result in ("sent", "duplicate")]


class _Next(Enum):
    WAIT = "wait"
    ENDED = "ended"
    RENEWED = "renewed"


class _NotFound(Exception):
    pass


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {value!r}")
    return parsed


@workflow.defn(name="MembershipWorkflow")
class MembershipWorkflow:
    def __init__(self) -> None:
        self._membership_id = 0
        self._status = MembershipWorkflowStatus(membership_id=0, phase="starting")
        self._wake = False
        self._run_started = datetime.min
        self._period_end: datetime | None = None
        self._renewal_notice_wanted = True
        self._asked: set[tuple[str, str]] = set()  # (kind, key) this run has sent or given up on
        self._refresh_not_before: datetime | None = None

    @workflow.run
    async def run(self, data: MembershipInput) -> MembershipWorkflowStatus:
        self._membership_id = data.membership_id
        self._status = MembershipWorkflowStatus(membership_id=data.membership_id, phase="starting")
        self._run_started = workflow.now()
        try:
            snapshot = await self._read()
            # The period this run follows; another period end in the row means the renewal applied.
            self._period_end = _parse(snapshot.current_period_end)
            self._status.period_end = snapshot.current_period_end
            if self._period_end is not None and self._period_end - workflow.now() < RENEWAL_NOTICE_BEFORE:
                # Too late to give the notice's lead: the period was first seen this close to its end.
                self._renewal_notice_wanted = False
            while True:
                outcome = await self._follow(snapshot)
                if outcome is _Next.ENDED:
                    return self._status
                if outcome is _Next.RENEWED or self._history_long():
                    self._status.phase = "renewed" if outcome is _Next.RENEWED else "continuing"
                    workflow.continue_as_new(data)
                check_at = self._refresh_check_at(snapshot)
                if check_at is not None and check_at <= workflow.now():
                    self._refresh_not_before = workflow.now() + RECHECK_EVERY
                    refreshed = await self._refresh()
                    if refreshed is not None:
                        snapshot = refreshed
                    continue
                await self._sleep_until(self._next_wake(snapshot))
                snapshot = await self._read()
        except _NotFound:
            self._status.phase = "not_found"
            return self._status

    @workflow.signal
    def refresh(self) -> None:
        """The row may have changed: read it again. Carries nothing, so repeating it is harmless."""
        self._wake = True

    @workflow.query
    def status(self) -> MembershipWorkflowStatus:
        return self._status

    async def _follow(self, snapshot: MembershipSnapshot) -> _Next:
        """Act on the row as read: end, hand over to the next period's run, or send what is due."""
        self._status.status = snapshot.status
        self._status.cancel_at_period_end = snapshot.cancel_at_period_end
        if snapshot.status in ENDED:
            self._status.phase = "ended"
            await self._notice(ENDED_NOTICE, snapshot.status)
            return _Next.ENDED
        period_end = _parse(snapshot.current_period_end)
        if period_end != self._period_end:
            if snapshot.status != "incomplete":
                return _Next.RENEWED
            # Not paid yet, so not a renewal: the first period is simply known better now.
            self._period_end = period_end
            self._status.period_end = snapshot.current_period_end
        if snapshot.status in PAYMENT_FAILED and snapshot.latest_invoice_id:
            await self._notice(PAYMENT_FAILED_NOTICE, snapshot.latest_invoice_id)
        notice_at = self._renewal_notice_at(snapshot)
        if notice_at is not None and period_end is not None and notice_at <= workflow.now() < period_end:
            await self._notice(RENEWAL_UPCOMING, snapshot.current_period_end or "")
        self._status.phase = self._phase(snapshot)
        return _Next.WAIT

    def _phase(self, snapshot: MembershipSnapshot) -> str:
        if snapshot.status == "incomplete":
            return "awaiting_first_payment"
        if snapshot.status in PAYMENT_FAILED:
            return "payment_failed"
        if snapshot.status not in RENEWING:
            return snapshot.status
        if self._period_end is not None and workflow.now() >= self._period_end:
            return "renewal_overdue"
        if snapshot.cancel_at_period_end:
            return "ending_at_period_end"
        if self._renewal_notice_at(snapshot) is not None:
            return "awaiting_renewal_notice"
        return "awaiting_renewal"

    def _renewal_notice_at(self, snapshot: MembershipSnapshot) -> datetime | None:
        """When this period's renewal notice is due, or None if it gets none (or has had it)."""
        if (
            not self._renewal_notice_wanted
            or snapshot.status not in RENEWING
            or snapshot.cancel_at_period_end
        ):
            return None
        if self._period_end is None or (RENEWAL_UPCOMING, snapshot.current_period_end) in self._asked:
            return None
        return self._period_end - RENEWAL_NOTICE_BEFORE

    def _refresh_check_at(self, snapshot: MembershipSnapshot) -> datetime | None:
        """When to ask Stripe (through refresh_membership) whether something was missed."""
        if snapshot.status not in EXPECTS_CHANGE:
            return None
        if snapshot.status == "incomplete":
            due = self._run_started + INCOMPLETE_EXPIRES_AFTER + PERIOD_END_GRACE
        elif self._period_end is not None:
            due = self._period_end + PERIOD_END_GRACE
        else:
            return None
        if self._refresh_not_before is not None and self._refresh_not_before > due:
            return self._refresh_not_before
        return due

    def _next_wake(self, snapshot: MembershipSnapshot) -> datetime | None:
        now = workflow.now()
        times = [
            t for t in (self._renewal_notice_at(snapshot), self._refresh_check_at(snapshot)) if t is not None
        ]
        future = [t for t in times if t > now]
        return min(future) if future else None

    async def _sleep_until(self, at: datetime | None) -> None:
        """Until `at` (None: no timer) or a `refresh` signal, whichever comes first."""
        self._status.next_wake_at = at.isoformat() if at is not None else None
        if self._wake:
            return
        timeout = None if at is None else at - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self._wake, timeout=timeout)
        except TimeoutError:
            pass

    def _history_long(self) -> bool:
        info = workflow.info()
        return info.get_current_history_length() > MAX_HISTORY_EVENTS or info.is_continue_as_new_suggested()

    async def _read(self) -> MembershipSnapshot:
        # Cleared before the read: a signal that arrives while it runs wakes the loop again.
        self._wake = False
        while True:
            snapshot = await self._call(
                "read_membership", self._membership_id, result_type=MembershipSnapshot
            )
            if snapshot is not None:
                return snapshot
            # READ_RETRY retries all but non-retryable errors; MembershipNotFound ends the run in
            # _call, anything else (recorded in last_error) is tried again later, not in a loop.
            await workflow.sleep(RECHECK_EVERY)

    async def _refresh(self) -> MembershipSnapshot | None:
        # (the wake flag stays: a signal that came meanwhile still gets its read)
        self._status.refreshes += 1
        return await self._call(
            "refresh_membership",
            self._membership_id,
            result_type=MembershipSnapshot,
            timeout=REFRESH_TIMEOUT,
            retry=REFRESH_RETRY,
        )

    async def _notice(self, kind: str, key: str) -> None:
        """Send a notice once per run; its dedupe key keeps it single across runs and retries."""
        if (kind, key) in self._asked:
            return
        self._asked.add((kind, key))
        at = workflow.now()
        result = await self._call(
            "send_membership_notice", self._membership_id, kind, key, result_type=str, retry=NOTICE_RETRY
        )
        self._status.notices.append(
            MembershipNoticeRecord(kind=kind, key=key, at=at.isoformat(), result=result or "failed")
        )

    async def _call(
        self,
        name: str,
        *args: object,
        result_type: type[T],
        timeout: timedelta = ACTIVITY_TIMEOUT,
        retry: RetryPolicy = READ_RETRY,
    ) -> T | None:
        """Run an activity; a final failure is recorded in the status and answered with None."""
        try:
            result: Any = await workflow.execute_activity(
                name,
                args=list(args),
                result_type=result_type,
                start_to_close_timeout=timeout,
                retry_policy=retry,
            )
            return result  # type: ignore[no-any-return]
        except ActivityError as exc:
            cause = exc.cause or exc
            if isinstance(cause, ApplicationError) and cause.type == "MembershipNotFound":
                raise _NotFound() from exc
            self._status.last_error = f"{name} failed: {cause}"
            workflow.logger.warning(
                "activity %s failed for membership %s: %s", name, self._membership_id, cause
            )
            return None
