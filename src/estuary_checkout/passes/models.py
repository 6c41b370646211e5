from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, UTCDateTime, utcnow


class Pass(Base):
    """Prepaid sessions of one service with one practitioner, granted by a bundle or package."""

    __tablename__ = "pass"
    __table_args__ = (
        CheckConstraint("sessions_used >= 0 AND sessions_used <= sessions_total", name="sessions_used"),
        CheckConstraint("status IN ('active', 'exhausted', 'expired', 'revoked')", name="status"),
        # One pass per (order, line, child service): granting twice is impossible.
        UniqueConstraint("order_id", "order_line_id", "service_id"),
        Index("ix_pass_user_service", "user_id", "service_id", "practitioner_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    source_service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("order.id"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"))
    sessions_total: Mapped[int] = mapped_column(Integer)
    sessions_used: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
