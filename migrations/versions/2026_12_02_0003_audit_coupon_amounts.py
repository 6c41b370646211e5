"""audit log (append-only, enforced by triggers); coupon fixed amounts per currency

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import estuary_checkout.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = estuary_checkout.db.base.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")

_AMOUNT_0002 = (
    "(kind = 'percent' AND percent_off BETWEEN 1 AND 100) OR (kind = 'fixed' AND amount_off_cents > 0)"
)
_AMOUNT_0003 = (
    "(kind = 'percent' AND percent_off BETWEEN 1 AND 100 AND amount_off IS NULL)"
    " OR (kind = 'fixed' AND percent_off IS NULL AND amount_off IS NOT NULL)"
)

_APPEND_ONLY_MESSAGE = "audit_log is append-only: rows are never updated or deleted"


def _create_audit_log(dialect: str) -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_sub", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id", "id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_sub", "id"])
    # Append-only in the database itself, not only in the service: whatever connects (a script,
    # a console session, a bug) cannot rewrite or remove history.
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute(
            "CREATE TRIGGER trg_audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
            )


def _drop_audit_log(dialect: str) -> None:
    op.drop_table("audit_log")  # its triggers and indexes go with it
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_audit_log(dialect)

    # Coupons: `amount_off_cents` + `currency` become `amount_off: {currency: cents}` (SPEC 14).
    # A fixed coupon without a currency applied in any currency before; the only one sold until
    # now is the default, usd, so that is the amount's currency.
    with op.batch_alter_table("coupon") as b:
        b.add_column(sa.Column("amount_off", JSON, nullable=True))
    build = "jsonb_build_object" if dialect == "postgresql" else "json_object"
    op.execute(
        f"UPDATE coupon SET amount_off = {build}(lower(COALESCE(currency, 'usd')), amount_off_cents) "
        "WHERE kind = 'fixed'"
    )
    op.execute("UPDATE coupon SET percent_off = NULL WHERE kind = 'fixed'")
    with op.batch_alter_table("coupon") as b:
        b.drop_constraint(b.f("ck_coupon_amount"), type_="check")
        b.drop_column("amount_off_cents")
        b.drop_column("currency")
        b.create_check_constraint(b.f("ck_coupon_amount"), _AMOUNT_0003)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("coupon") as b:
        b.drop_constraint(b.f("ck_coupon_amount"), type_="check")
        b.add_column(sa.Column("amount_off_cents", sa.Integer(), nullable=True))
        b.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    # one currency per coupon before 0003: usd if the coupon has it, else the first by code
    if dialect == "postgresql":
        pick = "(SELECT key FROM jsonb_each_text(amount_off) ORDER BY key <> 'usd', key LIMIT 1)"
        op.execute(f"UPDATE coupon SET currency = {pick} WHERE kind = 'fixed'")
        op.execute("UPDATE coupon SET amount_off_cents = (amount_off ->> currency)::int WHERE kind = 'fixed'")
    else:
        pick = "(SELECT key FROM json_each(coupon.amount_off) ORDER BY key <> 'usd', key LIMIT 1)"
        op.execute(f"UPDATE coupon SET currency = {pick} WHERE kind = 'fixed'")
        op.execute(
            "UPDATE coupon SET amount_off_cents = json_extract(amount_off, '$.\"' || currency || '\"') "
            "WHERE kind = 'fixed'"
        )
    with op.batch_alter_table("coupon") as b:
        b.drop_column("amount_off")
        b.create_check_constraint(b.f("ck_coupon_amount"), _AMOUNT_0002)

    _drop_audit_log(dialect)
