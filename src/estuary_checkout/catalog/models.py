from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from estuary_checkout.db.base import Base, UTCDateTime, utcnow


class Practitioner(Base):
    __tablename__ = "practitioner"
    __table_args__ = (
        CheckConstraint("buffer_minutes BETWEEN 0 AND 240", name="buffer_range"),
        CheckConstraint("slot_step_minutes BETWEEN 5 AND 240", name="step_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the host platform's id for this practitioner (catalog push and import match on it)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # rest time kept free after each session (see bookings.models.Booking.blocked_until)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # slots start every `slot_step_minutes` from the start of each availability window
    slot_step_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    availability: Mapped[list[AvailabilityWindow]] = relationship(
        back_populates="practitioner",
        lazy="raise",
        order_by="[AvailabilityWindow.weekday, AvailabilityWindow.start_minute]",
    )
    # loaded with a filter (upcoming only) where needed: see catalog.repository
    time_off: Mapped[list[TimeOff]] = relationship(lazy="raise", order_by="TimeOff.start_at")


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


class TimeOff(Base):
    """A period the practitioner cannot be booked (holiday, illness); UTC instants, end exclusive."""

    __tablename__ = "time_off"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="time_order"),
        Index("ix_time_off_practitioner_end", "practitioner_id", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    description: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # the default-currency price; prices in other currencies are ServicePrice rows
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
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    children: Mapped[list[PackageChild]] = relationship(
        foreign_keys="PackageChild.package_id", lazy="raise", order_by="PackageChild.child_service_id"
    )
    other_prices: Mapped[list[ServicePrice]] = relationship(lazy="raise", order_by="ServicePrice.currency")


class ServicePrice(Base):
    """The service's price in a currency other than its default one (`Service.currency`)."""

    __tablename__ = "service_price"
    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_nonnegative"),)

    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(Integer)


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
