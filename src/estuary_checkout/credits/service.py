"""Store credit: an append-only ledger plus a per-user balance row kept in step with it.

Each movement inserts a ledger row with a unique key, then applies its deltas with one
conditional UPDATE (`WHERE balance + delta >= 0`); a repeated key is a no-op, an overdraw
raises. The CHECK constraints on credit_balance back this up in the database itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.credits import repository
from estuary_checkout.credits.errors import InsufficientCredit
from estuary_checkout.db.session import SessionOrConnection


@dataclass(frozen=True)
class Balance:
    balance_cents: int
    held_cents: int
    currency: str
    last_updated: datetime | None


async def get_balance(session: AsyncSession, user_id: int) -> Balance:
    row = await repository.get_balance(session, user_id)
    if row is None:
        return Balance(0, 0, "usd", None)
    return Balance(row.balance_cents, row.held_cents, row.currency, row.updated_at)


async def available_cents(db: SessionOrConnection, user_id: int) -> int:
    return await repository.balance_cents(db, user_id)


async def _movement(
    session: AsyncSession,
    *,
    user_id: int,
    kind: str,
    key: str,
    amount: int,
    balance_delta: int,
    held_delta: int,
    order_id: uuid.UUID | None = None,
    note: str | None = None,
) -> bool:
    if amount < 0:
        raise ValueError("movement amounts are non-negative; the kind gives the direction")
    if amount == 0:
        return False
    await repository.ensure_balance_row(session, user_id)
    inserted = await repository.insert_ledger_once(
        session,
        user_id=user_id,
        kind=kind,
        key=key,
        amount_cents=amount,
        balance_delta=balance_delta,
        held_delta=held_delta,
        order_id=order_id,
        note=note,
    )
    if not inserted:
        return False
    if not await repository.move(
        session, user_id=user_id, balance_delta=balance_delta, held_delta=held_delta
    ):
        raise InsufficientCredit(details={"requested_cents": amount, "movement": kind})
    return True


async def grant(
    session: AsyncSession, user_id: int, amount: int, *, key: str, note: str | None = None
) -> bool:
    return await _movement(
        session,
        user_id=user_id,
        kind="grant",
        key=key,
        amount=amount,
        balance_delta=amount,
        held_delta=0,
        note=note,
    )


async def hold(
    session: AsyncSession, user_id: int, amount: int, *, order_id: uuid.UUID, again: bool = False
) -> bool:
    """Reserve credit for an unpaid order; `again` re-holds after expiry released it (a late payment)."""
    return await _movement(
        session,
        user_id=user_id,
        kind="hold",
        key=f"order:{order_id}:{'rehold' if again else 'hold'}",
        amount=amount,
        balance_delta=-amount,
        held_delta=amount,
        order_id=order_id,
    )


async def release(
    session: AsyncSession, user_id: int, amount: int, *, order_id: uuid.UUID, reason: str
) -> bool:
    """Give a hold back to the spendable balance (order expired, canceled or failed)."""
    return await _movement(
        session,
        user_id=user_id,
        kind="release",
        key=f"order:{order_id}:release",
        amount=amount,
        balance_delta=amount,
        held_delta=-amount,
        order_id=order_id,
        note=reason,
    )


async def capture(session: AsyncSession, user_id: int, amount: int, *, order_id: uuid.UUID) -> bool:
    """Spend a hold for good (order fulfilled); the order's status transition excludes a release."""
    return await _movement(
        session,
        user_id=user_id,
        kind="capture",
        key=f"order:{order_id}:capture",
        amount=amount,
        balance_delta=0,
        held_delta=-amount,
        order_id=order_id,
    )


async def refund(
    session: AsyncSession,
    user_id: int,
    amount: int,
    *,
    key: str,
    order_id: uuid.UUID,
    note: str | None = None,
) -> bool:
    """Money going back to the client as store credit (a refund to credit, or a failed card
    refund's fallback); `key` makes it happen once."""
    return await _movement(
        session,
        user_id=user_id,
        kind="refund",
        key=key,
        amount=amount,
        balance_delta=amount,
        held_delta=0,
        order_id=order_id,
        note=note,
    )
