"""Passes: granted by paid bundles and packages, redeemed by single-session checkouts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import SessionOrConnection
from estuary_checkout.pagination import PageOf
from estuary_checkout.passes import repository
from estuary_checkout.passes.models import Pass
from estuary_checkout.passes.schemas import PassStatus, PassView


async def sessions_left(
    db: SessionOrConnection, *, user_id: int, service_id: int, practitioner_id: int, now: datetime
) -> list[tuple[int, int]]:
    """(pass id, sessions left) of the caller's redeemable passes, soonest to expire first."""
    return await repository.redeemable_left(
        db, user_id=user_id, service_id=service_id, practitioner_id=practitioner_id, now=now
    )


async def use_session(session: AsyncSession, pass_id: int, now: datetime) -> bool:
    """Take one session off the pass, if it still has one (guarded UPDATE)."""
    return await repository.use_one(session, pass_id, now)


async def give_back_session(session: AsyncSession, pass_id: int) -> None:
    await repository.give_back_one(session, pass_id)


async def grant(
    session: AsyncSession,
    *,
    user_id: int,
    order_id: uuid.UUID,
    order_line_id: int,
    source_service_id: int,
    service_id: int,
    practitioner_id: int,
    sessions: int,
    validity_days: int | None,
    now: datetime | None = None,
) -> bool:
    """Grant a pass once per (order, line, service); True if newly granted."""
    now = now or utcnow()
    return await repository.insert_once(
        session,
        user_id=user_id,
        order_id=order_id,
        order_line_id=order_line_id,
        source_service_id=source_service_id,
        service_id=service_id,
        practitioner_id=practitioner_id,
        sessions_total=sessions,
        sessions_used=0,
        status="active",
        expires_at=now + timedelta(days=validity_days or 365),
        created_at=now,
    )


def effective_status(p: Pass, now: datetime) -> PassStatus:
    """The status a client should see: nothing marks a pass used up or past its expiry in the
    row itself (redeeming only counts sessions), so an active row says so by its numbers."""
    if p.status == "active":
        if p.sessions_used >= p.sessions_total:
            return "exhausted"
        if p.expires_at <= now:
            return "expired"
    return p.status  # type: ignore[return-value]


def pass_view(p: Pass, now: datetime) -> PassView:
    return PassView(
        pass_id=p.id,
        service_id=p.service_id,
        practitioner_id=p.practitioner_id,
        sessions_total=p.sessions_total,
        sessions_used=p.sessions_used,
        sessions_left=p.sessions_total - p.sessions_used,
        expires_at=p.expires_at,
        source_order_id=p.order_id,
        status=effective_status(p, now),
    )


async def list_for_user(
    session: AsyncSession, user_id: int, *, limit: int, cursor: str | None
) -> PageOf[PassView]:
    """The user's passes, newest first."""
    page = await repository.page_for_user(session, user_id, limit=limit, cursor=cursor)
    now = utcnow()
    return page.map(lambda p: pass_view(p, now))


async def granted_by_order(session: AsyncSession, order_id: uuid.UUID) -> list[PassView]:
    now = utcnow()
    return [pass_view(p, now) for p in await repository.for_order(session, order_id)]
