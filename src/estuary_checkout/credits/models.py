from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, UTCDateTime, utcnow

LEDGER_KINDS = ("grant", "hold", "release", "capture", "refund", "adjustment", "expiry")
# one spelling per currency ('usd', never 'USD'), so one currency cannot have two balances
CURRENCY_CODE = "length(currency) = 3 AND currency = lower(currency)"


class CreditBalance(Base):
    """Per-user, per-currency running totals of the ledger; the CHECKs make a negative balance
    impossible in every currency (credit in one currency never pays in another: SPEC 14).

    balance_cents is what the user can spend now; held_cents is reserved by unpaid orders.
    Invariant (tested), per (user, currency): balance_cents = Σ ledger.balance_delta_cents,
    held_cents = Σ held_delta_cents.
    """

    __tablename__ = "credit_balance"
    __table_args__ = (
        CheckConstraint("balance_cents >= 0", name="balance_nonnegative"),
        CheckConstraint("held_cents >= 0", name="held_nonnegative"),
        CheckConstraint(CURRENCY_CODE, name="currency_code"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance_cents: Mapped[int] = mapped_column(Integer, default=0)
    held_cents: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CreditLedgerEntry(Base):
    """Append-only: one row per movement, in one currency; `key` is unique across currencies so a
    retried movement cannot apply twice, not even in another currency."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        CheckConstraint("kind IN ('" + "', '".join(LEDGER_KINDS) + "')", name="kind"),
        CheckConstraint(CURRENCY_CODE, name="currency_code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    balance_delta_cents: Mapped[int] = mapped_column(Integer)
    held_delta_cents: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
