"""after the sale: cancellation policy on bookings, booking history, each line's share of the
order's money, refunds per paying method, refunds to card or credit, workflow signals in the outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import estuary_checkout.db.base
from estuary_checkout.pricing.allocation import line_shares

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = estuary_checkout.db.base.UTCDateTime(timezone=True)
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REFUND_STATUSES = "('pending', 'requires_action', 'succeeded', 'failed', 'canceled')"
REFUND_REASONS = (
    "('duplicate', 'fraudulent', 'requested_by_customer', 'service_issue', 'other', 'late_payment', "
    "'card_refund_failed')"
)


def _backfill_line_shares() -> None:
    """Existing orders get their lines' shares with the same apportioning new orders use; which
    lines the coupon applied to is read from the coupon's current service list."""
    bind = op.get_bind()
    orders = bind.execute(
        sa.text(
            "SELECT o.id, o.discount_cents, o.tax_cents, o.credits_applied_cents, o.total_cents, "
            'c.allowed_service_ids FROM "order" o LEFT JOIN coupon c ON c.id = o.coupon_id'
        )
    ).all()
    for order_id, discount, tax, credits, total, allowed in orders:
        lines = bind.execute(
            sa.text(
                "SELECT id, service_id, line_total_cents FROM order_line WHERE order_id = :o ORDER BY line_no"
            ),
            {"o": order_id},
        ).all()
        if not lines:
            continue
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        eligible = [not allowed or sid in allowed for _, sid, _ in lines]
        shares = line_shares(
            [t for _, _, t in lines],
            eligible,
            discount_cents=discount,
            tax_cents=tax,
            credits_cents=credits,
            card_cents=total,
        )
        for (line_id, _, _), share in zip(lines, shares, strict=True):
            bind.execute(
                sa.text(
                    "UPDATE order_line SET discount_share_cents = :d, tax_share_cents = :x, "
                    "credit_share_cents = :c, card_share_cents = :k WHERE id = :id"
                ),
                {
                    "d": share.discount_cents,
                    "x": share.tax_cents,
                    "c": share.credit_cents,
                    "k": share.card_cents,
                    "id": line_id,
                },
            )


def upgrade() -> None:
    with op.batch_alter_table("booking") as b:
        b.add_column(sa.Column("policy_full_refund_hours", sa.Integer(), server_default="24", nullable=False))
        b.add_column(
            sa.Column("policy_late_cancel_refund_percent", sa.Integer(), server_default="0", nullable=False)
        )
        b.add_column(
            sa.Column("policy_reschedule_cutoff_hours", sa.Integer(), server_default="24", nullable=False)
        )
        b.add_column(sa.Column("policy_max_reschedules", sa.Integer(), server_default="2", nullable=False))
        b.add_column(sa.Column("pass_returned", sa.Boolean(), server_default=sa.false(), nullable=False))
        b.create_check_constraint(
            b.f("ck_booking_policy_range"),
            "policy_full_refund_hours >= 0 AND policy_reschedule_cutoff_hours >= 0 "
            "AND policy_max_reschedules >= 0 AND policy_late_cancel_refund_percent BETWEEN 0 AND 100",
        )
    if op.get_bind().dialect.name == "sqlite":
        # rebuilding booking dropped its overlap triggers: 0002's guard, again
        _recreate_sqlite_overlap_guard()

    op.create_table(
        "booking_event",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("booking_id", BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("actor_sub", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("from_start_at", UTC, nullable=True),
        sa.Column("from_end_at", UTC, nullable=True),
        sa.Column("to_start_at", UTC, nullable=True),
        sa.Column("to_end_at", UTC, nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.CheckConstraint("kind IN ('canceled', 'rescheduled')", name=op.f("ck_booking_event_kind")),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_booking_event_booking_id_booking")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_event")),
    )
    op.create_index(op.f("ix_booking_event_booking_id"), "booking_event", ["booking_id"])

    with op.batch_alter_table("order_line") as b:
        for name in ("discount_share_cents", "tax_share_cents", "credit_share_cents", "card_share_cents"):
            b.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    _backfill_line_shares()
    with op.batch_alter_table("order_line") as b:
        b.create_check_constraint(
            b.f("ck_order_line_shares_nonnegative"),
            "discount_share_cents >= 0 AND tax_share_cents >= 0 AND credit_share_cents >= 0 "
            "AND card_share_cents >= 0 AND discount_share_cents <= line_total_cents",
        )
        b.create_check_constraint(
            b.f("ck_order_line_shares_add_up"),
            "line_total_cents - discount_share_cents + tax_share_cents = credit_share_cents + card_share_cents",
        )

    with op.batch_alter_table("order") as b:
        b.add_column(sa.Column("refund_from_card_cents", sa.Integer(), server_default="0", nullable=False))
        b.add_column(sa.Column("refund_from_credit_cents", sa.Integer(), server_default="0", nullable=False))
    # refunds recorded so far were all card refunds (late payments, refunds made at Stripe)
    op.execute('UPDATE "order" SET refund_from_card_cents = refunded_cents')
    with op.batch_alter_table("order") as b:
        b.drop_constraint(b.f("ck_order_refund_cap"), type_="check")
        b.create_check_constraint(
            b.f("ck_order_refund_cap"), "refunded_cents <= total_cents + credits_applied_cents"
        )
        b.create_check_constraint(
            b.f("ck_order_card_refund_cap"), "refund_from_card_cents BETWEEN 0 AND total_cents"
        )
        b.create_check_constraint(
            b.f("ck_order_credit_refund_cap"), "refund_from_credit_cents BETWEEN 0 AND credits_applied_cents"
        )

    with op.batch_alter_table("refund") as b:
        b.add_column(sa.Column("key", sa.String(length=255), nullable=True))
        b.add_column(sa.Column("booking_id", BIGINT, nullable=True))
        b.add_column(sa.Column("source", sa.String(length=8), server_default="card", nullable=False))
        b.add_column(sa.Column("destination", sa.String(length=8), server_default="card", nullable=False))
        b.add_column(sa.Column("note", sa.Text(), nullable=True))
        b.add_column(sa.Column("failure_reason", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("replaces_refund_id", BIGINT, nullable=True))
        b.add_column(sa.Column("created_by", sa.String(length=16), server_default="system", nullable=False))
        b.add_column(sa.Column("actor_sub", sa.String(length=255), nullable=True))
    # the old free-text reason becomes the note; the reason is a code now
    op.execute("UPDATE refund SET key = 'stripe:' || stripe_refund_id, note = reason")
    op.execute(
        "UPDATE refund SET reason = CASE WHEN note LIKE 'paid after the order expired%' "
        "THEN 'late_payment' ELSE 'other' END"
    )
    with op.batch_alter_table("refund") as b:
        b.alter_column("key", existing_type=sa.String(length=255), nullable=False)
        b.alter_column("stripe_refund_id", existing_type=sa.String(length=255), nullable=True)
        b.alter_column(
            "reason",
            existing_type=sa.Text(),
            type_=sa.String(length=32),
            nullable=False,
            server_default="other",
        )
        b.create_unique_constraint(b.f("uq_refund_key"), ["key"])
        b.create_unique_constraint(b.f("uq_refund_replaces_refund_id"), ["replaces_refund_id"])
        b.create_index(b.f("ix_refund_booking_id"), ["booking_id"])
        b.create_foreign_key(b.f("fk_refund_booking_id_booking"), "booking", ["booking_id"], ["id"])
        b.create_foreign_key(
            b.f("fk_refund_replaces_refund_id_refund"), "refund", ["replaces_refund_id"], ["id"]
        )
        b.create_check_constraint(b.f("ck_refund_status"), f"status IN {REFUND_STATUSES}")
        b.create_check_constraint(b.f("ck_refund_destination"), "destination IN ('card', 'credit')")
        b.create_check_constraint(b.f("ck_refund_source"), "source IN ('card', 'credit')")
        b.create_check_constraint(b.f("ck_refund_reason"), f"reason IN {REFUND_REASONS}")
        b.create_check_constraint(b.f("ck_refund_amount_positive"), "amount_cents > 0")
        b.create_check_constraint(
            b.f("ck_refund_stripe_only_for_card"), "destination = 'card' OR stripe_refund_id IS NULL"
        )

    with op.batch_alter_table("outbox") as b:
        b.add_column(sa.Column("signal_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as b:
        b.drop_column("signal_name")
    op.execute("DELETE FROM refund WHERE destination = 'credit' OR stripe_refund_id IS NULL")
    with op.batch_alter_table("refund") as b:
        for ck in ("stripe_only_for_card", "amount_positive", "reason", "source", "destination", "status"):
            b.drop_constraint(b.f(f"ck_refund_{ck}"), type_="check")
        b.drop_constraint(b.f("fk_refund_replaces_refund_id_refund"), type_="foreignkey")
        b.drop_constraint(b.f("fk_refund_booking_id_booking"), type_="foreignkey")
        b.drop_index(b.f("ix_refund_booking_id"))
        b.drop_constraint(b.f("uq_refund_replaces_refund_id"), type_="unique")
        b.drop_constraint(b.f("uq_refund_key"), type_="unique")
        b.alter_column(
            "reason", existing_type=sa.String(length=32), type_=sa.Text(), nullable=True, server_default=None
        )
        b.alter_column("stripe_refund_id", existing_type=sa.String(length=255), nullable=False)
    op.execute("UPDATE refund SET reason = note")
    with op.batch_alter_table("refund") as b:
        for col in (
            "actor_sub",
            "created_by",
            "replaces_refund_id",
            "failure_reason",
            "note",
            "destination",
            "source",
            "booking_id",
            "key",
        ):
            b.drop_column(col)
    with op.batch_alter_table("order") as b:
        b.drop_constraint(b.f("ck_order_credit_refund_cap"), type_="check")
        b.drop_constraint(b.f("ck_order_card_refund_cap"), type_="check")
        b.drop_constraint(b.f("ck_order_refund_cap"), type_="check")
        b.create_check_constraint(b.f("ck_order_refund_cap"), "refunded_cents <= total_cents")
        b.drop_column("refund_from_credit_cents")
        b.drop_column("refund_from_card_cents")
    with op.batch_alter_table("order_line") as b:
        b.drop_constraint(b.f("ck_order_line_shares_add_up"), type_="check")
        b.drop_constraint(b.f("ck_order_line_shares_nonnegative"), type_="check")
        for name in ("card_share_cents", "credit_share_cents", "tax_share_cents", "discount_share_cents"):
            b.drop_column(name)
    op.drop_index(op.f("ix_booking_event_booking_id"), table_name="booking_event")
    op.drop_table("booking_event")
    with op.batch_alter_table("booking") as b:
        b.drop_constraint(b.f("ck_booking_policy_range"), type_="check")
        for col in (
            "pass_returned",
            "policy_max_reschedules",
            "policy_reschedule_cutoff_hours",
            "policy_late_cancel_refund_percent",
            "policy_full_refund_hours",
        ):
            b.drop_column(col)
    if op.get_bind().dialect.name == "sqlite":
        _recreate_sqlite_overlap_guard()


_OVERLAP_SQLITE = """
    SELECT RAISE(ABORT, 'booking_overlap')
    WHERE NEW.status IN ('pending_payment', 'confirmed') AND EXISTS (
        SELECT 1 FROM booking b
        WHERE b.practitioner_id = NEW.practitioner_id
          AND b.id <> NEW.id
          AND b.status IN ('pending_payment', 'confirmed')
          AND b.start_at < NEW.blocked_until AND NEW.start_at < b.blocked_until
    );
"""


def _recreate_sqlite_overlap_guard() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_booking_no_overlap_insert")
    op.execute("DROP TRIGGER IF EXISTS trg_booking_no_overlap_update")
    op.execute(
        f"CREATE TRIGGER trg_booking_no_overlap_insert BEFORE INSERT ON booking BEGIN {_OVERLAP_SQLITE} END"
    )
    op.execute(
        "CREATE TRIGGER trg_booking_no_overlap_update BEFORE UPDATE OF status, start_at, end_at, blocked_until, "
        f"practitioner_id ON booking BEGIN {_OVERLAP_SQLITE} END"
    )
