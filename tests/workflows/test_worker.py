"""run_worker end to end: relays the outbox, runs the workflows, sends enqueued notices, stops when asked."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import timedelta

from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from estuary_checkout.config import Settings
from estuary_checkout.db.session import session_scope
from estuary_checkout.state import AppState
from estuary_checkout.workflows import notifications
from estuary_checkout.workflows.models import Notification, OutboxMessage
from estuary_checkout.workflows.outbox import enqueue_start
from estuary_checkout.workflows.worker import run_worker

from .conftest import RecordingSender, create_booking, eventually, notification_keys, query_status, terminate


async def test_worker_relays_runs_and_stops(
    app_state: AppState, settings: Settings, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    target = temporal_env.client.service_client.config.target_host
    worker_settings = settings.model_copy(update={"temporal_address": target})
    now = await temporal_env.get_current_time()
    refs = await create_booking(app_state, start_at=now + timedelta(days=5))
    refund_key = f"test:refund:{refs.booking_id}:succeeded"
    # a task queue of its own: the suite's session worker polls the bookings queue and would
    # take some of this workflow's activities (with another sender)
    queue = f"worker-test-{uuid.uuid4().hex}"
    async for session in session_scope(app_state.session_factory):
        await enqueue_start(
            session,
            workflow_type="BookingLifecycleWorkflow",
            workflow_id=refs.workflow_id,
            payload=asdict(refs.lifecycle_input()),
            task_queue=queue,
        )
        await notifications.enqueue(
            session, dedupe_key=refund_key, user_id=refs.user_id, kind="refund_succeeded", payload={}
        )

    sender = RecordingSender()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            worker_settings,
            stop=stop,
            relay_interval=0.1,
            reconcile_interval=0.2,
            sender=sender,
            task_queue=queue,
        )
    )
    try:

        async def dispatched() -> bool:
            async with app_state.session_factory() as session:
                row = (
                    await session.execute(
                        select(OutboxMessage).where(OutboxMessage.workflow_id == refs.workflow_id)
                    )
                ).scalar_one()
            return row.dispatched_at is not None

        await eventually(dispatched, bool)
        handle = temporal_client.get_workflow_handle(refs.workflow_id)
        await eventually(lambda: query_status(handle), lambda s: s.phase == "awaiting_reminder")
        assert f"booking:{refs.booking_id}:confirmation" in await notification_keys(
            app_state, refs.booking_id
        )

        async def refund_notice_sent() -> bool:
            async with app_state.session_factory() as session:
                row = (
                    await session.execute(select(Notification).where(Notification.dedupe_key == refund_key))
                ).scalar_one()
            return row.sent_at is not None

        await eventually(refund_notice_sent, bool)
        # One sender for both paths: the lifecycle's activity and the notification relay.
        assert sender.count(refund_key) == 1
        assert sender.count(f"booking:{refs.booking_id}:confirmation") == 1
        await terminate(handle)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
    assert task.exception() is None
