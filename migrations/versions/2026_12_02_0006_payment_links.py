"""payment links: links, their uses (one per order made through a link), their view counts, and
the link an order was made through (SPEC 13.1)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import estuary_checkout.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = estuary_checkout.db.base.UTCDateTime(timezone=True)
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "payment_link",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("child_selections", NULLABLE_JSON, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("coupon_code", sa.String(length=64), nullable=True),
        sa.Column("allow_coupon_codes", sa.Boolean(), nullable=False),
        sa.Column("expires_at", UTC, nullable=True),
        sa.Column("max_completed", sa.Integer(), nullable=True),
        sa.Column("max_per_customer", sa.Integer(), nullable=True),
        sa.Column("restricted_to_email", sa.String(length=320), nullable=True),
        sa.Column("after_completion", JSON, nullable=False),
        sa.Column("inactive_message", sa.Text(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("reserved_count", sa.Integer(), nullable=False),
        sa.Column("completed_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint(
            "max_completed IS NULL OR max_completed >= 1", name=op.f("ck_payment_link_max_completed")
        ),
        sa.CheckConstraint(
            "max_per_customer IS NULL OR max_per_customer >= 1", name=op.f("ck_payment_link_max_per_customer")
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_payment_link_quantity")),
        sa.CheckConstraint(
            "reserved_count >= 0 AND completed_count >= 0", name=op.f("ck_payment_link_counts")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_payment_link_practitioner_id_practitioner"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_payment_link_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_link")),
        sa.UniqueConstraint("slug", name=op.f("uq_payment_link_slug")),
    )
    op.create_table(
        "payment_link_views",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("link_id", BIGINT, nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["payment_link.id"],
            name=op.f("fk_payment_link_views_link_id_payment_link"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_link_views")),
        sa.UniqueConstraint("link_id", name=op.f("uq_payment_link_views_link_id")),
    )
    op.create_table(
        "payment_link_use",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("link_id", BIGINT, nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint(
            "status IN ('reserved', 'completed', 'released')", name=op.f("ck_payment_link_use_status")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"], ["payment_link.id"], name=op.f("fk_payment_link_use_link_id_payment_link")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_payment_link_use_order_id_order")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_payment_link_use_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_link_use")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payment_link_use_order_id")),
    )
    with op.batch_alter_table("payment_link_use", schema=None) as batch_op:
        batch_op.create_index("ix_payment_link_use_customer", ["link_id", "user_id"], unique=False)

    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_link_id", BIGINT, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_order_payment_link_id_payment_link"), "payment_link", ["payment_link_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_order_payment_link_id_payment_link"), type_="foreignkey")
        batch_op.drop_column("payment_link_id")

    with op.batch_alter_table("payment_link_use", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_link_use_customer")

    op.drop_table("payment_link_use")
    op.drop_table("payment_link_views")
    op.drop_table("payment_link")
