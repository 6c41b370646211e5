"""OrderExpiryWorkflow: an unpaid order expires at its deadline, not before, through orders.service."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from estuary_checkout.bookings.models import Booking
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope
from estuary_checkout.orders.models import Order
from estuary_checkout.state import AppState
from estuary_checkout.users.models import User
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.relay import relay_once
from estuary_checkout.workflows.types import BOOKINGS_TASK_QUEUE, OrderExpiryInput, order_expiry_workflow_id
from estuary_checkout.workflows.workflows import OrderExpiryWorkflow

from .conftest import create_practitioner


async def _unpaid_order(
    app_state: AppState, *, expires_at: datetime, slot_start: datetime
) -> tuple[uuid.UUID, int]:
    """An unpaid single-session order (no PaymentIntent yet) holding one booking."""
    practitioner_id, service_id = await create_practitioner(app_state)
    async for session in session_scope(app_state.session_factory):
        user = User(external_id=f"test|{uuid.uuid4().hex}")
        session.add(user)
        await session.flush()
        order = Order(
            user_id=user.id,
            checkout_type="single_session",
            currency="usd",
            subtotal_cents=5000,
            total_cents=5000,
            expires_at=expires_at,
        )
        session.add(order)
        await session.flush()
        booking = Booking(
            order_id=order.id,
            user_id=user.id,
            practitioner_id=practitioner_id,
            service_id=service_id,
            start_at=slot_start,
            end_at=slot_start + timedelta(hours=1),
            status="pending_payment",
        )
        session.add(booking)
        await session.flush()
        ids = order.id, booking.id
    return ids


async def _statuses(app_state: AppState, order_id: uuid.UUID, booking_id: int) -> tuple[str, str]:
    async with app_state.session_factory() as session:
        order = (await session.execute(select(Order.status).where(Order.id == order_id))).scalar_one()
        booking = (await session.execute(select(Booking.status).where(Booking.id == booking_id))).scalar_one()
    return order, booking


async def test_unpaid_order_expires_at_deadline(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    # The database's deadline has passed on the wall clock (the activity's judge); the workflow's
    # deadline is 15 minutes ahead on the skipped clock (the timer's judge).
    order_id, booking_id = await _unpaid_order(
        app_state, expires_at=utcnow() - timedelta(seconds=1), slot_start=now + timedelta(days=3)
    )
    handle = await temporal_client.start_workflow(
        OrderExpiryWorkflow.run,
        OrderExpiryInput(order_id=str(order_id), expires_at=(now + timedelta(minutes=15)).isoformat()),
        id=order_expiry_workflow_id(str(order_id)),
        task_queue=BOOKINGS_TASK_QUEUE,
    )
    await temporal_env.sleep(timedelta(minutes=10))
    assert await _statuses(app_state, order_id, booking_id) == ("pending_payment", "pending_payment")

    assert await handle.result() == "expired"
    assert await _statuses(app_state, order_id, booking_id) == ("expired", "canceled")


async def test_order_not_yet_due_in_database_is_left_alone(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    now = await temporal_env.get_current_time()
    order_id, booking_id = await _unpaid_order(
        app_state, expires_at=utcnow() + timedelta(hours=1), slot_start=now + timedelta(days=3)
    )
    handle = await temporal_client.start_workflow(
        OrderExpiryWorkflow.run,
        OrderExpiryInput(order_id=str(order_id), expires_at=now.isoformat()),
        id=order_expiry_workflow_id(str(order_id)),
        task_queue=BOOKINGS_TASK_QUEUE,
    )
    assert await handle.result() == "pending_payment"
    assert await _statuses(app_state, order_id, booking_id) == ("pending_payment", "pending_payment")


async def test_relayed_expiry_start_is_held_by_temporal_until_the_deadline(
    app_state: AppState, temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    """The relay starts the expiry workflow with `start_delay` = time left: no task runs before the
    deadline (Temporal's execution time is the deadline), and the order still expires on time."""
    now = await temporal_env.get_current_time()
    order_id, booking_id = await _unpaid_order(
        app_state, expires_at=utcnow() - timedelta(seconds=1), slot_start=now + timedelta(days=3)
    )
    data = OrderExpiryInput(order_id=str(order_id), expires_at=(utcnow() + timedelta(minutes=15)).isoformat())
    async for session in session_scope(app_state.session_factory):
        assert await outbox.enqueue_order_expiry(session, data)
    assert await relay_once(app_state.session_factory, temporal_client) == 1

    handle = temporal_client.get_workflow_handle(order_expiry_workflow_id(str(order_id)))
    info = await handle.describe()
    assert info.execution_time is not None
    held = info.execution_time - info.start_time
    print(f"expiry workflow first task held for {held}")
    assert timedelta(minutes=14) < held <= timedelta(minutes=15)

    await temporal_env.sleep(timedelta(minutes=16))
    assert await handle.result() == "expired"
    assert await _statuses(app_state, order_id, booking_id) == ("expired", "canceled")
