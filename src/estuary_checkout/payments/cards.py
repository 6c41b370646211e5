"""Saved cards: recorded when a payment that asked to save its card succeeds."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.payments.gateway import Intent
from estuary_checkout.payments.models import SavedPaymentMethod


async def record(session: AsyncSession, user_id: int, intent: Intent) -> None:
    if not intent.payment_method:
        return
    has_default = (
        await session.execute(
            select(func.count())
            .select_from(SavedPaymentMethod)
            .where(
                SavedPaymentMethod.user_id == user_id,
                SavedPaymentMethod.is_default.is_(True),
                SavedPaymentMethod.detached_at.is_(None),
            )
        )
    ).scalar_one()
    card = intent.card or {}
    await session.execute(
        upsert_insert(session, SavedPaymentMethod)
        .values(
            user_id=user_id,
            stripe_payment_method_id=intent.payment_method,
            brand=card.get("brand"),
            last4=card.get("last4"),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
            is_default=not has_default,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["stripe_payment_method_id"])
    )


async def mark_detached(session: AsyncSession, payment_method_id: str) -> bool:
    result = await session.execute(
        update(SavedPaymentMethod)
        .where(
            SavedPaymentMethod.stripe_payment_method_id == payment_method_id,
            SavedPaymentMethod.detached_at.is_(None),
        )
        .values(detached_at=utcnow(), is_default=False)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def default_for(session: AsyncSession, user_id: int) -> str | None:
    return (
        await session.execute(
            select(SavedPaymentMethod.stripe_payment_method_id).where(
                SavedPaymentMethod.user_id == user_id,
                SavedPaymentMethod.is_default.is_(True),
                SavedPaymentMethod.detached_at.is_(None),
            )
        )
    ).scalar_one_or_none()
