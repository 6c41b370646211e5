"""Cancel and reschedule in the API (SPEC 11.2, 11.4)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from estuary_checkout.fields import DateTimeText

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None
    refund_to: Literal["original", "credit"] = "original"


class AdminCancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class RefundOutcome(BaseModel):
    card_cents: int
    credit_cents: int
    refund_ids: list[int]


class CancelResult(BaseModel):
    booking_id: int
    status: Literal["canceled"] = "canceled"
    refund: RefundOutcome
    pass_session_returned: bool


class RescheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_time: DateTimeText
    end_time: DateTimeText
