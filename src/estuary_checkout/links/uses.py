"""A link's uses, moved with the order they belong to: reserved in the create transaction,
completed when the order is paid, released when it expires unpaid. Each move is a status change
of the use row (once) and the matching change of the link's counters in the same transaction.

`reserve` is one conditional UPDATE of the link row, so the limit holds under any number of
concurrent buyers: the database lets exactly as many through as there are uses left.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.links.errors import LinkLimitReached, LinkUnavailable
from estuary_checkout.links.models import PaymentLink, PaymentLinkUse


def unavailable(link: PaymentLink) -> LinkUnavailable:
    return LinkUnavailable(link.inactive_message or None, details={"slug": link.slug})


async def reserve(
    session: AsyncSession, link: PaymentLink, *, user_id: int, order_id: uuid.UUID, now: datetime
) -> None:
    """Take one use of the link for this order, or raise (410 used up or gone, 409 the customer's
    own limit). The caller holds the customer's row lock (create does), so one customer's
    concurrent checkouts are counted one after the other."""
    if link.max_per_customer is not None:
        mine = await session.scalar(
            select(func.count())
            .select_from(PaymentLinkUse)
            .where(
                PaymentLinkUse.link_id == link.id,
                PaymentLinkUse.user_id == user_id,
                PaymentLinkUse.status.in_(("reserved", "completed")),
            )
        )
        if (mine or 0) >= link.max_per_customer:
            raise LinkLimitReached(details={"max_per_customer": link.max_per_customer})
    taken = await session.execute(
        update(PaymentLink)
        .where(
            PaymentLink.id == link.id,
            PaymentLink.active.is_(True),
            or_(PaymentLink.expires_at.is_(None), PaymentLink.expires_at > now),
            or_(
                PaymentLink.max_completed.is_(None),
                PaymentLink.completed_count + PaymentLink.reserved_count < PaymentLink.max_completed,
            ),
        )
        .values(reserved_count=PaymentLink.reserved_count + 1, updated_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise unavailable(link)
    session.add(
        PaymentLinkUse(
            link_id=link.id,
            user_id=user_id,
            order_id=order_id,
            status="reserved",
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()


async def _move(
    session: AsyncSession, order_id: uuid.UUID, *, from_: tuple[str, ...], to: str, now: datetime
) -> tuple[int, str] | None:
    """Move the order's use to `to` if it is in `from_`: (its link id, the status it had)."""
    use = await session.scalar(
        select(PaymentLinkUse).where(PaymentLinkUse.order_id == order_id).with_for_update()
    )
    if use is None or use.status not in from_:
        return None
    previous = use.status
    moved = await session.execute(
        update(PaymentLinkUse)
        .where(PaymentLinkUse.id == use.id, PaymentLinkUse.status == previous)
        .values(status=to, updated_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return use.link_id, previous


async def complete(session: AsyncSession, order_id: uuid.UUID, now: datetime) -> int | None:
    """The order was paid: its use counts as completed. A use released by an expiry before a late
    payment landed counts too (the money is taken; the order is honoured). The link id, or None
    if nothing moved."""
    moved = await _move(session, order_id, from_=("reserved", "released"), to="completed", now=now)
    if moved is None:
        return None
    link_id, previous = moved
    released = previous == "released"
    await session.execute(
        update(PaymentLink)
        .where(PaymentLink.id == link_id)
        .values(
            completed_count=PaymentLink.completed_count + 1,
            reserved_count=PaymentLink.reserved_count - (0 if released else 1),
            updated_at=now,
        )
    )
    return link_id


async def release(session: AsyncSession, order_id: uuid.UUID, now: datetime) -> None:
    """The order ended unpaid (expired, canceled): its use is free again."""
    moved = await _move(session, order_id, from_=("reserved",), to="released", now=now)
    if moved is not None:
        await session.execute(
            update(PaymentLink)
            .where(PaymentLink.id == moved[0])
            .values(reserved_count=PaymentLink.reserved_count - 1, updated_at=now)
        )
