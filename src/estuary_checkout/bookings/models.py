from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, UTCDateTime, utcnow

BOOKING_STATUSES = ("pending_payment", "confirmed", "completed", "canceled")
# who canceled a booking (`canceled_by`)
CANCELERS = ("client", "admin", "practitioner", "expiry", "system")
BOOKING_EVENT_KINDS = ("canceled", "rescheduled")
# Statuses that occupy the practitioner's time; the overlap rule applies to these only.
BLOCKING_STATUSES = ("pending_payment", "confirmed")


class Booking(Base):
    """One session at a time with a practitioner.

    Overlap between blocking bookings of one practitioner is refused by the database: an
    exclusion constraint on PostgreSQL, triggers on SQLite (see migrations and docs/decisions.md).
    What may not overlap is [start_at, blocked_until): the session plus the practitioner's
    buffer after it, as it was when the booking took (or last moved to) its slot. Two sessions
    therefore always lie at least the earlier one's buffer apart, and the same guard that stops
    double bookings stops a booking inside another's buffer.
    """

    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint("status IN ('" + "', '".join(BOOKING_STATUSES) + "')", name="status"),
        CheckConstraint("start_at < end_at", name="time_order"),
        CheckConstraint("blocked_until >= end_at", name="blocked_after_end"),
        CheckConstraint(
            "policy_full_refund_hours >= 0 AND policy_reschedule_cutoff_hours >= 0 "
            "AND policy_max_reschedules >= 0 AND policy_late_cancel_refund_percent BETWEEN 0 AND 100",
            name="policy_range",
        ),
        Index("ix_booking_practitioner_start", "practitioner_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("order.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_line.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("pass.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # end_at + the practitioner's buffer (see above); no buffer when an insert does not say
    blocked_until: Mapped[datetime] = mapped_column(
        UTCDateTime, default=lambda ctx: ctx.get_current_parameters()["end_at"]
    )
    status: Mapped[str] = mapped_column(
        String(24), default="pending_payment", server_default=text("'pending_payment'")
    )
    canceled_by: Mapped[str | None] = mapped_column(String(32))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)
    # the cancellation policy as it was when the booking was made (SPEC 11.2): a later change of
    # the settings never alters an existing booking
    policy_full_refund_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    policy_late_cancel_refund_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    policy_reschedule_cutoff_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    policy_max_reschedules: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    # a pass-covered booking canceled in time gives its session back once
    pass_returned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BookingEvent(Base):
    """What happened to a booking after it was made (cancellations, reschedules): the history an
    operator's order timeline shows. Append-only."""

    __tablename__ = "booking_event"
    __table_args__ = (CheckConstraint("kind IN ('" + "', '".join(BOOKING_EVENT_KINDS) + "')", name="kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(32))  # one of CANCELERS
    actor_sub: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    from_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    from_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
