"""Store credit: an append-only ledger plus a balance row per user and currency kept in step with it.

Each movement names its currency, inserts a ledger row with a unique key, then applies its deltas
to that currency's row with one conditional UPDATE (`WHERE balance + delta >= 0`); a repeated key
is a no-op, an overdraw raises. The CHECK constraints on credit_balance back this up in the
database itself. Credit in one currency never pays in another (SPEC 14): nothing converts.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit_service
from estuary_checkout.credits import repository
from estuary_checkout.credits.errors import InsufficientCredit
from estuary_checkout.credits.schemas import CreditAdjustment, CreditAdjustmentCreate
from estuary_checkout.db.session import SessionOrConnection
from estuary_checkout.idempotency.errors import IdempotencyKeyReused
from estuary_checkout.users import service as users_service
from estuary_checkout.users.models import User

# grant() without a currency: only the demo seed calls it so, for its USD catalog
SEED_CURRENCY = "usd"


@dataclass(frozen=True)
class CurrencyBalance:
    currency: str
    balance_cents: int
    held_cents: int


@dataclass(frozen=True)
class Balance:
    """One currency's figures, and every currency the user has credit rows in."""

    balance_cents: int
    held_cents: int
    currency: str
    last_updated: datetime | None
    balances: list[CurrencyBalance]


async def get_balance(session: AsyncSession, user_id: int, currency: str) -> Balance:
    rows = await repository.balances(session, user_id)
    row = next((r for r in rows if r.currency == currency), None)
    listed = [CurrencyBalance(r.currency, r.balance_cents, r.held_cents) for r in rows]
    if row is None:
        return Balance(0, 0, currency, None, listed)
    return Balance(row.balance_cents, row.held_cents, currency, row.updated_at, listed)


async def available_cents(db: SessionOrConnection, user_id: int, currency: str) -> int:
    """What the user can spend on an order in `currency`: that currency's balance, nothing else."""
    return await repository.balance_cents(db, user_id, currency)


async def _movement(
    session: AsyncSession,
    *,
    user_id: int,
    currency: str,
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
    await repository.ensure_balance_row(session, user_id, currency)
    inserted = await repository.insert_ledger_once(
        session,
        user_id=user_id,
        currency=currency,
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
        session, user_id=user_id, currency=currency, balance_delta=balance_delta, held_delta=held_delta
    ):
        raise InsufficientCredit(details={"requested_cents": amount, "currency": currency, "movement": kind})
    return True


async def grant(
    session: AsyncSession,
    user_id: int,
    amount: int,
    *,
    key: str,
    currency: str = SEED_CURRENCY,
    note: str | None = None,
) -> bool:
    return await _movement(
        session,
        user_id=user_id,
        currency=currency,
        kind="grant",
        key=key,
        amount=amount,
        balance_delta=amount,
        held_delta=0,
        note=note,
    )


async def hold(
    session: AsyncSession,
    user_id: int,
    amount: int,
    *,
    currency: str,
    order_id: uuid.UUID,
    again: bool = False,
) -> bool:
    """Reserve credit for an unpaid order (in the order's currency); `again` re-holds after expiry
    released it (a late payment)."""
    return await _movement(
        session,
        user_id=user_id,
        currency=currency,
        kind="hold",
        key=f"order:{order_id}:{'rehold' if again else 'hold'}",
        amount=amount,
        balance_delta=-amount,
        held_delta=amount,
        order_id=order_id,
    )


async def release(
    session: AsyncSession, user_id: int, amount: int, *, currency: str, order_id: uuid.UUID, reason: str
) -> bool:
    """Give a hold back to the spendable balance (order expired, canceled or failed)."""
    return await _movement(
        session,
        user_id=user_id,
        currency=currency,
        kind="release",
        key=f"order:{order_id}:release",
        amount=amount,
        balance_delta=amount,
        held_delta=-amount,
        order_id=order_id,
        note=reason,
    )


async def capture(
    session: AsyncSession, user_id: int, amount: int, *, currency: str, order_id: uuid.UUID
) -> bool:
    """Spend a hold for good (order fulfilled); the order's status transition excludes a release."""
    return await _movement(
        session,
        user_id=user_id,
        currency=currency,
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
    currency: str,
    key: str,
    order_id: uuid.UUID,
    note: str | None = None,
) -> bool:
    """Money going back to the client as store credit in the order's currency (a refund to
    credit, or a failed card refund's fallback); `key` makes it happen once."""
    return await _movement(
        session,
        user_id=user_id,
        currency=currency,
        kind="refund",
        key=key,
        amount=amount,
        balance_delta=amount,
        held_delta=0,
        order_id=order_id,
        note=note,
    )


async def adjustment(
    session: AsyncSession, user_id: int, amount: int, *, currency: str, key: str, note: str | None = None
) -> bool:
    """An operator's correction, either way: `amount` > 0 adds to the spendable balance, < 0 takes
    from it and raises InsufficientCredit if that would go below zero. The ledger row keeps the
    size (`amount_cents`) and the signed effect (`balance_delta_cents`); `key` makes it happen once."""
    return await _movement(
        session,
        user_id=user_id,
        currency=currency,
        kind="adjustment",
        key=key,
        amount=abs(amount),
        balance_delta=amount,
        held_delta=0,
        note=note,
    )


LEDGER_KEY_MAX = 200  # credit_ledger.key


def adjustment_key(admin_id: int, idempotency_key: str) -> str:
    """The ledger key of an operator's adjustment: the operator's Idempotency-Key, so a retried
    request can never move the money twice even if its idempotency record were gone."""
    key = f"adjustment:{admin_id}:{idempotency_key}"
    if len(key) <= LEDGER_KEY_MAX:
        return key
    return f"adjustment:{admin_id}:sha256:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


async def adjust_for_operator(
    session: AsyncSession,
    admin: User,
    body: CreditAdjustmentCreate,
    *,
    idempotency_key: str,
    default_currency: str,
    actor: audit_service.Actor,
) -> CreditAdjustment:
    """POST /admin/credits/adjustments (SPEC 11.4): one ledger row in one currency (the body's,
    else the configured default), replay-safe by its key, and its one audit row in the same
    transaction."""
    currency = body.currency or default_currency
    user = await users_service.find(session, user_id=body.user_id, email=body.user_email)
    key = adjustment_key(admin.id, idempotency_key)
    before = await repository.balance_cents(session, user.id, currency)
    try:
        await adjustment(session, user.id, body.amount_cents, currency=currency, key=key, note=body.reason)
    except InsufficientCredit as exc:
        balance = await repository.balance_cents(session, user.id, currency)
        raise InsufficientCredit(
            "The adjustment would take the balance below zero",
            details={"balance_cents": balance, "currency": currency, "amount_cents": body.amount_cents},
        ) from exc
    row = await repository.ledger_by_key(session, key)
    assert row is not None  # written just now, or by the first run of this key
    if (
        row.user_id != user.id
        or row.currency != currency
        or row.balance_delta_cents != body.amount_cents
        or row.kind != "adjustment"
    ):
        # the key's first run moved other money (its idempotency record is gone): refuse, move nothing
        raise IdempotencyKeyReused(details={"idempotency_key": idempotency_key})
    result = CreditAdjustment(
        id=row.id,
        user_id=row.user_id,
        kind="adjustment",
        amount_cents=row.amount_cents,
        balance_delta_cents=row.balance_delta_cents,
        currency=currency,
        reason=row.note,
        created_at=row.created_at,
        balance_cents=await repository.balance_cents(session, user.id, currency),
    )
    await audit_service.record(
        session,
        actor,
        action="adjust",
        entity="credit_balance",
        entity_id=user.id,
        before={"balance_cents": before, "currency": currency},
        after={
            "balance_cents": result.balance_cents,
            "currency": currency,
            "ledger_id": row.id,
            "reason": row.note,
        },
    )
    return result
