"""Orders after the sale: what a client sees of their own (SPEC 11.1) and what an operator sees of
any (SPEC 11.4). The operator's views extend the client's, so both always show the same facts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from estuary_checkout.bookings.schemas import BookingView
from estuary_checkout.passes.schemas import PassView

# orders.models.ORDER_STATUSES, spelled out for the schema (a test keeps the two equal)
OrderStatusName = Literal[
    "pending_payment",
    "processing",
    "completed",
    "expired",
    "canceled",
    "failed",
    "refunded",
    "partially_refunded",
]


class OrderLineView(BaseModel):
    service_id: int
    name: str
    quantity: int
    line_total_cents: int


class OrderSummary(BaseModel):
    order_id: uuid.UUID
    status: str
    payment_status: str
    checkout_type: str
    currency: str
    total_cents: int
    refunded_cents: int
    created_at: datetime
    completed_at: datetime | None
    lines: list[OrderLineView]


class PaymentView(BaseModel):
    payment_intent_id: str
    amount_cents: int
    status: str = Field(description="the order's payment status as this service recorded it")


class RefundView(BaseModel):
    refund_id: int
    amount_cents: int
    to: Literal["card", "credit"]
    status: str
    reason: str
    created_at: datetime


class CreditMovementView(BaseModel):
    kind: str
    amount_cents: int
    balance_delta_cents: int = Field(description="the change to the spendable balance (a hold is negative)")
    created_at: datetime


class OrderDetail(OrderSummary):
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    credits_applied_cents: int
    bookings: list[BookingView]
    passes: list[PassView]
    payments: list[PaymentView]
    refunds: list[RefundView]
    credit_movements: list[CreditMovementView]


class OrderUser(BaseModel):
    id: int
    email: str | None
    external_id: str


class AdminOrderSummary(OrderSummary):
    user: OrderUser


class TimelineEntry(BaseModel):
    at: datetime
    kind: str = Field(description="e.g. order.created, stripe_event.received, refund.succeeded")
    summary: str
    details: dict[str, Any]


class AdminOrderDetail(OrderDetail):
    user: OrderUser
    timeline: list[TimelineEntry] = Field(description="everything that happened to the order, oldest first")
