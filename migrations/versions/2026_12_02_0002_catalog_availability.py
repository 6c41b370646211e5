"""catalog and availability: practitioner buffer/step/external id, time off, prices per currency,
service description/external id, bookings blocked until the end of their buffer

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import estuary_checkout.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = estuary_checkout.db.base.UTCDateTime(timezone=True)

# Bookings of one practitioner that hold time (pending_payment, confirmed) may not overlap once
# each is widened by the buffer after it: [start_at, blocked_until) with blocked_until = end_at +
# buffer. Half-open, so a session may start exactly when the previous one's buffer ends.
_BLOCKING = "('pending_payment', 'confirmed')"
_OVERLAP_SQLITE = f"""
    SELECT RAISE(ABORT, 'booking_overlap')
    WHERE NEW.status IN {_BLOCKING} AND EXISTS (
        SELECT 1 FROM booking b
        WHERE b.practitioner_id = NEW.practitioner_id
          AND b.id <> NEW.id
          AND b.status IN {_BLOCKING}
          AND b.start_at < NEW.blocked_until AND NEW.start_at < b.blocked_until
    );
"""
# 0001's guard, restored by downgrade
_OVERLAP_SQLITE_0001 = _OVERLAP_SQLITE.replace("NEW.blocked_until", "NEW.end_at").replace(
    "b.blocked_until", "b.end_at"
)


def _drop_guard(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("ALTER TABLE booking DROP CONSTRAINT IF EXISTS ex_booking_no_overlap")
    else:
        op.execute("DROP TRIGGER IF EXISTS trg_booking_no_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS trg_booking_no_overlap_update")


def _create_guard(dialect: str, end_column: str, sqlite_body: str, update_columns: str) -> None:
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT ex_booking_no_overlap EXCLUDE USING gist ("
            f"practitioner_id WITH =, tstzrange(start_at, {end_column}, '[)') WITH &&) "
            f"WHERE (status IN {_BLOCKING})"
        )
    else:
        op.execute(
            f"CREATE TRIGGER trg_booking_no_overlap_insert BEFORE INSERT ON booking BEGIN {sqlite_body} END"
        )
        op.execute(
            f"CREATE TRIGGER trg_booking_no_overlap_update BEFORE UPDATE OF {update_columns} "
            f"ON booking BEGIN {sqlite_body} END"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("practitioner") as b:
        b.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        b.add_column(sa.Column("buffer_minutes", sa.Integer(), server_default="0", nullable=False))
        b.add_column(sa.Column("slot_step_minutes", sa.Integer(), server_default="15", nullable=False))
        b.add_column(sa.Column("updated_at", UTC, nullable=True))
        b.create_unique_constraint(b.f("uq_practitioner_external_id"), ["external_id"])
        b.create_check_constraint(b.f("ck_practitioner_buffer_range"), "buffer_minutes BETWEEN 0 AND 240")
        b.create_check_constraint(b.f("ck_practitioner_step_range"), "slot_step_minutes BETWEEN 5 AND 240")
    op.execute("UPDATE practitioner SET updated_at = created_at")
    with op.batch_alter_table("practitioner") as b:
        b.alter_column("updated_at", existing_type=UTC, nullable=False)

    with op.batch_alter_table("service") as b:
        b.add_column(sa.Column("description", sa.Text(), nullable=True))
        b.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        b.add_column(sa.Column("updated_at", UTC, nullable=True))
        b.create_unique_constraint(b.f("uq_service_external_id"), ["external_id"])
    op.execute("UPDATE service SET updated_at = created_at")
    with op.batch_alter_table("service") as b:
        b.alter_column("updated_at", existing_type=UTC, nullable=False)

    op.create_table(
        "service_price",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_service_price_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_service_price_service_id_service"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "currency", name=op.f("pk_service_price")),
    )
    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("start_at", UTC, nullable=False),
        sa.Column("end_at", UTC, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint("start_at < end_at", name=op.f("ck_time_off_time_order")),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_time_off_practitioner_id_practitioner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    op.create_index("ix_time_off_practitioner_end", "time_off", ["practitioner_id", "end_at"])

    # bookings: blocked_until (= end_at for every existing booking: they were made without buffers)
    _drop_guard(dialect)
    op.add_column("booking", sa.Column("blocked_until", UTC, nullable=True))
    op.execute("UPDATE booking SET blocked_until = end_at")
    with op.batch_alter_table("booking") as b:
        b.alter_column("blocked_until", existing_type=UTC, nullable=False)
        b.create_check_constraint(b.f("ck_booking_blocked_after_end"), "blocked_until >= end_at")
    _create_guard(
        dialect, "blocked_until", _OVERLAP_SQLITE, "status, start_at, end_at, blocked_until, practitioner_id"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_guard(dialect)
    with op.batch_alter_table("booking") as b:
        b.drop_constraint(b.f("ck_booking_blocked_after_end"), type_="check")
        b.drop_column("blocked_until")
    _create_guard(dialect, "end_at", _OVERLAP_SQLITE_0001, "status, start_at, end_at, practitioner_id")

    op.drop_index("ix_time_off_practitioner_end", table_name="time_off")
    op.drop_table("time_off")
    op.drop_table("service_price")
    with op.batch_alter_table("service") as b:
        b.drop_constraint(b.f("uq_service_external_id"), type_="unique")
        b.drop_column("updated_at")
        b.drop_column("external_id")
        b.drop_column("description")
    with op.batch_alter_table("practitioner") as b:
        b.drop_constraint(b.f("ck_practitioner_step_range"), type_="check")
        b.drop_constraint(b.f("ck_practitioner_buffer_range"), type_="check")
        b.drop_constraint(b.f("uq_practitioner_external_id"), type_="unique")
        b.drop_column("updated_at")
        b.drop_column("slot_step_minutes")
        b.drop_column("buffer_minutes")
        b.drop_column("external_id")
