"""Workflow inputs: plain dataclasses, shared by the outbox (writer) and the workflows (readers)."""

from __future__ import annotations

from dataclasses import dataclass

BOOKINGS_TASK_QUEUE = "bookings"


@dataclass
class BookingLifecycleInput:
    booking_id: int
    user_id: int
    start_at: str  # ISO 8601, UTC
    end_at: str  # ISO 8601, UTC


@dataclass
class BookingSnapshot:
    """What the lifecycle workflow follows: the booking as the database holds it now."""

    status: str
    start_at: str  # ISO 8601, UTC
    end_at: str  # ISO 8601, UTC
    reschedule_count: int


@dataclass
class OrderExpiryInput:
    order_id: str
    expires_at: str  # ISO 8601, UTC


def booking_workflow_id(booking_id: int) -> str:
    return f"booking-lifecycle-{booking_id}"


def order_expiry_workflow_id(order_id: str) -> str:
    return f"order-expiry-{order_id}"
