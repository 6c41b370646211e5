from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class CreditBalancePublic(BaseModel):
    balance_cents: int
    currency: str
    held_cents: int
    last_updated: datetime | None
