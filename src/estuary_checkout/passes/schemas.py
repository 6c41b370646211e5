"""A client's passes (SPEC 11.1): shared by `GET /passes` and order details."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

PassStatus = Literal["active", "exhausted", "expired", "revoked", "frozen"]


class PassView(BaseModel):
    pass_id: int
    service_id: int | None = Field(
        description="the one service of a bundle/package pass; null for a membership's"
    )
    practitioner_id: int | None
    sessions_total: int
    sessions_used: int
    sessions_left: int
    expires_at: datetime
    source_order_id: uuid.UUID | None
    status: PassStatus
    membership_id: int | None = Field(
        None, description="set on the passes a membership's paid invoices grant"
    )
    eligible_service_ids: list[int] | None = Field(
        None, description="a membership pass: the services it can be redeemed for"
    )
