from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, UTCDateTime, utcnow

REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
REFUND_METHODS = ("card", "credit")
# the operator's reasons (SPEC 11.4) and the service's own
REFUND_REASONS = (
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "service_issue",
    "other",
    "late_payment",
    "card_refund_failed",
)


class Refund(Base):
    """Money going back to a client, to their card (a Stripe refund) or to store credit.

    `source` is the paying method whose share it uses (card or credit; see Order.refund_from_*),
    `destination` where it goes. Statuses mirror Stripe's: pending → succeeded, failed, canceled,
    and succeeded → failed; credit refunds are succeeded at once. A card refund that fails is
    replaced by a credit refund (`replaces_refund_id`, unique: once).
    """

    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint("status IN ('" + "', '".join(REFUND_STATUSES) + "')", name="status"),
        CheckConstraint("destination IN ('card', 'credit')", name="destination"),
        CheckConstraint("source IN ('card', 'credit')", name="source"),
        CheckConstraint("reason IN ('" + "', '".join(REFUND_REASONS) + "')", name="reason"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("destination = 'card' OR stripe_refund_id IS NULL", name="stripe_only_for_card"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # unique per operation that asked for it (a booking's cancel, an admin request's
    # Idempotency-Key, a Stripe refund id): the same operation twice writes one row, and the
    # Stripe call carries it as its idempotency key
    key: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("order.id"), index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(8), default="card", server_default="card")
    destination: Mapped[str] = mapped_column(String(8), default="card", server_default="card")
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32), default="other", server_default="other")
    note: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    replaces_refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id"), unique=True)
    created_by: Mapped[str] = mapped_column(String(16), default="system", server_default="system")
    actor_sub: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
