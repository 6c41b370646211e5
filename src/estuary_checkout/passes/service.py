"""Passes: granted by paid bundles and packages, redeemed by single-session checkouts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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


def pass_view(p: Pass, now: datetime, scope: list[int] | None = None) -> PassView:
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
        membership_id=p.membership_id,
        eligible_service_ids=scope if p.membership_id is not None else None,
    )


async def list_for_user(
    session: AsyncSession, user_id: int, *, limit: int, cursor: str | None
) -> PageOf[PassView]:
    """The user's passes, newest first."""
    page = await repository.page_for_user(session, user_id, limit=limit, cursor=cursor)
    now = utcnow()
    scopes = await repository.scopes(session, [p.id for p in page.rows if p.membership_id is not None])
    return page.map(lambda p: pass_view(p, now, scopes.get(p.id)))


async def granted_by_order(session: AsyncSession, order_id: uuid.UUID) -> list[PassView]:
    now = utcnow()
    return [pass_view(p, now) for p in await repository.for_order(session, order_id)]


# --- membership passes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodGrant:
    """One paid membership invoice's credits."""

    user_id: int
    membership_id: int
    grant_key: str  # membership:{id}:invoice:{invoice id}
    service_ids: list[int]
    sessions: int
    period_start: datetime
    period_end: datetime
    rollover_cap: int
    frozen: bool = False


def _left(p: Pass) -> int:
    return max(0, p.sessions_total - p.sessions_used)


def _close_into(sources: list[Pass], target: Pass, cap: int) -> int:
    """Move the unused sessions of ended periods into `target`, at most `cap` in all over its
    carried total; the sources are closed (expired) either way. Returns what was carried."""
    carry = min(sum(_left(p) for p in sources), max(0, cap - target.carried_in))
    target.sessions_total += carry
    target.carried_in += carry
    for p in sources:
        p.status = "expired"
    return carry


async def grant_period(session: AsyncSession, g: PeriodGrant) -> int | None:
    """Grant a paid period's credits once per invoice; None if this invoice was granted before.

    The caller holds the membership's lock, so grants of one membership never interleave. Periods
    may be paid in any order: the unused sessions of earlier, ended periods roll into the
    earliest later one (up to the plan's cap), whichever of the two is granted last.
    """
    new_id = await repository.insert_membership_pass(
        session,
        sorted(set(g.service_ids)),
        user_id=g.user_id,
        membership_id=g.membership_id,
        grant_key=g.grant_key,
        period_start_at=g.period_start,
        carried_in=0,
        sessions_total=g.sessions,
        sessions_used=0,
        status="frozen" if g.frozen else "active",
        expires_at=g.period_end,
        created_at=utcnow(),
    )
    if new_id is None:
        return None
    passes = await repository.membership_passes(session, g.membership_id, lock=True)
    new = next(p for p in passes if p.id == new_id)
    open_ = ("active", "frozen")
    start = g.period_start
    later = [p for p in passes if p.period_start_at is not None and p.period_start_at > start]
    if later:  # a late grant for a period that has already been followed by another
        _close_into([new], min(later, key=lambda p: p.period_start_at or start), g.rollover_cap)
    else:
        earlier = [
            p
            for p in passes
            if p.id != new_id
            and p.status in open_
            and p.period_start_at is not None
            and p.period_start_at < start
        ]
        if earlier:
            _close_into(earlier, new, g.rollover_cap)
    await session.flush()
    return new_id


async def freeze_membership(session: AsyncSession, membership_id: int, frozen: bool) -> None:
    """While a renewal is unpaid (past_due) the membership's credits can't be redeemed."""
    if frozen:
        await repository.set_membership_status(session, membership_id, old="active", new="frozen")
    else:
        await repository.set_membership_status(session, membership_id, old="frozen", new="active")


async def membership_credits(
    session: AsyncSession, membership_id: int, now: datetime
) -> tuple[int, int, datetime | None]:
    """(usable now, frozen, expiry of the latest period) of a membership's passes."""
    passes = await repository.membership_passes(session, membership_id)
    live = [p for p in passes if p.expires_at > now]
    usable = sum(_left(p) for p in live if p.status == "active")
    frozen = sum(_left(p) for p in passes if p.status == "frozen")
    latest = max((p.expires_at for p in passes), default=None)
    return usable, frozen, latest
