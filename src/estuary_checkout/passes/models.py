from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, UTCDateTime, utcnow


class Pass(Base):
    """Prepaid sessions: granted by a bundle or package (one service with one practitioner), or by
    a membership's paid invoice (any of the plan's services, listed in pass_service)."""

    __tablename__ = "pass"
    __table_args__ = (
        CheckConstraint("sessions_used >= 0 AND sessions_used <= sessions_total", name="sessions_used"),
        CheckConstraint("status IN ('active', 'exhausted', 'expired', 'revoked', 'frozen')", name="status"),
        CheckConstraint(
            "(order_id IS NOT NULL AND order_line_id IS NOT NULL AND service_id IS NOT NULL "
            "AND practitioner_id IS NOT NULL AND source_service_id IS NOT NULL) "
            "OR (membership_id IS NOT NULL AND grant_key IS NOT NULL)",
            name="source",
        ),
        CheckConstraint("carried_in >= 0 AND carried_in <= sessions_total", name="carried_in"),
        # One pass per (order, line, child service): granting twice is impossible.
        UniqueConstraint("order_id", "order_line_id", "service_id"),
        # One pass per membership invoice (`membership:{id}:invoice:{invoice id}`), likewise.
        UniqueConstraint("grant_key"),
        Index("ix_pass_user_service", "user_id", "service_id", "practitioner_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # bundle/package passes: the one service and practitioner; NULL for membership passes
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    source_service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("order.id"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_line.id"))
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("membership.id"), index=True)
    grant_key: Mapped[str | None] = mapped_column(String(255))
    # membership passes: the paid period's start (expires_at is its end) and the sessions carried
    # over from the period before (within the plan's rollover cap)
    period_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carried_in: Mapped[int] = mapped_column(Integer, default=0)
    sessions_total: Mapped[int] = mapped_column(Integer)
    sessions_used: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PassService(Base):
    """The services a membership pass may be redeemed for (the plan's, frozen at grant time)."""

    __tablename__ = "pass_service"

    pass_id: Mapped[int] = mapped_column(ForeignKey("pass.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True, index=True)
