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


@dataclass
class MembershipInput:
    membership_id: int
    user_id: int


@dataclass
class MembershipSnapshot:
    """What the membership workflow follows: the membership as the database holds it now (the
    webhook handler keeps it in step with Stripe's subscription)."""

    status: str  # Stripe's subscription status: incomplete, trialing, active, past_due, canceled …
    current_period_end: str | None  # ISO 8601, UTC
    cancel_at_period_end: bool
    latest_invoice_id: str | None
    latest_invoice_status: str | None  # draft, open, paid, void, uncollectible


def membership_workflow_id(membership_id: int) -> str:
    return f"membership-{membership_id}"
