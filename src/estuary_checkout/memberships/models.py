from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from estuary_checkout.db.base import Base, BigIntPK, JSONType, UTCDateTime, utcnow

# Stripe's subscription statuses; the first group still holds (or may yet hold) a paid period.
LIVE_STATUSES = ("incomplete", "trialing", "active", "past_due", "unpaid", "paused")
ENDED_STATUSES = ("canceled", "incomplete_expired")
STATUSES = LIVE_STATUSES + ENDED_STATUSES
_LIVE_SQL = "status IN (" + ", ".join(f"'{s}'" for s in LIVE_STATUSES) + ")"


class MembershipPlan(Base):
    """A recurring offer: each paid period grants `credits_per_period` sessions of the eligible
    services. One Stripe Product; one recurring Price per currency (membership_plan_price)."""

    __tablename__ = "membership_plan"
    __table_args__ = (
        CheckConstraint("interval IN ('month', 'year')", name="interval"),
        CheckConstraint("credits_per_period >= 1", name="credits_per_period"),
        CheckConstraint("rollover_cap >= 0", name="rollover_cap"),
        CheckConstraint("trial_days IS NULL OR trial_days >= 1", name="trial_days"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    interval: Mapped[str] = mapped_column(String(8))
    credits_per_period: Mapped[int] = mapped_column(Integer)
    eligible_service_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    rollover_cap: Mapped[int] = mapped_column(Integer, default=0)
    trial_days: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    stripe_product_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MembershipPlanPrice(Base):
    """A plan's price in one currency. Stripe Prices are immutable, so a new amount is a new row
    (and Price); the old one stays for the memberships that pay it, marked inactive."""

    __tablename__ = "membership_plan_price"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        CheckConstraint("length(currency) = 3 AND currency = lower(currency)", name="currency_code"),
        # at most one price on offer per (plan, currency)
        Index(
            "uq_membership_plan_price_active",
            "plan_id",
            "currency",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("membership_plan.id", ondelete="CASCADE"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    """A client's subscription to a plan, mirroring the Stripe Subscription's state.

    The partial unique index makes a second live membership of one user on one plan impossible
    however many subscribe requests race (the loser gets 409).
    """

    __tablename__ = "membership"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status"),
        Index(
            "uq_membership_live_plan",
            "user_id",
            "plan_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        UniqueConstraint("stripe_subscription_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("membership_plan.id"))
    plan_price_id: Mapped[int] = mapped_column(ForeignKey("membership_plan_price.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24), default="incomplete")
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    latest_invoice_id: Mapped[str | None] = mapped_column(String(255))
    latest_invoice_status: Mapped[str | None] = mapped_column(String(24))
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # +1 for each change applied from Stripe (names the membership.updated event of that change)
    state_version: Mapped[int] = mapped_column(Integer, default=0)
    # Stripe's subscription as last applied (for support; the columns above are what code reads)
    stripe_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
