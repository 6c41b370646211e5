"""What a client sees of their bookings (SPEC 11.1), including what cancel and reschedule would do
now. The terms come from the same pure policy functions cancel and reschedule use
(`bookings.policy`) over the booking's own policy snapshot, so the list never promises what the
action would not do."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings import history_repository as repository
from estuary_checkout.bookings import policy
from estuary_checkout.bookings.models import Booking
from estuary_checkout.bookings.schemas import BookingScope, BookingView, RefundIfCanceled
from estuary_checkout.db.base import utcnow
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.pagination import PageOf
from estuary_checkout.refunds import service as refunds_service


def refund_if_canceled(
    booking: Booking, line: OrderLine | None, order: Order | None, now: datetime
) -> RefundIfCanceled | None:
    """The client's cancel terms now, or None if the client cannot cancel. The refund is the
    policy's percent of the booking's paid share, split back to credit and card in the proportion
    they paid it, and never more than the order has left per paying method."""
    terms = policy.cancel_terms(
        policy.policy_of(booking),
        status=booking.status,
        start_at=booking.start_at,
        now=now,
        covered_by_pass=booking.pass_id is not None,
    )
    if terms.closed is not None:
        return None
    credit, card = policy.refund_split(
        terms.refund_percent,
        credit_share=line.credit_share_cents if line else 0,
        card_share=line.card_share_cents if line else 0,
    )
    left = refunds_service.refundable(order) if order else refunds_service.Refundable(0, 0)
    return RefundIfCanceled(
        card_cents=min(card, left.card_cents),
        credit_cents=min(credit, left.credit_cents),
        pass_session_returned=terms.pass_session_returned,
    )


def booking_view(booking: Booking, line: OrderLine | None, order: Order | None, now: datetime) -> BookingView:
    refund = refund_if_canceled(booking, line, order, now)
    refusal = policy.reschedule_refusal(
        policy.policy_of(booking),
        status=booking.status,
        start_at=booking.start_at,
        now=now,
        reschedule_count=booking.reschedule_count,
    )
    return BookingView(
        booking_id=booking.id,
        order_id=booking.order_id,
        service_id=booking.service_id,
        practitioner_id=booking.practitioner_id,
        start_time=booking.start_at,
        end_time=booking.end_at,
        status=booking.status,
        reschedule_count=booking.reschedule_count,
        can_cancel=refund is not None,
        can_reschedule=refusal is None,
        refund_if_canceled_now=refund
        or RefundIfCanceled(card_cents=0, credit_cents=0, pass_session_returned=False),
    )


async def list_for_user(
    session: AsyncSession, user_id: int, *, scope: BookingScope, limit: int, cursor: str | None
) -> PageOf[BookingView]:
    now = utcnow()
    page = await repository.page_for_user(session, user_id, scope=scope, now=now, limit=limit, cursor=cursor)
    return page.map(lambda row: booking_view(*row, now))


async def of_order(session: AsyncSession, order_id: uuid.UUID) -> list[Booking]:
    """Every booking the order made (canceled holds included), by start time."""
    return await repository.for_order(session, order_id)


def views_for_order(
    bookings: Iterable[Booking], order: Order, lines: Iterable[OrderLine], now: datetime
) -> list[BookingView]:
    by_id = {line.id: line for line in lines}
    return [booking_view(b, by_id.get(b.order_line_id or 0), order, now) for b in bookings]
