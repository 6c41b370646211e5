from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, JSONType, NullableJSONType, UTCDateTime, utcnow


class Coupon(Base):
    __tablename__ = "coupon"
    __table_args__ = (
        CheckConstraint("kind IN ('percent', 'fixed')", name="kind"),
        CheckConstraint(
            "(kind = 'percent' AND percent_off BETWEEN 1 AND 100 AND amount_off IS NULL)"
            " OR (kind = 'fixed' AND percent_off IS NULL AND amount_off IS NOT NULL)",
            name="amount",
        ),
        CheckConstraint(
            "max_redemptions IS NULL OR redeemed_count <= max_redemptions", name="redemption_limit"
        ),
        CheckConstraint("redeemed_count >= 0", name="redeemed_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # stored upper-case
    kind: Mapped[str] = mapped_column(String(16))
    percent_off: Mapped[int | None] = mapped_column(Integer)
    # fixed coupons: {currency: minor units off}; the coupon applies only in these currencies
    amount_off: Mapped[dict[str, int] | None] = mapped_column(NullableJSONType)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    max_per_user: Mapped[int | None] = mapped_column(Integer)
    min_subtotal_cents: Mapped[int] = mapped_column(Integer, default=0)
    allowed_checkout_types: Mapped[list[str] | None] = mapped_column(JSONType)
    allowed_service_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    # reserved + final redemptions; guarded by the CHECK above and a conditional UPDATE
    redeemed_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CouponRedemption(Base):
    __tablename__ = "coupon_redemption"
    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'final', 'released')", name="status"),
        Index("ix_coupon_redemption_coupon_user", "coupon_id", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupon.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    discount_cents: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
