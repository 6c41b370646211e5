from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, NullableJSONType, UTCDateTime, utcnow


class AuditLog(Base):
    """One row per admin write, in the write's own transaction (SPEC 10.4).

    Append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) in the database
    itself, see migration 0003.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id", "id"),
        Index("ix_audit_log_actor", "actor_sub", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_sub: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    request_id: Mapped[str | None] = mapped_column(String(64))
