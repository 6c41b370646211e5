"""MembershipWorkflow on the time-skipping server, against real membership rows.

Each test changes the membership row the way the Stripe webhook handler will (the row updated
and a `refresh` signal written to the outbox in one transaction), relays the outbox, and checks
what the workflow did: notices (rows, sends), runs (one per period), the Stripe re-read
(`refresh_membership`, the conftest's stand-in) only when a webhook was lost.
"""

from __future__ import annotations

import calendar
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from estuary_checkout.db.session import session_scope
from estuary_checkout.memberships.models import Membership
from estuary_checkout.state import AppState
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.membership import (
    ENDED_NOTICE,
    PAYMENT_FAILED_NOTICE,
    PERIOD_END_GRACE,
    RECHECK_EVERY,
    RENEWAL_NOTICE_BEFORE,
    RENEWAL_UPCOMING,
    MembershipWorkflow,
    MembershipWorkflowStatus,
)
from estuary_checkout.workflows.models import OutboxMessage
from estuary_checkout.workflows.relay import relay_once
from estuary_checkout.workflows.types import BOOKINGS_TASK_QUEUE, MembershipInput

from .conftest import (
    MembershipRefs,
    RecordingSender,
    StripeRefreshStandIn,
    create_membership,
    eventually,
    membership_notices,
    settled,
)

HISTORIES = Path(__file__).parent / "histories"
# CHECKOUT_RECORD_HISTORIES=1 rewrites the recorded histories from this run (after a change to
# the workflow that old runs need not replay, i.e. before any is in production).
RECORD = os.environ.get("CHECKOUT_RECORD_HISTORIES") == "1"


# --- rows -------------------------------------------------------------------------------------


async def webhook_applies(app_state: AppState, membership_id: int, event: str, **values: Any) -> None:
    """What the webhook handler does: the row updated from Stripe and the workflow's `refresh`
    signal written, in one transaction (`event` names the change: the signal's dedupe suffix)."""
    async for session in session_scope(app_state.session_factory):
        membership = await session.get(Membership, membership_id)
        assert membership is not None
        for name, value in values.items():
            setattr(membership, name, value)
        await outbox.signal_membership_refresh(session, membership_id, event)


async def load_membership(app_state: AppState, membership_id: int) -> Membership:
    async with app_state.session_factory() as session:
        return (await session.execute(select(Membership).where(Membership.id == membership_id))).scalar_one()


# --- the workflow -------------------------------------------------------------------------------


async def start(app_state: AppState, client: Client, refs: MembershipRefs) -> str:
    """Start the workflow the way production does (the outbox and its relay); its first run id."""
    async for session in session_scope(app_state.session_factory):
        assert await outbox.enqueue_membership(session, MembershipInput(refs.membership_id, refs.user_id))
    await relay_once(app_state.session_factory, client)
    return (await client.get_workflow_handle(refs.workflow_id).describe()).run_id or ""


async def relay(app_state: AppState, client: Client) -> None:
    await relay_once(app_state.session_factory, client)


async def status_of(client: Client, refs: MembershipRefs) -> MembershipWorkflowStatus | None:
    """The latest run's status; None while a new run has not answered its first task yet."""
    try:
        return await client.get_workflow_handle(refs.workflow_id).query(MembershipWorkflow.status)
    except (RPCError, WorkflowQueryFailedError):
        return None


async def wait_status(client: Client, refs: MembershipRefs, predicate: Any) -> MembershipWorkflowStatus:
    status = await eventually(lambda: status_of(client, refs), lambda s: s is not None and predicate(s))
    assert status is not None
    return status


async def run_chain(client: Client, refs: MembershipRefs, first_run_id: str) -> list[str]:
    """The workflow's runs in order, following each run's continue-as-new to the next."""
    runs = [first_run_id]
    while True:
        history = await client.get_workflow_handle(refs.workflow_id, run_id=runs[-1]).fetch_history()
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return runs
        runs.append(last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)


async def sleep_until(env: WorkflowEnvironment, at: datetime) -> None:
    left = at - await env.get_current_time()
    assert left > timedelta(0), f"{at} is already past"
    await env.sleep(left)


def next_month(value: datetime) -> datetime:
    year, month = (value.year + 1, 1) if value.month == 12 else (value.year, value.month + 1)
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


async def server_now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).replace(microsecond=0)


@pytest.fixture
async def cleanup(temporal_client: Client) -> AsyncIterator[list[MembershipRefs]]:
    """Terminate the memberships' workflows a test leaves running: their timers must not fire
    into later tests when those skip time."""
    started: list[MembershipRefs] = []
    yield started
    for refs in started:
        handle = temporal_client.get_workflow_handle(refs.workflow_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await settled(handle)
            await handle.terminate("test done")


def _maybe_record(name: str, history: WorkflowHistory) -> None:
    if RECORD:
        (HISTORIES / f"{name}.json").write_text(history.to_json())


# --- tests ---------------------------------------------------------------------------------------


async def renewal_fails(app_state, temporal_client, temporal_env, refs, p1, p2) -> None:  # type: ignore[no-untyped-def]
    """Just after the period end, the renewal's charge fails: the webhook moves the period on,
    the new invoice (in_2) stays open, and the relay delivers the refresh signal."""
    await sleep_until(temporal_env, p1 + timedelta(minutes=5))
    await webhook_applies(
        app_state,
        refs.membership_id,
        "in_2:payment_failed",
        status="past_due",
        current_period_start=p1,
        current_period_end=p2,
        latest_invoice_id="in_2",
        latest_invoice_status="open",
    )
    await relay(app_state, temporal_client)


async def test_a_year_of_renewals_one_notice_and_one_run_per_period(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    sender: RecordingSender,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    period_end = next_month(now)
    refs = await create_membership(app_state, period_end=period_end, period_start=now)
    cleanup.append(refs)
    first_run = await start(app_state, temporal_client, refs)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_renewal_notice")

    ends = []
    for n in range(1, 13):
        notice_at = period_end - RENEWAL_NOTICE_BEFORE
        # An hour before the notice is due: nothing yet.
        await sleep_until(temporal_env, notice_at - timedelta(hours=1))
        await settled(temporal_client.get_workflow_handle(refs.workflow_id))
        assert refs.key(RENEWAL_UPCOMING, period_end.isoformat()) not in await membership_notices(
            app_state, refs
        )
        # Past it: this period's notice, sent at its time by the workflow's clock.
        await temporal_env.sleep(timedelta(hours=2))
        status = await wait_status(temporal_client, refs, lambda s: s.sent(RENEWAL_UPCOMING))
        (notice,) = status.notices
        assert (notice.kind, notice.key, notice.result) == (RENEWAL_UPCOMING, period_end.isoformat(), "sent")
        assert notice_at <= datetime.fromisoformat(notice.at) < notice_at + timedelta(minutes=1)
        assert status.phase == "awaiting_renewal"
        ends.append(period_end)

        # Shortly before the period ends Stripe renews; the webhook applies it and signals.
        await sleep_until(temporal_env, period_end - timedelta(minutes=10))
        new_end = next_month(period_end)
        await webhook_applies(
            app_state,
            refs.membership_id,
            f"invoice-paid-{n}",
            status="active",
            current_period_start=period_end,
            current_period_end=new_end,
            latest_invoice_id=f"in_{n}",
            latest_invoice_status="paid",
        )
        await relay(app_state, temporal_client)
        period_end = new_end
        status = await wait_status(
            temporal_client,
            refs,
            lambda s, end=period_end: (
                s.period_end == end.isoformat() and s.phase == "awaiting_renewal_notice"
            ),
        )
        assert status.notices == []

    rows = await membership_notices(app_state, refs)
    assert sorted(rows) == sorted(refs.key(RENEWAL_UPCOMING, end.isoformat()) for end in ends)
    assert len(rows) == 12
    for key, row in rows.items():
        assert sender.count(key) == 1
        assert row.sent_at is not None and row.user_id == refs.user_id and row.booking_id is None
        assert row.kind == RENEWAL_UPCOMING
        assert row.payload["membership_id"] == refs.membership_id
    # One run per period: twelve renewals, thirteen runs, each continued as new, all short.
    runs = await run_chain(temporal_client, refs, first_run)
    assert len(runs) == 13 and len(set(runs)) == 13
    for run_id in runs:
        history = await temporal_client.get_workflow_handle(refs.workflow_id, run_id=run_id).fetch_history()
        assert len(history.events) < 60
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert described.run_id == runs[-1]
    assert stripe_refresh.calls_for(refs.membership_id) == []  # every renewal came by webhook


async def test_failed_payment_recovered_on_retry(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    sender: RecordingSender,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    p1 = now + timedelta(days=10)
    p2, p3 = next_month(p1), next_month(next_month(p1))
    refs = await create_membership(app_state, period_end=p1)
    cleanup.append(refs)
    first_run = await start(app_state, temporal_client, refs)
    await sleep_until(temporal_env, p1 - RENEWAL_NOTICE_BEFORE + timedelta(hours=1))
    await wait_status(temporal_client, refs, lambda s: s.sent(RENEWAL_UPCOMING))

    # The renewal's charge fails: Stripe moves the period on, the new invoice stays open.
    await renewal_fails(app_state, temporal_client, temporal_env, refs, p1, p2)
    status = await wait_status(temporal_client, refs, lambda s: s.sent(PAYMENT_FAILED_NOTICE))
    assert (status.phase, status.period_end) == ("payment_failed", p2.isoformat())
    assert status.sent(PAYMENT_FAILED_NOTICE) == ["in_2"]
    failed_key = refs.key(PAYMENT_FAILED_NOTICE, "in_2")
    assert failed_key in await membership_notices(app_state, refs)
    second_run = (await temporal_client.get_workflow_handle(refs.workflow_id).describe()).run_id

    # Repeated signals (a redelivered event, Stripe's retry failing again, a signal by hand)
    # neither send nor write a second notice.
    await webhook_applies(app_state, refs.membership_id, "in_2:payment_failed:retry-1")
    await relay(app_state, temporal_client)
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    await handle.signal(MembershipWorkflow.refresh)
    await handle.signal(MembershipWorkflow.refresh)
    await settled(handle)
    status = await wait_status(temporal_client, refs, lambda s: s.phase == "payment_failed")
    assert [(n.kind, n.key) for n in status.notices] == [(PAYMENT_FAILED_NOTICE, "in_2")]
    assert sender.count(failed_key) == 1

    # Stripe's retry succeeds two days later: active again on the period the invoice paid for.
    await temporal_env.sleep(timedelta(days=2))
    await webhook_applies(
        app_state, refs.membership_id, "in_2:paid", status="active", latest_invoice_status="paid"
    )
    await relay(app_state, temporal_client)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_renewal_notice")
    await sleep_until(temporal_env, p2 - RENEWAL_NOTICE_BEFORE + timedelta(hours=1))
    status = await wait_status(temporal_client, refs, lambda s: s.sent(RENEWAL_UPCOMING))
    assert status.sent(RENEWAL_UPCOMING) == [p2.isoformat()]
    assert [n.kind for n in status.notices] == [PAYMENT_FAILED_NOTICE, RENEWAL_UPCOMING]

    # The next renewal goes through; the run of the failed period ends in continue-as-new.
    await sleep_until(temporal_env, p2 - timedelta(minutes=5))
    await webhook_applies(
        app_state,
        refs.membership_id,
        "in_3:paid",
        current_period_start=p2,
        current_period_end=p3,
        latest_invoice_id="in_3",
        latest_invoice_status="paid",
    )
    await relay(app_state, temporal_client)
    await wait_status(temporal_client, refs, lambda s: s.period_end == p3.isoformat())

    assert set(await membership_notices(app_state, refs)) == {
        refs.key(RENEWAL_UPCOMING, p1.isoformat()),
        failed_key,
        refs.key(RENEWAL_UPCOMING, p2.isoformat()),
    }
    assert sender.count(failed_key) == 1
    assert await run_chain(temporal_client, refs, first_run) == [
        first_run,
        second_run,
        (await handle.describe()).run_id,
    ]
    assert stripe_refresh.calls_for(refs.membership_id) == []

    # The failed period's run replays deterministically (and is the recorded history below).
    history = await temporal_client.get_workflow_handle(refs.workflow_id, run_id=second_run).fetch_history()
    replay = await Replayer(workflows=[MembershipWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
    _maybe_record("membership_v1_payment_failed_then_paid", history)


async def test_failed_payment_ending_in_cancellation(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    sender: RecordingSender,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    # Two days left when the workflow first sees the period: too late for its renewal notice.
    p1 = now + timedelta(days=2)
    p2 = next_month(p1)
    refs = await create_membership(app_state, period_end=p1)
    cleanup.append(refs)
    await start(app_state, temporal_client, refs)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_renewal")

    await renewal_fails(app_state, temporal_client, temporal_env, refs, p1, p2)
    await wait_status(temporal_client, refs, lambda s: s.sent(PAYMENT_FAILED_NOTICE) == ["in_2"])

    # Stripe's retries fail (3 over 7 days), then it cancels the subscription.
    for attempt in range(1, 4):
        await temporal_env.sleep(timedelta(days=2))
        await webhook_applies(app_state, refs.membership_id, f"in_2:payment_failed:{attempt}")
        await relay(app_state, temporal_client)
    await temporal_env.sleep(timedelta(days=1))
    ended_at = await server_now(temporal_env)
    await webhook_applies(
        app_state,
        refs.membership_id,
        "subscription.deleted",
        status="canceled",
        canceled_at=ended_at,
        ended_at=ended_at,
        latest_invoice_status="uncollectible",
    )
    await relay(app_state, temporal_client)

    result = await temporal_client.get_workflow_handle_for(MembershipWorkflow.run, refs.workflow_id).result()
    assert (result.phase, result.status) == ("ended", "canceled")
    assert [(n.kind, n.key, n.result) for n in result.notices] == [
        (PAYMENT_FAILED_NOTICE, "in_2", "sent"),
        (ENDED_NOTICE, "canceled", "sent"),
    ]
    rows = await membership_notices(app_state, refs)
    assert set(rows) == {refs.key(PAYMENT_FAILED_NOTICE, "in_2"), refs.key(ENDED_NOTICE, "canceled")}
    assert rows[refs.key(ENDED_NOTICE, "canceled")].payload["status"] == "canceled"
    for key in rows:
        assert sender.count(key) == 1

    # A late event for the ended membership: the relay finds nothing left to change.
    await webhook_applies(app_state, refs.membership_id, "late-event")
    await relay(app_state, temporal_client)
    async with app_state.session_factory() as session:
        late = (
            await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key == f"signal:{refs.workflow_id}:refresh:late-event"
                )
            )
        ).scalar_one()
    assert late.dispatched_at is not None and (late.last_error or "").startswith("not delivered")


async def test_lost_renewal_webhook_is_caught_by_reading_stripe_after_the_grace(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    p1 = now + timedelta(days=5)
    p2 = next_month(p1)
    refs = await create_membership(app_state, period_end=p1)
    cleanup.append(refs)
    first_run = await start(app_state, temporal_client, refs)
    # Stripe renewed the subscription but the webhook never arrives.
    stripe_refresh.stripe_holds[refs.membership_id] = {
        "current_period_start": p1,
        "current_period_end": p2,
        "latest_invoice_id": "in_2",
        "latest_invoice_status": "paid",
    }

    await sleep_until(temporal_env, p1 + PERIOD_END_GRACE - timedelta(minutes=10))
    handle = temporal_client.get_workflow_handle(refs.workflow_id)
    await settled(handle)
    assert stripe_refresh.calls_for(refs.membership_id) == []  # still within the grace
    assert (await status_of(temporal_client, refs)).phase == "awaiting_renewal"  # type: ignore[union-attr]

    await temporal_env.sleep(timedelta(minutes=20))
    status = await wait_status(temporal_client, refs, lambda s: s.period_end == p2.isoformat())
    (call,) = stripe_refresh.calls_for(refs.membership_id)
    assert p1 + PERIOD_END_GRACE <= call.scheduled_at < p1 + PERIOD_END_GRACE + timedelta(minutes=1)
    # The workflow follows what the re-read applied: the next period, in a run of its own.
    assert (await load_membership(app_state, refs.membership_id)).current_period_end == p2
    assert status.phase == "awaiting_renewal_notice"
    assert len(await run_chain(temporal_client, refs, first_run)) == 2


async def test_stripe_showing_no_change_is_asked_again_every_six_hours(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    """Nothing changed at Stripe either (its renewal is late): no busy loop, a bounded recheck."""
    now = await server_now(temporal_env)
    p1 = now + timedelta(days=1)
    refs = await create_membership(app_state, period_end=p1)
    cleanup.append(refs)
    first_run = await start(app_state, temporal_client, refs)
    handle = temporal_client.get_workflow_handle(refs.workflow_id)

    await sleep_until(temporal_env, p1 + PERIOD_END_GRACE + 2 * RECHECK_EVERY + timedelta(hours=1))
    await settled(handle)
    calls = stripe_refresh.calls_for(refs.membership_id)
    assert [c.scheduled_at - p1 for c in calls] == [
        pytest.approx(PERIOD_END_GRACE, abs=timedelta(minutes=1)),
        pytest.approx(PERIOD_END_GRACE + RECHECK_EVERY, abs=timedelta(minutes=1)),
        pytest.approx(PERIOD_END_GRACE + 2 * RECHECK_EVERY, abs=timedelta(minutes=1)),
    ]
    status = await status_of(temporal_client, refs)
    assert status is not None
    assert (status.phase, status.refreshes, status.period_end) == ("renewal_overdue", 3, p1.isoformat())

    # The webhook finally comes: the workflow moves on to the next period.
    p2 = next_month(p1)
    await webhook_applies(
        app_state, refs.membership_id, "in_2:paid", current_period_start=p1, current_period_end=p2
    )
    await relay(app_state, temporal_client)
    await wait_status(temporal_client, refs, lambda s: s.period_end == p2.isoformat())
    assert len(await run_chain(temporal_client, refs, first_run)) == 2
    assert len(stripe_refresh.calls_for(refs.membership_id)) == 3

    history = await temporal_client.get_workflow_handle(refs.workflow_id, run_id=first_run).fetch_history()
    replay = await Replayer(workflows=[MembershipWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
    _maybe_record("membership_v1_renewal_overdue_rechecked", history)


async def test_cancel_at_period_end_gets_no_renewal_notice_and_ends(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    sender: RecordingSender,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    p1 = now + timedelta(days=10)
    refs = await create_membership(app_state, period_end=p1)
    cleanup.append(refs)
    await start(app_state, temporal_client, refs)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_renewal_notice")

    # The client cancels at the period end (POST /memberships/{id}/cancel; Stripe's update event).
    await temporal_env.sleep(timedelta(days=2))
    await webhook_applies(app_state, refs.membership_id, "sub-updated-1", cancel_at_period_end=True)
    await relay(app_state, temporal_client)
    await wait_status(temporal_client, refs, lambda s: s.phase == "ending_at_period_end")

    # The renewal notice's time passes without one.
    await sleep_until(temporal_env, p1 - RENEWAL_NOTICE_BEFORE + timedelta(hours=1))
    await settled(temporal_client.get_workflow_handle(refs.workflow_id))
    assert await membership_notices(app_state, refs) == {}

    # At the period end Stripe cancels the subscription.
    await sleep_until(temporal_env, p1 + timedelta(minutes=1))
    await webhook_applies(
        app_state, refs.membership_id, "sub-deleted", status="canceled", canceled_at=p1, ended_at=p1
    )
    await relay(app_state, temporal_client)
    result = await temporal_client.get_workflow_handle_for(MembershipWorkflow.run, refs.workflow_id).result()
    assert (result.phase, [(n.kind, n.key) for n in result.notices]) == (
        "ended",
        [(ENDED_NOTICE, "canceled")],
    )
    assert set(await membership_notices(app_state, refs)) == {refs.key(ENDED_NOTICE, "canceled")}
    assert sender.count(refs.key(ENDED_NOTICE, "canceled")) == 1
    assert stripe_refresh.calls_for(refs.membership_id) == []


async def test_incomplete_membership_expires_through_the_stripe_read_when_its_webhook_is_lost(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    refs = await create_membership(
        app_state,
        period_end=next_month(now),
        period_start=now,
        status="incomplete",
        latest_invoice_status="open",
    )
    cleanup.append(refs)
    await start(app_state, temporal_client, refs)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_first_payment")
    stripe_refresh.stripe_holds[refs.membership_id] = {
        "status": "incomplete_expired",
        "latest_invoice_status": "void",
    }

    await temporal_env.sleep(timedelta(hours=23, minutes=30))
    await settled(temporal_client.get_workflow_handle(refs.workflow_id))
    assert stripe_refresh.calls_for(refs.membership_id) == []
    # (a handle that did not start the workflow does not skip time while awaiting its result)
    await temporal_env.sleep(timedelta(hours=1))
    result = await temporal_client.get_workflow_handle_for(MembershipWorkflow.run, refs.workflow_id).result()
    (call,) = stripe_refresh.calls_for(refs.membership_id)
    assert timedelta(hours=24) <= call.scheduled_at - now < timedelta(hours=24, minutes=1)
    assert (result.phase, [(n.kind, n.key) for n in result.notices]) == (
        "ended",
        [(ENDED_NOTICE, "incomplete_expired")],
    )


async def test_incomplete_membership_paid_carries_on_in_the_same_period(
    app_state: AppState,
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    stripe_refresh: StripeRefreshStandIn,
    cleanup: list[MembershipRefs],
) -> None:
    now = await server_now(temporal_env)
    p1 = next_month(now)
    refs = await create_membership(
        app_state, period_end=p1, period_start=now, status="incomplete", latest_invoice_status="open"
    )
    cleanup.append(refs)
    first_run = await start(app_state, temporal_client, refs)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_first_payment")

    await temporal_env.sleep(timedelta(minutes=3))
    await webhook_applies(
        app_state, refs.membership_id, "in_first:paid", status="active", latest_invoice_status="paid"
    )
    await relay(app_state, temporal_client)
    await wait_status(temporal_client, refs, lambda s: s.phase == "awaiting_renewal_notice")
    # Past the first invoice's 23 h: nothing to ask Stripe about a paid membership.
    await temporal_env.sleep(timedelta(days=2))
    await settled(temporal_client.get_workflow_handle(refs.workflow_id))
    assert stripe_refresh.calls_for(refs.membership_id) == []
    assert await run_chain(temporal_client, refs, first_run) == [first_run]


async def test_a_missing_membership_ends_the_workflow(temporal_client: Client) -> None:
    refs = MembershipRefs(membership_id=987_654_321, user_id=1)
    handle = await temporal_client.start_workflow(
        MembershipWorkflow.run,
        MembershipInput(refs.membership_id, refs.user_id),
        id=f"{refs.workflow_id}-{uuid.uuid4().hex[:6]}",
        task_queue=BOOKINGS_TASK_QUEUE,
    )
    result = await handle.result()
    assert (result.phase, result.notices) == ("not_found", [])


@pytest.mark.parametrize(
    "name",
    [
        # test_failed_payment_recovered_on_retry's second run: past_due, the failed-payment
        # notice, repeated signals, paid, the renewal notice, continue-as-new
        "membership_v1_payment_failed_then_paid",
        # test_stripe_showing_no_change_is_asked_again_every_six_hours's first run: three Stripe
        # re-reads six hours apart, then the webhook's signal and continue-as-new
        "membership_v1_renewal_overdue_rechecked",
    ],
)
async def test_recorded_membership_histories_replay(name: str) -> None:
    """Runs recorded on the time-skipping server must replay with the workflow as it is now:
    a change that breaks them would break the runs in flight (use workflow.patched then)."""
    text = (HISTORIES / f"{name}.json").read_text()
    history = WorkflowHistory.from_json(f"recorded-{name}", text)
    replay = await Replayer(workflows=[MembershipWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
    kinds = [e.event_type for e in history.events]
    assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in kinds


# --- the outbox helpers ---------------------------------------------------------------------------


async def _outbox_rows(app_state: AppState, workflow_id: str) -> list[OutboxMessage]:
    async with app_state.session_factory() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.workflow_id == workflow_id).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def test_enqueue_membership_writes_one_start_per_membership(app_state: AppState) -> None:
    refs = await create_membership(app_state, period_end=datetime.now().astimezone() + timedelta(days=30))
    data = MembershipInput(refs.membership_id, refs.user_id)
    async for session in session_scope(app_state.session_factory):
        assert await outbox.enqueue_membership(session, data)
        assert not await outbox.enqueue_membership(session, data)
    async for session in session_scope(app_state.session_factory):
        assert not await outbox.enqueue_membership(session, data)
    (row,) = await _outbox_rows(app_state, refs.workflow_id)
    assert (row.kind, row.workflow_type, row.workflow_id, row.task_queue) == (
        "start_workflow",
        "MembershipWorkflow",
        f"membership-{refs.membership_id}",
        "bookings",
    )
    assert row.payload == asdict(data)
    assert row.dedupe_key == f"start:membership-{refs.membership_id}"


async def test_signal_membership_refresh_once_per_change(app_state: AppState) -> None:
    refs = await create_membership(app_state, period_end=datetime.now().astimezone() + timedelta(days=30))
    async for session in session_scope(app_state.session_factory):
        assert await outbox.signal_membership_refresh(session, refs.membership_id, "evt_1")
        assert not await outbox.signal_membership_refresh(session, refs.membership_id, "evt_1")
        assert await outbox.signal_membership_refresh(session, refs.membership_id, "evt_2")
    rows = await _outbox_rows(app_state, refs.workflow_id)
    assert [r.dedupe_key for r in rows] == [
        f"signal:membership-{refs.membership_id}:refresh:evt_1",
        f"signal:membership-{refs.membership_id}:refresh:evt_2",
    ]
    for row in rows:
        assert (row.kind, row.workflow_type, row.signal_name, row.payload) == (
            "signal_workflow",
            "MembershipWorkflow",
            "refresh",
            {"args": []},
        )
