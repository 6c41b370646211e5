from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from estuary_checkout.db.base import Base, BigIntPK, JSONType, UTCDateTime, new_uuid, utcnow

ORDER_STATUSES = (
    "pending_payment",
    "processing",
    "completed",
    "expired",
    "canceled",
    "failed",
    "refunded",
    "partially_refunded",
)


class Order(Base):
    __tablename__ = "order"
    __table_args__ = (
        CheckConstraint("status IN ('" + "', '".join(ORDER_STATUSES) + "')", name="status"),
        CheckConstraint("checkout_type IN ('single_session', 'bundle', 'package')", name="checkout_type"),
        CheckConstraint(
            "subtotal_cents >= 0 AND discount_cents >= 0 AND tax_cents >= 0 AND credits_applied_cents >= 0 "
            "AND total_cents >= 0 AND refunded_cents >= 0",
            name="money_nonnegative",
        ),
        CheckConstraint(
            "total_cents = subtotal_cents - discount_cents + tax_cents - credits_applied_cents", name="total"
        ),
        # refunded_cents counts succeeded refunds to the card and to store credit
        CheckConstraint("refunded_cents <= total_cents + credits_applied_cents", name="refund_cap"),
        # what each paying method paid is the most that can go back out of it (SPEC 11.3)
        CheckConstraint("refund_from_card_cents BETWEEN 0 AND total_cents", name="card_refund_cap"),
        CheckConstraint(
            "refund_from_credit_cents BETWEEN 0 AND credits_applied_cents", name="credit_refund_cap"
        ),
        Index("ix_order_user_status", "user_id", "status"),
        Index("ix_order_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    checkout_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default="pending_payment")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    credits_applied_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    # card-paid / credit-paid money given back or being given back (pending refunds included,
    # to whichever destination): raised only by a guarded UPDATE, capped by the CHECKs above
    refund_from_card_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refund_from_credit_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupon.id"))
    # the payment link the order was made through (SPEC 13.1), if any
    payment_link_id: Mapped[int | None] = mapped_column(ForeignKey("payment_link.id"))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    save_payment_method: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    payment_status: Mapped[str] = mapped_column(String(32), default="unpaid")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    refund_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(lazy="raise", order_by="OrderLine.line_no")


class OrderLine(Base):
    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("quantity >= 1", name="quantity"),
        CheckConstraint("unit_price_cents >= 0 AND line_total_cents >= 0", name="money_nonnegative"),
        CheckConstraint(
            "discount_share_cents >= 0 AND tax_share_cents >= 0 AND credit_share_cents >= 0 "
            "AND card_share_cents >= 0 AND discount_share_cents <= line_total_cents",
            name="shares_nonnegative",
        ),
        CheckConstraint(
            "line_total_cents - discount_share_cents + tax_share_cents = credit_share_cents + card_share_cents",
            name="shares_add_up",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    service_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    line_total_cents: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    child_selections: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    pass_id: Mapped[int | None] = mapped_column(Integer)  # no FK: pass rows reference order lines
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # the line's part of the order's discount, tax, store credit and card charge, apportioned at
    # checkout so the lines add up exactly to the order (pricing.allocation); its paid share is
    # credit_share_cents + card_share_cents
    discount_share_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax_share_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credit_share_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    card_share_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
