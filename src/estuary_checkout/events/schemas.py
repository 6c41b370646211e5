"""Outbound events and their admin API (SPEC 12.1): what a receiver gets, what an operator sets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from estuary_checkout.events.types import EventType
from estuary_checkout.fields import JsonBool, NotNull
from estuary_checkout.orders.history_schemas import OrderSummary
from estuary_checkout.passes.schemas import PassView

# ---------------------------------------------------------------------------------------------
# what a receiver gets: {"id", "type", "created_at", "data"}; data is the object's public view
# with the customer it belongs to (the host platform's user id is the token's `sub`)


class Customer(BaseModel):
    sub: str = Field(description="the host platform's id of the user (the token's `sub`)")
    email: str | None


class OrderEventData(OrderSummary):
    """order.completed, order.expired, order.refunded"""

    customer: Customer | None


class BookingEventData(BaseModel):
    """booking.confirmed, booking.canceled, booking.rescheduled, booking.completed"""

    booking_id: int
    order_id: uuid.UUID | None
    service_id: int
    practitioner_id: int
    start_time: datetime
    end_time: datetime
    status: str
    reschedule_count: int
    canceled_by: str | None
    cancel_reason: str | None
    customer: Customer | None


class PassEventData(PassView):
    """pass.granted (by a bundle or package order, or by a membership's paid invoice)"""

    customer: Customer | None


class MembershipEventData(BaseModel):
    """membership.updated: a change Stripe made to the subscription (status, period, a cancel
    set or undone), once per change; `version` counts them."""

    membership_id: int
    plan_id: int
    status: str
    version: int
    currency: str
    amount_cents: int
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    customer: Customer | None


class RefundEventData(BaseModel):
    """refund.failed: a card refund Stripe could not make; the amount went to store credit
    (`fallback_refund_id`)."""

    refund_id: int
    order_id: uuid.UUID
    booking_id: int | None
    amount_cents: int
    currency: str
    status: str
    failure_reason: str | None
    fallback_refund_id: int | None
    customer: Customer | None


class PaymentLinkEventData(BaseModel):
    """payment_link.completed: an order made through the link was paid."""

    payment_link_id: int
    slug: str
    order_id: uuid.UUID
    total_cents: int
    currency: str
    completed_count: int = Field(description="paid orders through the link so far")
    max_completed: int | None
    customer: Customer | None


class EventPayload(BaseModel):
    """The body of every delivery (signed per Standard Webhooks)."""

    id: str = Field(description="evt_…; also the `webhook-id` header, the receiver's dedupe key")
    type: EventType
    created_at: datetime
    data: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# the admin API

# \x85 and \uFEFF named beside \s: the server's regex (Rust) and JSON Schema's (ECMA-262)
# disagree on these two, NEL being white space to the first only and the BOM to the second only;
# naming both makes them agree (as the credits routes' email pattern does)
EndpointUrl = Annotated[
    str,
    StringConstraints(
        min_length=8, max_length=2048, pattern=r"^https?://[^\s\x85\uFEFF/?#@]+([/?][^\s\x85\uFEFF#]*)?$"
    ),
]
Description = Annotated[str, StringConstraints(max_length=500)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: EndpointUrl = Field(description="http(s); in production a public address only")
    event_types: list[EventType] = Field(default_factory=list, max_length=20, description="[] = all")
    description: Description | None = None


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[EndpointUrl | None, NotNull] = None
    event_types: Annotated[Annotated[list[EventType], Field(max_length=20)] | None, NotNull] = None
    description: Description | None = None
    enabled: Annotated[JsonBool | None, NotNull] = None
    rotate_secret: JsonBool = Field(
        default=False,
        description="a new secret (in this response only); the old one keeps signing alongside "
        "for CHECKOUT_WEBHOOK_SECRET_OVERLAP_HOURS (24 h)",
    )


class Endpoint(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class EndpointWithSecret(Endpoint):
    secret: str = Field(description="whsec_…: shown once, at creation or rotation")


class EndpointUpdated(Endpoint):
    secret: str | None = Field(default=None, description="the new secret when `rotate_secret` was set")


DeliveryStatus = Literal["pending", "delivered", "failed"]


class Delivery(BaseModel):
    id: int
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt: int = Field(description="attempts made so far")
    status_code: int | None
    duration_ms: int | None
    error: str | None
    next_retry_at: datetime | None
    delivered_at: datetime | None
