from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from estuary_checkout.db.base import Base, UTCDateTime, utcnow


class Practitioner(Base):
    __tablename__ = "practitioner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    availability: Mapped[list[AvailabilityWindow]] = relationship(
        back_populates="practitioner", lazy="raise", order_by="AvailabilityWindow.weekday"
    )


class AvailabilityWindow(Base):
    """A weekly window in the practitioner's own timezone; minutes since local midnight, end exclusive."""

    __tablename__ = "availability_window"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute", name="minutes"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioner.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    practitioner: Mapped[Practitioner] = relationship(back_populates="availability", lazy="raise")


class Service(Base):
    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("type IN ('session', 'bundle', 'package')", name="type"),
        CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_nonnegative"),
        CheckConstraint("max_per_customer >= 1", name="max_per_customer"),
        CheckConstraint("type <> 'session' OR duration_minutes > 0", name="session_duration"),
        CheckConstraint("type = 'package' OR price_cents IS NOT NULL", name="priced"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"), index=True)
    price_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_per_customer: Mapped[int] = mapped_column(Integer, default=5)
    # bundle fields
    bundle_child_service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    sessions_included: Mapped[int | None] = mapped_column(Integer)
    bonus_sessions: Mapped[int] = mapped_column(Integer, default=0)
    validity_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    children: Mapped[list[PackageChild]] = relationship(
        foreign_keys="PackageChild.package_id", lazy="raise", order_by="PackageChild.child_service_id"
    )


class PackageChild(Base):
    __tablename__ = "package_child"
    __table_args__ = (
        UniqueConstraint("package_id", "child_service_id"),
        CheckConstraint("quantity BETWEEN 1 AND 10", name="quantity"),
        CheckConstraint("discount_percentage BETWEEN 0 AND 100", name="discount"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    child_service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    discount_percentage: Mapped[int] = mapped_column(Integer, default=0)

    child: Mapped[Service] = relationship(foreign_keys=[child_service_id], lazy="raise")
