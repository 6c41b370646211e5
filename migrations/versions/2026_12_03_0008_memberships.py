"""memberships: plans with a price per currency, memberships mirroring Stripe subscriptions, and
passes granted by a membership's paid invoice (SPEC 15)

A pass now comes from an order line (bundle/package: one service, one practitioner) or from a
membership invoice (`grant_key` unique; its services in pass_service). Existing passes are all
order passes and keep their values.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import estuary_checkout.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sa.Text
OLD_STATUS = "status IN ('active', 'exhausted', 'expired', 'revoked')"
NEW_STATUS = "status IN ('active', 'exhausted', 'expired', 'revoked', 'frozen')"
SOURCE = (
    "(order_id IS NOT NULL AND order_line_id IS NOT NULL AND service_id IS NOT NULL "
    "AND practitioner_id IS NOT NULL AND source_service_id IS NOT NULL) "
    "OR (membership_id IS NOT NULL AND grant_key IS NOT NULL)"
)


def upgrade() -> None:
    op.create_table(
        "membership_plan",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("credits_per_period", sa.Integer(), nullable=False),
        sa.Column(
            "eligible_service_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("rollover_cap", sa.Integer(), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("stripe_product_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("interval IN ('month', 'year')", name=op.f("ck_membership_plan_interval")),
        sa.CheckConstraint("credits_per_period >= 1", name=op.f("ck_membership_plan_credits_per_period")),
        sa.CheckConstraint("rollover_cap >= 0", name=op.f("ck_membership_plan_rollover_cap")),
        sa.CheckConstraint(
            "trial_days IS NULL OR trial_days >= 1", name=op.f("ck_membership_plan_trial_days")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_plan")),
        sa.UniqueConstraint("stripe_product_id", name=op.f("uq_membership_plan_stripe_product_id")),
    )
    op.create_table(
        "membership_plan_price",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_membership_plan_price_amount_cents")),
        sa.CheckConstraint(
            "length(currency) = 3 AND currency = lower(currency)",
            name=op.f("ck_membership_plan_price_currency_code"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["membership_plan.id"],
            name=op.f("fk_membership_plan_price_plan_id_membership_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_plan_price")),
        sa.UniqueConstraint("stripe_price_id", name=op.f("uq_membership_plan_price_stripe_price_id")),
    )
    with op.batch_alter_table("membership_plan_price", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_plan_price_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "uq_membership_plan_price_active",
            ["plan_id", "currency"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    op.create_table(
        "membership",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("plan_price_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("latest_invoice_id", sa.String(length=255), nullable=True),
        sa.Column("latest_invoice_status", sa.String(length=24), nullable=True),
        sa.Column("current_period_start", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("current_period_end", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column(
            "stripe_snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused', 'canceled', 'incomplete_expired')",
            name=op.f("ck_membership_status"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["membership_plan.id"], name=op.f("fk_membership_plan_id_membership_plan")
        ),
        sa.ForeignKeyConstraint(
            ["plan_price_id"],
            ["membership_plan_price.id"],
            name=op.f("fk_membership_plan_price_id_membership_plan_price"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_membership_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint("stripe_subscription_id", name=op.f("uq_membership_stripe_subscription_id")),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_membership_live_plan",
            ["user_id", "plan_id"],
            unique=True,
            sqlite_where=sa.text(
                "status IN ('incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused')"
            ),
            postgresql_where=sa.text(
                "status IN ('incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused')"
            ),
        )

    op.create_table(
        "pass_service",
        sa.Column("pass_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["pass.id"], name=op.f("fk_pass_service_pass_id_pass"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_pass_service_service_id_service")
        ),
        sa.PrimaryKeyConstraint("pass_id", "service_id", name=op.f("pk_pass_service")),
    )
    with op.batch_alter_table("pass_service", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pass_service_service_id"), ["service_id"], unique=False)

    with op.batch_alter_table("pass", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("membership_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("grant_key", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("period_start_at", estuary_checkout.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("carried_in", sa.Integer(), nullable=False, server_default="0"))
        batch_op.alter_column("service_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("practitioner_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("source_service_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("order_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.alter_column("order_line_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_pass_membership_id"), ["membership_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_pass_grant_key"), ["grant_key"])
        batch_op.create_foreign_key(
            batch_op.f("fk_pass_membership_id_membership"), "membership", ["membership_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_pass_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_pass_status"), NEW_STATUS)
        batch_op.create_check_constraint(batch_op.f("ck_pass_source"), SOURCE)
        batch_op.create_check_constraint(
            batch_op.f("ck_pass_carried_in"), "carried_in >= 0 AND carried_in <= sessions_total"
        )
    with op.batch_alter_table("pass", schema=None) as batch_op:
        batch_op.alter_column("carried_in", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    """Membership passes have no order to belong to: they go with their memberships."""
    op.execute(
        "UPDATE booking SET pass_id = NULL WHERE pass_id IN (SELECT id FROM pass WHERE membership_id IS NOT NULL)"
    )
    op.execute(
        "UPDATE order_line SET pass_id = NULL WHERE pass_id IN (SELECT id FROM pass WHERE membership_id IS NOT NULL)"
    )
    op.execute("DELETE FROM pass_service")
    op.execute("DELETE FROM pass WHERE membership_id IS NOT NULL")
    op.execute("UPDATE pass SET status = 'active' WHERE status = 'frozen'")
    with op.batch_alter_table("pass", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_pass_carried_in"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_pass_source"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_pass_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_pass_status"), OLD_STATUS)
        batch_op.drop_constraint(batch_op.f("fk_pass_membership_id_membership"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_pass_grant_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_pass_membership_id"))
        batch_op.alter_column("order_line_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("order_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("source_service_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("practitioner_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("service_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("carried_in")
        batch_op.drop_column("period_start_at")
        batch_op.drop_column("grant_key")
        batch_op.drop_column("membership_id")

    with op.batch_alter_table("pass_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pass_service_service_id"))

    op.drop_table("pass_service")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_membership_live_plan",
            sqlite_where=sa.text(
                "status IN ('incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused')"
            ),
            postgresql_where=sa.text(
                "status IN ('incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused')"
            ),
        )
        batch_op.drop_index(batch_op.f("ix_membership_user_id"))

    op.drop_table("membership")
    with op.batch_alter_table("membership_plan_price", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_membership_plan_price_active",
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )
        batch_op.drop_index(batch_op.f("ix_membership_plan_price_plan_id"))

    op.drop_table("membership_plan_price")
    op.drop_table("membership_plan")
