"""Refunds in the API (SPEC 11.1, 11.4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from estuary_checkout.fields import JsonInteger
from estuary_checkout.refunds.models import Refund

OperatorReason = Literal["duplicate", "fraudulent", "requested_by_customer", "service_issue", "other"]
Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class RefundPublic(BaseModel):
    refund_id: int
    amount_cents: int
    to: Literal["card", "credit"]
    status: str
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, refund: Refund) -> RefundPublic:
        return cls(
            refund_id=refund.id,
            amount_cents=refund.amount_cents,
            to=refund.destination,  # type: ignore[arg-type]
            status=refund.status,
            reason=refund.reason,
            created_at=refund.created_at,
        )


class Refundable(BaseModel):
    card_cents: int
    credit_cents: int


class AdminRefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_cents: Annotated[int, Field(gt=0, le=100_000_000), JsonInteger]
    to: Literal["card", "credit"]
    reason: OperatorReason
    note: Note | None = None
    cancel_booking_ids: list[Annotated[int, Field(ge=1, le=2**53), JsonInteger]] | None = Field(
        default=None, max_length=50
    )


class AdminRefundResult(BaseModel):
    order_id: uuid.UUID
    status: str
    refunded_cents: int
    refundable: Refundable
    refunds: list[RefundPublic]
    canceled_booking_ids: list[int]
