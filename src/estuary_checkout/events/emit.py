"""Writing outbound events: one row in the caller's transaction (an outbox), so an event exists
exactly when the change it reports committed, and a rolled-back change leaves none.

Each event has a dedupe key naming the change (`order:{id}:completed`, `booking:{id}:rescheduled:2`):
code that runs twice (a retried fulfilment, a replayed Stripe webhook, the reconciler after the
webhook) writes it once. Nothing here talks to the network; the worker delivers (`delivery`).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings.models import Booking
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import upsert_insert
from estuary_checkout.events.models import OutboundEvent
from estuary_checkout.events.schemas import (
    BookingEventData,
    Customer,
    MembershipEventData,
    OrderEventData,
    PassEventData,
    PaymentLinkEventData,
    RefundEventData,
)
from estuary_checkout.events.signing import new_id
from estuary_checkout.events.types import EventType
from estuary_checkout.links.models import PaymentLink
from estuary_checkout.memberships.models import Membership
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.orders.views import summary_fields
from estuary_checkout.passes import repository as passes_repository
from estuary_checkout.passes.models import Pass
from estuary_checkout.passes.service import pass_view
from estuary_checkout.refunds.models import Refund
from estuary_checkout.users.models import User


async def publish(
    session: AsyncSession,
    type_: EventType,
    *,
    key: str,
    data: BaseModel,
    order_id: uuid.UUID | None = None,
    user_id: int | None = None,
) -> bool:
    """Record the event in the caller's transaction; False if this key was recorded before."""
    now = utcnow()
    stmt = (
        upsert_insert(session, OutboundEvent)
        .values(
            id=new_id("evt"),
            dedupe_key=key,
            type=type_,
            order_id=order_id,
            user_id=user_id,
            data=data.model_dump(mode="json"),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboundEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def _customer(session: AsyncSession, user_id: int | None) -> Customer | None:
    user = await session.get(User, user_id) if user_id is not None else None
    return Customer(sub=user.external_id, email=user.email) if user else None


async def order_event(
    session: AsyncSession, type_: EventType, order: Order, *, key: str | None = None
) -> bool:
    """order.completed / order.expired / order.refunded; `order` must carry the change (callers
    update the row with a Core UPDATE and mirror it on the object)."""
    lines = (
        await session.execute(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
        )
    ).scalars()
    data = OrderEventData(
        **summary_fields(order, lines),  # type: ignore[arg-type]
        customer=await _customer(session, order.user_id),
    )
    return await publish(
        session,
        type_,
        key=key or f"order:{order.id}:{type_.removeprefix('order.')}",
        data=data,
        order_id=order.id,
        user_id=order.user_id,
    )


async def booking_event(session: AsyncSession, type_: EventType, booking_id: int) -> bool:
    """booking.*, with the booking as it is now; each reschedule is its own event (keyed by the
    booking's reschedule count)."""
    # a Core read: the committed-to-be row, without touching objects the caller holds
    booking = (
        (await session.execute(select(Booking.__table__).where(Booking.id == booking_id)))
        .mappings()
        .one_or_none()
    )
    if booking is None:
        return False
    data = BookingEventData(
        booking_id=booking["id"],
        order_id=booking["order_id"],
        service_id=booking["service_id"],
        practitioner_id=booking["practitioner_id"],
        start_time=booking["start_at"],
        end_time=booking["end_at"],
        status=booking["status"],
        reschedule_count=booking["reschedule_count"],
        canceled_by=booking["canceled_by"],
        cancel_reason=booking["cancel_reason"],
        customer=await _customer(session, booking["user_id"]),
    )
    kind = type_.removeprefix("booking.")
    key = f"booking:{booking_id}:{kind}"
    if type_ == "booking.rescheduled":
        key += f":{booking['reschedule_count']}"
    return await publish(
        session, type_, key=key, data=data, order_id=booking["order_id"], user_id=booking["user_id"]
    )


async def passes_granted(session: AsyncSession, order_id: uuid.UUID) -> int:
    """pass.granted for each pass the order granted; how many were new."""
    now = utcnow()
    passes = (
        await session.execute(select(Pass).where(Pass.order_id == order_id).order_by(Pass.id))
    ).scalars()
    written = 0
    for p in passes:
        data = PassEventData(**pass_view(p, now).model_dump(), customer=await _customer(session, p.user_id))
        written += await publish(
            session,
            "pass.granted",
            key=f"pass:{p.id}:granted",
            data=data,
            order_id=order_id,
            user_id=p.user_id,
        )
    return written


async def refund_failed(
    session: AsyncSession, order: Order, row: Refund, *, fallback_refund_id: int | None
) -> bool:
    data = RefundEventData(
        refund_id=row.id,
        order_id=order.id,
        booking_id=row.booking_id,
        amount_cents=row.amount_cents,
        currency=row.currency,
        status=row.status,
        failure_reason=row.failure_reason,
        fallback_refund_id=fallback_refund_id,
        customer=await _customer(session, order.user_id),
    )
    return await publish(
        session,
        "refund.failed",
        key=f"refund:{row.id}:failed",
        data=data,
        order_id=order.id,
        user_id=order.user_id,
    )


async def payment_link_completed(session: AsyncSession, link_id: int, order: Order) -> bool:
    link = (
        (await session.execute(select(PaymentLink.__table__).where(PaymentLink.id == link_id)))
        .mappings()
        .one()
    )
    data = PaymentLinkEventData(
        payment_link_id=link_id,
        slug=link["slug"],
        order_id=order.id,
        total_cents=order.total_cents,
        currency=order.currency,
        completed_count=link["completed_count"],
        max_completed=link["max_completed"],
        customer=await _customer(session, order.user_id),
    )
    return await publish(
        session,
        "payment_link.completed",
        key=f"payment_link:{link_id}:order:{order.id}:completed",
        data=data,
        order_id=order.id,
        user_id=order.user_id,
    )


def payload(event: OutboundEvent) -> dict[str, Any]:
    """The body of a delivery."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),  # as the API writes times
        "data": event.data,
    }


async def membership_updated(session: AsyncSession, m: Membership) -> bool:
    """membership.updated for the change `m.state_version` counts (the caller just applied it)."""
    data = MembershipEventData(
        membership_id=m.id,
        plan_id=m.plan_id,
        status=m.status,
        version=m.state_version,
        currency=m.currency,
        amount_cents=m.amount_cents,
        current_period_start=m.current_period_start,
        current_period_end=m.current_period_end,
        cancel_at_period_end=m.cancel_at_period_end,
        canceled_at=m.canceled_at,
        ended_at=m.ended_at,
        customer=await _customer(session, m.user_id),
    )
    return await publish(
        session,
        "membership.updated",
        key=f"membership:{m.id}:updated:{m.state_version}",
        data=data,
        user_id=m.user_id,
    )


async def membership_pass_granted(session: AsyncSession, pass_id: int) -> bool:
    """pass.granted for the credits a membership invoice granted."""
    p = await session.get(Pass, pass_id)
    if p is None:
        return False
    scope = (await passes_repository.scopes(session, [p.id])).get(p.id)
    data = PassEventData(
        **pass_view(p, utcnow(), scope).model_dump(), customer=await _customer(session, p.user_id)
    )
    return await publish(session, "pass.granted", key=f"pass:{p.id}:granted", data=data, user_id=p.user_id)
