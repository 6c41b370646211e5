from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.credits.models import CreditBalance, CreditLedgerEntry
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import SessionOrConnection, core_connection, upsert_insert


async def ensure_balance_row(session: AsyncSession, user_id: int, currency: str) -> None:
    stmt = upsert_insert(session, CreditBalance).values(
        user_id=user_id, currency=currency, balance_cents=0, held_cents=0, updated_at=utcnow()
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "currency"]))


async def get_balance(session: AsyncSession, user_id: int, currency: str) -> CreditBalance | None:
    return (
        await session.execute(
            select(CreditBalance).where(CreditBalance.user_id == user_id, CreditBalance.currency == currency)
        )
    ).scalar_one_or_none()


async def balances(session: AsyncSession, user_id: int) -> list[CreditBalance]:
    """Every currency the user has a balance row in, by currency code."""
    rows = await session.execute(
        select(CreditBalance).where(CreditBalance.user_id == user_id).order_by(CreditBalance.currency)
    )
    return list(rows.scalars())


_BALANCE_CENTS = select(CreditBalance.__table__.c.balance_cents).where(
    CreditBalance.__table__.c.user_id == bindparam("user_id"),
    CreditBalance.__table__.c.currency == bindparam("currency"),
)


async def balance_cents(db: SessionOrConnection, user_id: int, currency: str) -> int:
    """The spendable balance in one currency alone (a hot read on every quote and create; plain Core)."""
    conn = await core_connection(db)
    value = (
        await conn.execute(_BALANCE_CENTS, {"user_id": user_id, "currency": currency})
    ).scalar_one_or_none()
    return int(value or 0)


async def insert_ledger_once(
    session: AsyncSession,
    *,
    user_id: int,
    currency: str,
    kind: str,
    key: str,
    amount_cents: int,
    balance_delta: int,
    held_delta: int,
    order_id: uuid.UUID | None,
    note: str | None,
) -> bool:
    """Insert a movement unless its key exists (in any currency); True if inserted."""
    stmt = (
        upsert_insert(session, CreditLedgerEntry)
        .values(
            user_id=user_id,
            currency=currency,
            kind=kind,
            key=key,
            amount_cents=amount_cents,
            balance_delta_cents=balance_delta,
            held_delta_cents=held_delta,
            order_id=order_id,
            note=note,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(CreditLedgerEntry.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def move(
    session: AsyncSession, *, user_id: int, currency: str, balance_delta: int, held_delta: int
) -> bool:
    """Apply deltas to one currency's totals only if neither would go below zero; True if applied."""
    result = await session.execute(
        update(CreditBalance)
        .where(
            CreditBalance.user_id == user_id,
            CreditBalance.currency == currency,
            CreditBalance.balance_cents + balance_delta >= 0,
            CreditBalance.held_cents + held_delta >= 0,
        )
        .values(
            balance_cents=CreditBalance.balance_cents + balance_delta,
            held_cents=CreditBalance.held_cents + held_delta,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def ledger_sums(session: AsyncSession, user_id: int, currency: str) -> tuple[int, int]:
    """Σ balance deltas and Σ held deltas of one currency's ledger rows (what its balance row must say)."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(CreditLedgerEntry.balance_delta_cents), 0),
                func.coalesce(func.sum(CreditLedgerEntry.held_delta_cents), 0),
            ).where(CreditLedgerEntry.user_id == user_id, CreditLedgerEntry.currency == currency)
        )
    ).one()
    return int(row[0]), int(row[1])


async def ledger_by_key(session: AsyncSession, key: str) -> CreditLedgerEntry | None:
    return (
        await session.execute(select(CreditLedgerEntry).where(CreditLedgerEntry.key == key))
    ).scalar_one_or_none()
