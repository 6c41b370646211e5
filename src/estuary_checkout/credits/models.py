from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, UTCDateTime, utcnow

LEDGER_KINDS = ("grant", "hold", "release", "capture", "refund", "adjustment", "expiry")


class CreditBalance(Base):
    """Per-user running totals of the ledger; the CHECKs make a negative balance impossible.

    balance_cents is what the user can spend now; held_cents is reserved by unpaid orders.
    Invariant (tested): balance_cents = Σ ledger.balance_delta_cents, held_cents = Σ held_delta_cents.
    """

    __tablename__ = "credit_balance"
    __table_args__ = (
        CheckConstraint("balance_cents >= 0", name="balance_nonnegative"),
        CheckConstraint("held_cents >= 0", name="held_nonnegative"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    balance_cents: Mapped[int] = mapped_column(Integer, default=0)
    held_cents: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CreditLedgerEntry(Base):
    """Append-only: one row per movement; `key` is unique so a retried movement cannot apply twice."""

    __tablename__ = "credit_ledger"
    __table_args__ = (CheckConstraint("kind IN ('" + "', '".join(LEDGER_KINDS) + "')", name="kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    balance_delta_cents: Mapped[int] = mapped_column(Integer)
    held_delta_cents: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
