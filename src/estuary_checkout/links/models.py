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
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, JSONType, NullableJSONType, UTCDateTime, utcnow


class PaymentLink(Base):
    """An offer of one service at a random, unguessable slug.

    `reserved_count` counts orders created through the link and still unpaid, `completed_count`
    the paid ones; a use is reserved by one conditional UPDATE (`uses.reserve`), so with
    `max_completed` set the two never add up to more than it, however many buyers race.
    """

    __tablename__ = "payment_link"
    __table_args__ = (
        CheckConstraint("reserved_count >= 0 AND completed_count >= 0", name="counts"),
        CheckConstraint("quantity >= 1", name="quantity"),
        CheckConstraint("max_completed IS NULL OR max_completed >= 1", name="max_completed"),
        CheckConstraint("max_per_customer IS NULL OR max_per_customer >= 1", name="max_per_customer"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    child_selections: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    currency: Mapped[str] = mapped_column(String(3))
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    allow_coupon_codes: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_completed: Mapped[int | None] = mapped_column(Integer)
    max_per_customer: Mapped[int | None] = mapped_column(Integer)
    restricted_to_email: Mapped[str | None] = mapped_column(String(320))
    after_completion: Mapped[dict[str, Any]] = mapped_column(JSONType)
    inactive_message: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reserved_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentLinkUse(Base):
    """One order made through a link: reserved at create, then completed (paid) or released
    (expired). The status moves once each way, so the link's counters move once."""

    __tablename__ = "payment_link_use"
    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'completed', 'released')", name="status"),
        Index("ix_payment_link_use_customer", "link_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("payment_link.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("order.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentLinkViews(Base):
    """Views of a link's offer, added up in each API process and written every few seconds (one
    UPDATE per link and flush, never one per view)."""

    __tablename__ = "payment_link_views"
    __table_args__ = (UniqueConstraint("link_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("payment_link.id", ondelete="CASCADE"))
    views: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
