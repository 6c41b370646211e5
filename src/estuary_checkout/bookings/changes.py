"""Changing a paid booking (SPEC 11.2, 11.4): cancel (by the client, under the policy the booking
was made with; by an operator, in full) and reschedule. No commits here: the caller commits.

Every change takes the order's row lock first (then the booking's), the same order every path
that touches an order's money uses, so concurrent cancels, refunds and Stripe events of one order
run one at a time. The booking's own transition is a conditional UPDATE: of N concurrent cancels
exactly one cancels; the others find it canceled and answer with the same outcome, moving nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit_service
from estuary_checkout.bookings import history_service, repository
from estuary_checkout.bookings import policy as policy_rules
from estuary_checkout.bookings.changes_schemas import (
    AdminCancelRequest,
    CancelRequest,
    CancelResult,
    RefundOutcome,
    RescheduleRequest,
)
from estuary_checkout.bookings.errors import (
    BookingNotCancelable,
    BookingNotFound,
    BookingNotReschedulable,
    CancelWindowClosed,
    RescheduleLimitReached,
    RescheduleWindowClosed,
)
from estuary_checkout.bookings.models import Booking
from estuary_checkout.bookings.schemas import BookingView
from estuary_checkout.catalog import availability
from estuary_checkout.catalog import repository as catalog_repo
from estuary_checkout.catalog import service as catalog_service
from estuary_checkout.catalog.errors import InvalidDuration, SlotUnavailable
from estuary_checkout.catalog.models import Service
from estuary_checkout.config import Settings
from estuary_checkout.db.base import utcnow
from estuary_checkout.events import emit as events
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.passes import service as passes_service
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.refunds import service as refunds_service
from estuary_checkout.users.models import User
from estuary_checkout.workflows import outbox


@dataclass(frozen=True)
class CancelOutcome:
    booking_id: int
    card_cents: int
    credit_cents: int
    refund_ids: list[int]
    pass_session_returned: bool


def _cancel_key(booking: Booking) -> str:
    """The refund key of a booking's cancellation (a booking is canceled once, by whoever)."""
    return f"order:{booking.order_id}:booking:{booking.id}:cancel"


async def outcome(session: AsyncSession, booking: Booking) -> CancelOutcome:
    """What the booking's cancellation gave back, read from what it wrote (a repeated cancel
    answers with this). A card refund that later fails and turns into store credit does not
    change it: that is the refund's own story (GET /orders/{id})."""
    from estuary_checkout.refunds import repository as refunds_repo

    rows = await refunds_repo.with_key_prefix(session, _cancel_key(booking) + ":")
    return CancelOutcome(
        booking_id=booking.id,
        card_cents=sum(r.amount_cents for r in rows if r.destination == "card"),
        credit_cents=sum(r.amount_cents for r in rows if r.destination == "credit"),
        refund_ids=[r.id for r in rows],
        pass_session_returned=booking.pass_returned,
    )


async def _locked(session: AsyncSession, booking: Booking) -> tuple[Order, Booking]:
    """The booking's order, row-locked, and the booking read again under that lock."""
    order = await orders_repo.get(session, booking.order_id, for_update=True) if booking.order_id else None
    if order is None:
        raise BookingNotCancelable(details={"booking_id": booking.id})
    fresh = await repository.get(session, booking.id, for_update=True)
    assert fresh is not None
    return order, fresh


async def cancel(
    session: AsyncSession,
    gateway: StripeGateway,
    booking: Booking,
    *,
    canceled_by: str,
    reason: str | None,
    card_to_credit: bool = False,
    actor_sub: str | None = None,
    refund: bool = True,
) -> CancelOutcome:
    """Cancel a confirmed booking: release its slot, give back its paid share under the policy
    (in full when an operator cancels), return its pass session in the full-refund window, and
    tell its lifecycle workflow. Once: a canceled booking answers with what its cancel did."""
    operator = canceled_by != "client"
    order, booking = await _locked(session, booking)
    if booking.status == "canceled":
        return await outcome(session, booking)
    now = utcnow()
    terms = policy_rules.cancel_terms(
        policy_rules.policy_of(booking),
        status=booking.status,
        start_at=booking.start_at,
        now=now,
        covered_by_pass=booking.pass_id is not None,
        by_operator=operator,
    )
    if terms.closed == "started" or (terms.closed and booking.status == "completed"):
        raise CancelWindowClosed(
            details={"booking_id": booking.id, "start_time": booking.start_at.isoformat()}
        )
    if terms.closed:
        raise BookingNotCancelable(details={"booking_id": booking.id, "status": booking.status})
    if not await repository.set_canceled(
        session, booking.id, canceled_by=canceled_by, reason=reason, now=now, from_=("confirmed",)
    ):
        return await outcome(session, await _reread(session, booking.id))
    booking.status = "canceled"
    await repository.add_event(
        session,
        booking_id=booking.id,
        kind="canceled",
        actor=canceled_by,
        actor_sub=actor_sub,
        reason=reason,
        at=now,
    )
    if (
        terms.pass_session_returned
        and booking.pass_id is not None
        and await repository.mark_pass_returned(session, booking.id)
    ):
        await passes_service.give_back_session(session, booking.pass_id)
        booking.pass_returned = True
    if refund:
        line = await _line(session, booking)
        credit, card = policy_rules.refund_split(
            terms.refund_percent, credit_share=line.credit_share_cents, card_share=line.card_share_cents
        )
        left = refunds_service.refundable(order)  # an operator may have refunded part of it already
        await refunds_service.give_back(
            session,
            gateway,
            order,
            key=_cancel_key(booking),
            from_card=min(card, left.card_cents),
            from_credit=min(credit, left.credit_cents),
            card_to_credit=card_to_credit,
            reason=refunds_service.Reason(
                "service_issue" if operator else "requested_by_customer",
                created_by="admin" if operator else "client",
                note=reason,
                actor_sub=actor_sub,
                booking_id=booking.id,
            ),
        )
    await outbox.signal_booking_canceled(session, booking.id, reason or f"canceled by {canceled_by}")
    await events.booking_event(session, "booking.canceled", booking.id)
    return await outcome(session, booking)


async def _reread(session: AsyncSession, booking_id: int) -> Booking:
    booking = await repository.get(session, booking_id)
    if booking is None:
        raise BookingNotFound(details={"booking_id": booking_id})
    return booking


async def _line(session: AsyncSession, booking: Booking) -> OrderLine:
    lines = await orders_repo.lines(session, booking.order_id)  # type: ignore[arg-type]
    return next(line for line in lines if line.id == booking.order_line_id)


async def reschedule(
    session: AsyncSession,
    settings: Settings,
    booking: Booking,
    start: datetime,
    end: datetime,
    *,
    field: str = "start_time",
) -> Booking:
    """Move a confirmed booking to a new slot: the same rules as checkout create (availability,
    lead time, time off, the bookings around it with buffers, the database guard), the old slot
    freed and the new one held by one UPDATE. Moving to the times it has is a no-op."""
    booking = await _reread(session, booking.id)
    if booking.order_id is not None:
        await orders_repo.get(session, booking.order_id, for_update=True)
    booking = await _reread_locked(session, booking.id)
    if booking.start_at == start and booking.end_at == end and booking.status == "confirmed":
        return booking
    now = utcnow()
    refusal = policy_rules.reschedule_refusal(
        policy_rules.policy_of(booking),
        status=booking.status,
        start_at=booking.start_at,
        now=now,
        reschedule_count=booking.reschedule_count,
    )
    if refusal == "not_confirmed":
        raise BookingNotReschedulable(details={"booking_id": booking.id, "status": booking.status})
    if refusal == "window_closed":
        raise RescheduleWindowClosed(
            details={"booking_id": booking.id, "cutoff_hours": booking.policy_reschedule_cutoff_hours}
        )
    if refusal == "limit_reached":
        raise RescheduleLimitReached(
            details={"booking_id": booking.id, "max_reschedules": booking.policy_max_reschedules}
        )
    service = await session.get(Service, booking.service_id)
    if service is None or end - start != timedelta(minutes=service.duration_minutes or 0):
        raise InvalidDuration(
            details={"field": "end_time", "duration_minutes": service.duration_minutes if service else None}
        )
    practitioner = (await catalog_repo.practitioners_by_id(session, [booking.practitioner_id], now=now))[
        booking.practitioner_id
    ]
    reason = availability.refusal(
        catalog_service.rules_for(practitioner),
        start,
        end,
        now=now,
        min_lead=timedelta(minutes=settings.min_lead_minutes),
        time_off=catalog_service.time_off_of(practitioner),
        busy=await catalog_service.occupied(session, practitioner, start, end, except_booking=booking.id),
    )
    if reason is not None:
        raise catalog_service.slot_error(reason, field, settings.min_lead_minutes)
    old_start, old_end = booking.start_at, booking.end_at
    try:
        async with session.begin_nested():
            moved = await repository.set_times(
                session,
                booking.id,
                start_at=start,
                end_at=end,
                blocked_until=end + timedelta(minutes=practitioner.buffer_minutes),
                now=now,
            )
    except (IntegrityError, DBAPIError) as exc:  # taken between our read and the update
        raise SlotUnavailable(details={"field": field}) from exc
    if not moved:
        raise BookingNotReschedulable(details={"booking_id": booking.id})
    booking = await _reread(session, booking.id)
    await repository.add_event(
        session,
        booking_id=booking.id,
        kind="rescheduled",
        actor="client",
        from_start_at=old_start,
        from_end_at=old_end,
        to_start_at=start,
        to_end_at=end,
        at=now,
    )
    await outbox.signal_booking_rescheduled(
        session, booking.id, start.isoformat(), end.isoformat(), booking.reschedule_count
    )
    await events.booking_event(session, "booking.rescheduled", booking.id)
    return booking


async def _reread_locked(session: AsyncSession, booking_id: int) -> Booking:
    booking = await repository.get(session, booking_id, for_update=True)
    if booking is None:
        raise BookingNotFound(details={"booking_id": booking_id})
    return booking


# ---------------------------------------------------------------------------------------------
# the API's entry points


def _result(done: CancelOutcome) -> CancelResult:
    return CancelResult(
        booking_id=done.booking_id,
        refund=RefundOutcome(
            card_cents=done.card_cents, credit_cents=done.credit_cents, refund_ids=done.refund_ids
        ),
        pass_session_returned=done.pass_session_returned,
    )


async def _own(session: AsyncSession, user: User, booking_id: int) -> Booking:
    booking = await repository.get_for_user(session, user.id, booking_id)
    if booking is None:
        raise BookingNotFound(details={"booking_id": booking_id})
    return booking


async def cancel_for_client(
    session: AsyncSession, gateway: StripeGateway, user: User, booking_id: int, body: CancelRequest
) -> CancelResult:
    booking = await _own(session, user, booking_id)
    return _result(
        await cancel(
            session,
            gateway,
            booking,
            canceled_by="client",
            reason=body.reason,
            card_to_credit=body.refund_to == "credit",
            actor_sub=user.external_id,
        )
    )


async def cancel_by_operator(
    session: AsyncSession,
    gateway: StripeGateway,
    actor: audit_service.Actor,
    booking_id: int,
    body: AdminCancelRequest,
) -> CancelResult:
    """The operator's cancel, and its one audit row (entity "booking") in the same transaction."""
    booking = await repository.get(session, booking_id)
    if booking is None:
        raise BookingNotFound(details={"booking_id": booking_id})
    before = {"status": booking.status, "canceled_by": booking.canceled_by}
    result = _result(
        await cancel(session, gateway, booking, canceled_by="admin", reason=body.reason, actor_sub=actor.sub)
    )
    await audit_service.record(
        session,
        actor,
        action="cancel",
        entity="booking",
        entity_id=booking_id,
        before=before,
        after={"status": "canceled", "reason": body.reason, **result.model_dump(mode="json")},
    )
    return result


async def reschedule_for_client(
    session: AsyncSession, settings: Settings, user: User, booking_id: int, body: RescheduleRequest
) -> BookingView:
    booking = await _own(session, user, booking_id)
    moved = await reschedule(session, settings, booking, body.start_time, body.end_time)
    order = await orders_repo.get(session, moved.order_id) if moved.order_id else None
    line = await _line(session, moved) if moved.order_id else None
    return history_service.booking_view(moved, line, order, utcnow())
