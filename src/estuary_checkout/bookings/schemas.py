"""A client's bookings as they see them (SPEC 11.1): shared by `GET /bookings` and order details."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

BookingScope = Literal["upcoming", "past"]


class RefundIfCanceled(BaseModel):
    """What canceling now would give back, computed with the same policy code cancel uses."""

    card_cents: int = Field(description="back to the card that paid")
    credit_cents: int = Field(description="back to store credit (the part store credit paid)")
    pass_session_returned: bool = Field(description="a pass-covered session goes back on its pass")


class BookingView(BaseModel):
    booking_id: int
    order_id: uuid.UUID | None
    service_id: int
    practitioner_id: int
    start_time: datetime
    end_time: datetime
    status: str
    reschedule_count: int
    can_cancel: bool
    can_reschedule: bool
    refund_if_canceled_now: RefundIfCanceled
