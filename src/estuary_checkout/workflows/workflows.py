"""Workflow definitions. Deterministic code only: no I/O, no wall clock, no randomness.

Time comes from `workflow.now()`, waiting from timers (`workflow.wait_condition(..., timeout=)`),
and everything that touches the world is an activity called by name, so this module imports
nothing but temporalio and the input types.

Signals only enqueue requests; the run loop handles them one at a time at its waiting points,
so a cancel and a reschedule never run their activities concurrently with each other or with
a notification.

The database is the source of truth for a booking's status and times: the API cancels or moves
a booking under its guards and writes the signal in the same transaction (through the outbox).
The lifecycle therefore follows the database (`read_booking`) rather than the signal's
arguments: a late or repeated signal cannot move a booking back, and a lost one is caught up
with when the workflow reads the booking again before its reminder and before completing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from estuary_checkout.workflows.types import BookingLifecycleInput, BookingSnapshot, OrderExpiryInput

T = TypeVar("T")

REMINDER_BEFORE = timedelta(hours=24)
FOLLOW_UP_AFTER = timedelta(days=3)

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=["BookingNotFound"],
)
# Expiry must eventually happen (the reconciler is the backstop); retry for as long as it takes.
EXPIRY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
EXPIRY_RECHECKS = 5
EXPIRY_RECHECK_INTERVAL = timedelta(seconds=30)

# Before this patch a reschedule signal moved the booking itself (activity reschedule_booking) and
# the workflow never read the booking back. Histories recorded before it replay the old branch:
# `workflow.patched` answers False for them wherever it is first asked, and a run keeps that
# answer to its end (the SDK memoizes it), so one run never mixes the two behaviours.
FOLLOW_DATABASE_PATCH = "booking-lifecycle-follows-database"


@dataclass
class BookingLifecycleStatus:
    booking_id: int
    phase: str
    start_at: str
    end_at: str
    notifications_sent: list[str] = field(default_factory=list)
    reschedules: int = 0
    last_error: str | None = None


class _Wait(Enum):
    REACHED = "reached"
    CANCELED = "canceled"
    MOVED = "moved"


@dataclass
class _Request:
    kind: str  # "cancel" | "reschedule"
    reason: str = ""
    new_start: str = ""
    new_end: str = ""


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {value!r}")
    return parsed


@workflow.defn(name="BookingLifecycleWorkflow")
class BookingLifecycleWorkflow:
    def __init__(self) -> None:
        self._booking_id = 0
        self._requests: list[_Request] = []
        self._status = BookingLifecycleStatus(booking_id=0, phase="starting", start_at="", end_at="")
        self._start = datetime.min
        self._end = datetime.min
        self._canceled = False
        self._completed = False
        # Bumped whenever the times change: the waits and the reminder compare against it. The
        # status's `reschedules` is the database's reschedule_count and moves with notices only.
        self._moves = 0

    @workflow.run
    async def run(self, data: BookingLifecycleInput) -> BookingLifecycleStatus:
        self._booking_id = data.booking_id
        self._start, self._end = _parse(data.start_at), _parse(data.end_at)
        self._status = BookingLifecycleStatus(
            booking_id=data.booking_id, phase="confirmed", start_at=data.start_at, end_at=data.end_at
        )
        await self._notify("confirmation")

        # Loop because a reschedule during either wait moves the deadlines; a booking moved after
        # its reminder gets a fresh reminder for the new time.
        reminded_for = -1
        while True:
            if reminded_for != self._moves:
                self._status.phase = "awaiting_reminder"
                outcome = await self._wait_until(lambda: self._start - REMINDER_BEFORE)
                if outcome is _Wait.CANCELED:
                    return self._status
                if outcome is _Wait.MOVED:
                    continue
                # The reminder names a time: check it against the database first, in case a
                # move's or a cancel's signal is late or was lost.
                outcome = await self._recheck()
                if outcome is _Wait.CANCELED:
                    return self._status
                if outcome is _Wait.MOVED:
                    continue
                if workflow.now() < self._start:
                    await self._notify("reminder", self._status.notifications_sent.count("reminder"))
                reminded_for = self._moves
            self._status.phase = "awaiting_end"
            outcome = await self._wait_until(lambda: self._end)
            if outcome is _Wait.CANCELED:
                return self._status
            if outcome is _Wait.MOVED:
                continue
            # Completing is final: never complete a session the database has moved later.
            outcome = await self._recheck()
            if outcome is _Wait.CANCELED:
                return self._status
            if outcome is _Wait.REACHED:
                break

        result = await self._activity("mark_booking_completed", self._booking_id)
        if result == "canceled":
            # Canceled outside this workflow (e.g. a refund): no follow-up for a session that did not happen.
            if self._follows_database():
                # The cancel's own signal may only arrive once this run has closed (and is then
                # dropped by the relay), so the notice is sent here; its dedupe key keeps it single.
                await self._end_canceled()
                return self._status
            self._canceled = True
            self._status.phase = "canceled"
            return self._status
        # The booking is completed from here on; the phase says what the workflow waits for.
        self._completed = True
        self._status.phase = "awaiting_follow_up"
        follow_up_at = self._end + FOLLOW_UP_AFTER
        await self._wait_until(lambda: follow_up_at)
        await self._notify("follow_up")
        self._status.phase = "done"
        return self._status

    @workflow.signal
    async def cancel(self, reason: str) -> None:
        self._requests.append(_Request("cancel", reason=reason))

    @workflow.signal
    async def reschedule(self, new_start: str, new_end: str) -> None:
        self._requests.append(_Request("reschedule", new_start=new_start, new_end=new_end))

    @workflow.query
    def status(self) -> BookingLifecycleStatus:
        return self._status

    async def _wait_until(self, deadline: Callable[[], datetime]) -> _Wait:
        """Sleep until `deadline()` while handling signals; stops early on cancel or a move."""
        moves = self._moves
        while True:
            await self._handle_requests()
            if self._canceled:
                return _Wait.CANCELED
            if self._moves != moves:
                return _Wait.MOVED
            remaining = deadline() - workflow.now()
            if remaining <= timedelta(0):
                return _Wait.REACHED
            try:
                await workflow.wait_condition(lambda: bool(self._requests), timeout=remaining)
            except TimeoutError:
                # The timer fired; requests that arrived in the same task still get handled first.
                await self._handle_requests()
                if self._canceled:
                    return _Wait.CANCELED
                return _Wait.MOVED if self._moves != moves else _Wait.REACHED

    async def _handle_requests(self) -> None:
        while self._requests and not self._canceled:
            request = self._requests.pop(0)
            if request.kind == "cancel":
                await self._handle_cancel(request.reason)
            else:
                await self._handle_reschedule(request.new_start, request.new_end)

    async def _handle_cancel(self, reason: str) -> None:
        if self._completed:
            self._status.last_error = "cancel refused: booking already completed"
            return
        result = await self._activity("cancel_booking", self._booking_id, reason)
        if result != "canceled":
            self._status.last_error = f"cancel refused: booking is {result}"
            if result == "completed":
                self._completed = True
            return
        self._canceled = True
        self._status.phase = "canceled"
        await self._notify("canceled")

    async def _handle_reschedule(self, new_start: str, new_end: str) -> None:
        if self._completed:
            self._status.last_error = "reschedule refused: booking already completed"
            return
        if self._follows_database():
            # The API has moved the booking already; the arguments are the times of that one
            # move, and the database may have moved it again since. Follow the database.
            await self._follow_booking()
            return
        # Histories from before FOLLOW_DATABASE_PATCH: the signal moved the booking itself.
        try:
            start, end = _parse(new_start), _parse(new_end)
        except ValueError:
            self._status.last_error = f"reschedule refused: invalid times {new_start!r}, {new_end!r}"
            return
        if start >= end or start <= workflow.now():
            self._status.last_error = f"reschedule refused: invalid times {new_start!r}, {new_end!r}"
            return
        result = await self._activity("reschedule_booking", self._booking_id, new_start, new_end)
        if result != "ok":
            reason = "slot unavailable" if result == "refused" else result
            self._status.last_error = f"reschedule refused: {reason}"
            return
        self._start, self._end = start, end
        self._status.start_at, self._status.end_at = new_start, new_end
        self._status.reschedules += 1
        self._moves += 1
        self._status.last_error = None
        await self._notify("rescheduled", self._status.reschedules - 1)

    def _follows_database(self) -> bool:
        return workflow.patched(FOLLOW_DATABASE_PATCH)

    async def _recheck(self) -> _Wait:
        """Before acting on a deadline: follow the database and say whether the booking was
        canceled or moved meanwhile (REACHED: the deadline stands)."""
        if not self._follows_database():
            return _Wait.REACHED
        moves = self._moves
        await self._follow_booking()
        if self._canceled:
            return _Wait.CANCELED
        return _Wait.MOVED if self._moves != moves else _Wait.REACHED

    async def _follow_booking(self) -> None:
        """Take the booking's status and times from the database.

        Canceled: the run ends with the "canceled" notice only. Other times than the workflow
        holds: the timers move to them. A higher reschedule_count than last seen: one
        "rescheduled" notice keyed by that count, so each move is announced at most once, and
        moves made faster than the workflow saw them share one notice with the latest times.
        A booking that cannot be read keeps the times the workflow has (recorded in last_error).
        """
        booking = await self._call("read_booking", self._booking_id, result_type=BookingSnapshot)
        if booking is None:
            return
        if booking.status == "canceled":
            await self._end_canceled()
            return
        start, end = _parse(booking.start_at), _parse(booking.end_at)
        if (start, end) != (self._start, self._end):
            self._start, self._end = start, end
            self._status.start_at, self._status.end_at = booking.start_at, booking.end_at
            self._moves += 1
        if booking.reschedule_count > self._status.reschedules:
            self._status.reschedules = booking.reschedule_count
            await self._notify("rescheduled", booking.reschedule_count - 1)

    async def _end_canceled(self) -> None:
        self._canceled = True
        self._status.phase = "canceled"
        await self._notify("canceled")

    async def _notify(self, kind: str, occurrence: int = 0) -> None:
        result = await self._activity("send_notification", self._booking_id, kind, occurrence)
        if result in ("sent", "duplicate"):
            self._status.notifications_sent.append(kind)

    async def _activity(self, name: str, *args: object) -> str | None:
        return await self._call(name, *args, result_type=str)

    async def _call(self, name: str, *args: object, result_type: type[T]) -> T | None:
        """Run an activity; a final failure is recorded in the status instead of failing the lifecycle."""
        try:
            result: Any = await workflow.execute_activity(
                name,
                args=list(args),
                result_type=result_type,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            return result  # type: ignore[no-any-return]
        except ActivityError as exc:
            cause = exc.cause or exc
            self._status.last_error = f"{name} failed: {cause}"
            workflow.logger.warning("activity %s failed for booking %s: %s", name, self._booking_id, cause)
            return None


@workflow.defn(name="OrderExpiryWorkflow")
class OrderExpiryWorkflow:
    """Expires an unpaid order at its deadline; the activity is a no-op for an order paid meanwhile.

    The activity judges "due" by the database's `expires_at` and the worker's clock, which may
    trail the timer by a little; an order still unpaid is therefore asked about again a few
    times before the reconciler is left to catch it.
    """

    @workflow.run
    async def run(self, data: OrderExpiryInput) -> str:
        remaining = _parse(data.expires_at) - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        result = ""
        for attempt in range(EXPIRY_RECHECKS + 1):
            if attempt:
                await workflow.sleep(EXPIRY_RECHECK_INTERVAL)
            result = await workflow.execute_activity(
                "expire_order",
                data.order_id,
                result_type=str,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=EXPIRY_RETRY,
            )
            if result != "pending_payment":
                break
        return result
