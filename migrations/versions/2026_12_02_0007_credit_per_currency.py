"""store credit per currency: a balance row per (user, currency), each ledger row in a currency
(SPEC 14)

Existing credit keeps the currency its balance row names (lower-cased); ledger rows take their
user's balance currency, or usd (what the code always wrote) for a user without a balance row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENCY_CODE = "length(currency) = 3 AND currency = lower(currency)"
OLD_DEFAULT_CURRENCY = "usd"


def upgrade() -> None:
    op.execute("UPDATE credit_balance SET currency = lower(currency)")
    with op.batch_alter_table("credit_balance") as b:
        b.drop_constraint("pk_credit_balance", type_="primary")
        b.create_primary_key("pk_credit_balance", ["user_id", "currency"])
        b.create_check_constraint(b.f("ck_credit_balance_currency_code"), CURRENCY_CODE)

    with op.batch_alter_table("credit_ledger") as b:
        b.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    # while a user had one balance row, all their movements were in its currency
    op.execute(
        "UPDATE credit_ledger SET currency = COALESCE((SELECT b.currency FROM credit_balance b "
        f"WHERE b.user_id = credit_ledger.user_id), '{OLD_DEFAULT_CURRENCY}')"
    )
    with op.batch_alter_table("credit_ledger") as b:
        b.alter_column("currency", existing_type=sa.String(length=3), nullable=False)
        b.create_check_constraint(b.f("ck_credit_ledger_currency_code"), CURRENCY_CODE)


def downgrade() -> None:
    """Back to one balance row per user: possible while each user has credit (balance or held)
    in at most one currency; otherwise refuse rather than lose money. Empty rows in the other
    currencies go (their ledger rows sum to zero, so the user's ledger still sums to the row)."""
    bind = op.get_bind()
    several = bind.execute(
        sa.text(
            "SELECT user_id FROM credit_balance WHERE balance_cents <> 0 OR held_cents <> 0 "
            "GROUP BY user_id HAVING count(*) > 1 ORDER BY user_id"
        )
    ).all()
    if several:
        users = ", ".join(str(u) for (u,) in several[:10])
        raise RuntimeError(
            "cannot downgrade below 0007: these users hold store credit in more than one currency "
            f"(first 10): {users}; settle or adjust it to one currency first"
        )
    # keep each user's non-empty row, else their first currency by code
    op.execute(
        "DELETE FROM credit_balance WHERE balance_cents = 0 AND held_cents = 0 AND EXISTS ("
        "SELECT 1 FROM credit_balance o WHERE o.user_id = credit_balance.user_id "
        "AND o.currency <> credit_balance.currency "
        "AND (o.balance_cents <> 0 OR o.held_cents <> 0 OR o.currency < credit_balance.currency))"
    )
    with op.batch_alter_table("credit_ledger") as b:
        b.drop_constraint(b.f("ck_credit_ledger_currency_code"), type_="check")
        b.drop_column("currency")
    with op.batch_alter_table("credit_balance") as b:
        b.drop_constraint(b.f("ck_credit_balance_currency_code"), type_="check")
        b.drop_constraint("pk_credit_balance", type_="primary")
        b.create_primary_key("pk_credit_balance", ["user_id"])
