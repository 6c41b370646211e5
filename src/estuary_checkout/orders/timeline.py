"""An order's timeline for operators (SPEC 11.4): what happened to it, gathered from every table
that records something about it, oldest first.

Each source reads one kind of record and turns its rows into entries; `build` merges them by time
(a stable sort: entries of one instant keep the order of SOURCES, so "created" stays before what
followed it). A new kind of record is one more source in SOURCES.

What the rows can tell is what the timeline tells: the PaymentIntent's own creation time is not
stored (it is made in the same request as the order, so the order's time stands for it), and a
refund keeps its creation time and the time of its latest status change, not every change between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings.models import Booking
from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.events import repository as events_repository
from estuary_checkout.orders import history_repository as repository
from estuary_checkout.orders.history_schemas import TimelineEntry
from estuary_checkout.orders.models import Order
from estuary_checkout.refunds.models import Refund
from estuary_checkout.workflows.types import booking_workflow_id, order_expiry_workflow_id

FINAL_REFUND_STATUSES = ("succeeded", "failed", "canceled")


@dataclass(frozen=True)
class OrderFacts:
    """The order and the rows of it the detail view has loaded already."""

    order: Order
    bookings: list[Booking]
    refunds: list[Refund]
    ledger: list[CreditLedgerEntry]


Source = Callable[[AsyncSession, OrderFacts], Awaitable[list[TimelineEntry]]]


def _entry(at: datetime, kind: str, summary: str, **details: Any) -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, summary=summary, details=details)


def _money(cents: int, currency: str) -> str:
    return f"{cents} {currency}"  # minor units, like every amount in the API


async def _order(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    o = f.order
    out = [
        _entry(
            o.created_at,
            "order.created",
            f"Order created ({o.checkout_type}), total {_money(o.total_cents, o.currency)}",
            subtotal_cents=o.subtotal_cents,
            discount_cents=o.discount_cents,
            tax_cents=o.tax_cents,
            credits_applied_cents=o.credits_applied_cents,
            total_cents=o.total_cents,
            coupon_id=o.coupon_id,
            expires_at=o.expires_at,
        )
    ]
    if o.payment_intent_id:
        out.append(
            _entry(
                o.created_at,
                "payment_intent.created",
                f"PaymentIntent {o.payment_intent_id} created for {_money(o.total_cents, o.currency)}",
                payment_intent_id=o.payment_intent_id,
                amount_cents=o.total_cents,
            )
        )
    if o.completed_at is not None:
        out.append(
            _entry(
                o.completed_at,
                "order.fulfilled",
                "Payment succeeded; order fulfilled" if o.payment_intent_id else "Fulfilled (nothing to pay)",
                payment_status=o.payment_status,
            )
        )
    return out


async def _credit(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    return [
        _entry(
            row.created_at,
            f"credit.{row.kind}",
            f"Store credit {row.kind}: {_money(row.amount_cents, f.order.currency)}",
            ledger_entry_id=row.id,
            amount_cents=row.amount_cents,
            balance_delta_cents=row.balance_delta_cents,
            held_delta_cents=row.held_delta_cents,
            key=row.key,
            note=row.note,
        )
        for row in f.ledger
    ]


async def _workflows(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    ids = [order_expiry_workflow_id(str(f.order.id))] + [booking_workflow_id(b.id) for b in f.bookings]
    out = []
    for row in await repository.outbox(session, ids):
        signal = row.kind == "signal_workflow"
        out.append(
            _entry(
                row.created_at,
                "workflow.signal" if signal else "workflow.start",
                f"Signal {row.signal_name} to {row.workflow_id} queued"
                if signal
                else f"Start of {row.workflow_type} {row.workflow_id} queued",
                workflow_id=row.workflow_id,
                workflow_type=row.workflow_type,
                signal=row.signal_name,
                payload=row.payload,
                dispatched_at=row.dispatched_at,
                attempts=row.attempts,
                last_error=row.last_error,
            )
        )
    return out


async def _stripe_events(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    """Events whose object is the order's PaymentIntent or one of its refunds (a charge.* event's
    object is the charge, which this service does not record: those show through their refund)."""
    ids = [f.order.payment_intent_id] if f.order.payment_intent_id else []
    ids += [r.stripe_refund_id for r in f.refunds if r.stripe_refund_id]
    return [
        _entry(
            ev.received_at,
            "stripe_event.received",
            f"Stripe {ev.type} received ({ev.status})",
            event_id=ev.id,
            type=ev.type,
            object_id=ev.object_id,
            status=ev.status,
            attempts=ev.attempts,
            processed_at=ev.processed_at,
            last_error=ev.last_error,
        )
        for ev in await repository.stripe_events(session, ids)
    ]


async def _refunds(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    out = []
    for r in f.refunds:
        details = {
            "refund_id": r.id,
            "amount_cents": r.amount_cents,
            "source": r.source,
            "to": r.destination,
            "reason": r.reason,
            "note": r.note,
            "created_by": r.created_by,
            "actor_sub": r.actor_sub,
            "booking_id": r.booking_id,
            "stripe_refund_id": r.stripe_refund_id,
            "replaces_refund_id": r.replaces_refund_id,
        }
        out.append(
            _entry(
                r.created_at,
                "refund.created",
                f"Refund {r.id}: {_money(r.amount_cents, r.currency)} to {r.destination} ({r.reason})",
                **details,
            )
        )
        if r.status in FINAL_REFUND_STATUSES:
            out.append(
                _entry(
                    r.updated_at,
                    f"refund.{r.status}",
                    f"Refund {r.id} {r.status}"
                    + (f": {r.failure_reason}" if r.failure_reason and r.status != "succeeded" else ""),
                    refund_id=r.id,
                    failure_reason=r.failure_reason,
                )
            )
    return out


async def _bookings(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    """Cancellations and reschedules from the bookings' history rows; a booking canceled with no
    history row (its hold released when the unpaid order expired or failed) from the booking."""
    out = []
    with_cancel_event = set()
    for ev in await repository.booking_events(session, [b.id for b in f.bookings]):
        if ev.kind == "canceled":
            with_cancel_event.add(ev.booking_id)
            summary = f"Booking {ev.booking_id} canceled by {ev.actor}" + (
                f": {ev.reason}" if ev.reason else ""
            )
        else:
            moved_from = ev.from_start_at.isoformat() if ev.from_start_at else "?"
            moved_to = ev.to_start_at.isoformat() if ev.to_start_at else "?"
            summary = f"Booking {ev.booking_id} rescheduled by {ev.actor} from {moved_from} to {moved_to}"
        out.append(
            _entry(
                ev.at,
                f"booking.{ev.kind}",
                summary,
                booking_id=ev.booking_id,
                actor=ev.actor,
                actor_sub=ev.actor_sub,
                reason=ev.reason,
                from_start_at=ev.from_start_at,
                from_end_at=ev.from_end_at,
                to_start_at=ev.to_start_at,
                to_end_at=ev.to_end_at,
            )
        )
    for b in f.bookings:
        if b.status == "canceled" and b.canceled_at is not None and b.id not in with_cancel_event:
            out.append(
                _entry(
                    b.canceled_at,
                    "booking.canceled",
                    f"Booking {b.id} canceled by {b.canceled_by}"
                    + (f": {b.cancel_reason}" if b.cancel_reason else ""),
                    booking_id=b.id,
                    actor=b.canceled_by,
                    reason=b.cancel_reason,
                )
            )
    return out


async def _notices(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    rows = await repository.notifications(
        session, user_id=f.order.user_id, booking_ids=[b.id for b in f.bookings], order_id=f.order.id
    )
    return [
        _entry(
            n.created_at,
            "notice",
            f"Notice '{n.kind}' to the client ({n.channel}, {'sent' if n.sent_at else 'not sent yet'})",
            notification_id=n.id,
            notice_kind=n.kind,
            booking_id=n.booking_id,
            channel=n.channel,
            sent_at=n.sent_at,
            payload=n.payload,
        )
        for n in rows
    ]


async def _outbound_events(session: AsyncSession, f: OrderFacts) -> list[TimelineEntry]:
    """The events sent to the host platform about this order (SPEC 12.1), each with where its
    deliveries stand."""
    events = await events_repository.events_of_order(session, f.order.id)
    deliveries = await events_repository.deliveries_of_events(session, [e.id for e in events])
    out = []
    for e in events:
        mine = [d for d in deliveries if d.event_id == e.id]
        states = ", ".join(f"{d.status}" for d in mine) or "no endpoint subscribed"
        out.append(
            _entry(
                e.created_at,
                "outbound_event",
                f"Event {e.type} ({states})",
                event_id=e.id,
                type=e.type,
                deliveries=[
                    {
                        "delivery_id": d.id,
                        "endpoint_id": d.endpoint_id,
                        "status": d.status,
                        "attempt": d.attempt,
                        "status_code": d.status_code,
                        "error": d.error,
                    }
                    for d in mine
                ],
            )
        )
    return out


SOURCES: tuple[Source, ...] = (
    _order,
    _credit,
    _workflows,
    _stripe_events,
    _refunds,
    _bookings,
    _notices,
    _outbound_events,
)


async def build(session: AsyncSession, facts: OrderFacts) -> list[TimelineEntry]:
    entries = [entry for source in SOURCES for entry in await source(session, facts)]
    return sorted(entries, key=lambda e: e.at)
