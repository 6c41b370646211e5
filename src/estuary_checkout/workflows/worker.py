"""`estuary-checkout worker`: the Temporal worker, the outbox relay, the notification relay and the
reconciler in one process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from estuary_checkout.config import Settings, get_settings, tune_gc
from estuary_checkout.events.delivery import DeliveryRelay
from estuary_checkout.state import AppState
from estuary_checkout.workflows.activities import BookingActivities
from estuary_checkout.workflows.membership import MembershipWorkflow
from estuary_checkout.workflows.membership_activities import MembershipActivities
from estuary_checkout.workflows.notifications import LogSender, NotificationRelay, NotificationSender
from estuary_checkout.workflows.relay import run_relay
from estuary_checkout.workflows.types import BOOKINGS_TASK_QUEUE
from estuary_checkout.workflows.workflows import BookingLifecycleWorkflow, OrderExpiryWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS = [BookingLifecycleWorkflow, OrderExpiryWorkflow, MembershipWorkflow]
RECONCILE_OLDER_THAN = timedelta(minutes=2)


def build_worker(
    client: Any, state: AppState, *, task_queue: str | None = None, sender: NotificationSender | None = None
) -> Worker:
    sender = sender or LogSender()
    bookings = BookingActivities(state.session_factory, state.gateway, sender)
    memberships = MembershipActivities(state.session_factory, state.gateway, sender)
    return Worker(
        client,
        task_queue=task_queue or BOOKINGS_TASK_QUEUE,
        workflows=WORKFLOWS,
        activities=bookings.all() + memberships.all(),
        graceful_shutdown_timeout=timedelta(seconds=10),
        # The sandbox re-imports the workflow module for every workflow run: measured as the
        # largest part of this worker's CPU per booking. Its checks run where they catch
        # mistakes, in the tests: their worker and the replay test keep the sandboxed runner,
        # and the workflows import nothing but temporalio and their input types.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def run_reconciler(
    session_factory: async_sessionmaker[AsyncSession],
    gateway: Any,
    stop: asyncio.Event,
    interval: float = 60.0,
) -> None:
    """Every `interval` seconds, settle orders whose webhook or expiry was missed."""
    while not stop.is_set():
        try:
            # Imported here so the worker starts even while orders is broken; each run retries it.
            from estuary_checkout.orders import reconciler

            counts = await reconciler.reconcile(session_factory, gateway, older_than=RECONCILE_OLDER_THAN)
            log.info("reconciler.run", **counts)
            refunds = await reconciler.refunds_pending(
                session_factory, gateway, older_than=RECONCILE_OLDER_THAN
            )
            log.info("reconciler.refunds", **refunds)
        except Exception:
            log.exception("reconciler.failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def _install_signal_handlers(stop: asyncio.Event) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without loop signal handlers
    return installed


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    reconcile_interval: float = 60.0,
    relay_interval: float = 1.0,
    state: AppState | None = None,
    sender: NotificationSender | None = None,
    task_queue: str | None = None,
) -> None:
    """Run until SIGINT/SIGTERM or until `stop` is set; in-flight activities finish first.
    `task_queue` (default the bookings queue) lets a test keep this worker's tasks its own."""
    stop = stop or asyncio.Event()
    sender = sender or LogSender()
    own_state = state is None
    state = state or AppState.build(settings)
    installed = _install_signal_handlers(stop)
    try:
        client = await state.temporal.get()
        async with build_worker(client, state, task_queue=task_queue, sender=sender):
            tasks = [
                asyncio.create_task(run_relay(state.session_factory, client, stop, relay_interval)),
                asyncio.create_task(
                    NotificationRelay(state.session_factory, sender).run(stop, relay_interval)
                ),
                asyncio.create_task(
                    run_reconciler(state.session_factory, state.gateway, stop, reconcile_interval)
                ),
                asyncio.create_task(DeliveryRelay(state.session_factory, settings).run(stop, relay_interval)),
            ]
            log.info("worker.started", task_queue=task_queue or BOOKINGS_TASK_QUEUE)
            try:
                await stop.wait()
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
        log.info("worker.stopped")
    finally:
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        if own_state:
            await state.aclose()


def main() -> None:
    from estuary_checkout.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.gc_tune:
        tune_gc()  # the modules are loaded: the same process tuning as the API
    asyncio.run(run_worker(settings))
