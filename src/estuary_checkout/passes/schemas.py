"""A client's passes (SPEC 11.1): shared by `GET /passes` and order details."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

PassStatus = Literal["active", "exhausted", "expired", "revoked"]


class PassView(BaseModel):
    pass_id: int
    service_id: int
    practitioner_id: int
    sessions_total: int
    sessions_used: int
    sessions_left: int
    expires_at: datetime
    source_order_id: uuid.UUID
    status: PassStatus
