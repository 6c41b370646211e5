"""The event types this service sends (SPEC 12.1); an endpoint subscribes to some or all."""

from __future__ import annotations

from typing import Literal, get_args

EventType = Literal[
    "order.completed",
    "order.expired",
    "order.refunded",
    "booking.confirmed",
    "booking.canceled",
    "booking.rescheduled",
    "booking.completed",
    "pass.granted",
    "refund.failed",
    "payment_link.completed",
    "membership.updated",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
