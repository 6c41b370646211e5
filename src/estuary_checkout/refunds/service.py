"""Refunds: money going back to a client's card (a Stripe refund) or to their store credit.

Money never leaks (SPEC 11.3):
* every refund first **reserves** its amount against what its paying method paid, with a guarded
  UPDATE of the order row (`refunds.repository.reserve`, backed by CHECK constraints): under any
  concurrency the refunds out of one method add up to at most what it paid. The order row lock
  also serializes everything that touches one order's refunds;
* every refund row has a unique **key** derived from the operation that asked for it (a booking's
  cancel, an admin request's Idempotency-Key, a Stripe refund id): the same operation twice finds
  its row and moves nothing; the Stripe call carries the key as its idempotency key;
* a card refund's status follows what Stripe says *now* (`sync_from_stripe` re-reads the
  intent's refunds; event bodies are only triggers), and only moves forward: pending →
  succeeded / failed / canceled, succeeded → failed. A card refund that fails is replaced, once,
  by store credit (ledger key `refund:{id}:fallback`) and the client is told.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout import currencies
from estuary_checkout.credits import service as credits_service
from estuary_checkout.events import emit as events
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.orders.models import Order
from estuary_checkout.payments.gateway import RefundInfo, StripeGateway
from estuary_checkout.refunds import repository
from estuary_checkout.refunds.errors import RefundExceedsRefundable
from estuary_checkout.refunds.models import Refund
from estuary_checkout.workflows import notifications

log = structlog.get_logger(__name__)

PAID_STATUSES = ("completed", "partially_refunded", "refunded")
OPEN = ("pending", "requires_action")
FINAL = ("failed", "canceled")


@dataclass(frozen=True)
class Refundable:
    """What is left to give back, per paying method."""

    card_cents: int
    credit_cents: int

    def as_dict(self) -> dict[str, int]:
        return {"card_cents": self.card_cents, "credit_cents": self.credit_cents}


def refundable(order: Order) -> Refundable:
    return Refundable(
        card_cents=order.total_cents - order.refund_from_card_cents,
        credit_cents=order.credits_applied_cents - order.refund_from_credit_cents,
    )


@dataclass(frozen=True)
class Reason:
    """Why money goes back, and who asked (stored on the refund and in Stripe's metadata)."""

    code: str
    created_by: str
    note: str | None = None
    actor_sub: str | None = None
    booking_id: int | None = None


async def give_back(
    session: AsyncSession,
    gateway: StripeGateway,
    order: Order,
    *,
    key: str,
    from_card: int,
    from_credit: int,
    card_to_credit: bool,
    reason: Reason,
) -> list[Refund]:
    """Give back `from_card` of what the card paid (to the card, or as store credit with
    `card_to_credit`) and `from_credit` of what store credit paid (as store credit).

    The caller holds the order row lock (`orders.repository.get(..., for_update=True)`). Runs
    again with the same `key` change nothing and return the same rows. Raises
    RefundExceedsRefundable (and the caller's transaction rolls back) if a method has less left.
    """
    rows = []
    # a card refund is sent in what the currency can be charged in (whole units of ISK or UGX,
    # multiples of 10 of the three-decimal ones): the part below one step, which a share of the
    # order can leave, goes back as store credit in the order's currency instead
    to_card = (
        from_card if card_to_credit else from_card - from_card % currencies.chargeable_step(order.currency)
    )
    parts = (
        ("card", "card", to_card, "credit" if card_to_credit else "card"),
        ("card-rest", "card", from_card - to_card, "credit"),
        ("credit", "credit", from_credit, "credit"),
    )
    for name, source, amount, destination in parts:
        if amount > 0:
            rows.append(
                await _open(
                    session,
                    gateway,
                    order,
                    key=f"{key}:{name}",
                    source=source,
                    destination=destination,
                    amount=amount,
                    reason=reason,
                )
            )
    await settle_order(session, order)
    return rows


async def _open(
    session: AsyncSession,
    gateway: StripeGateway,
    order: Order,
    *,
    key: str,
    source: str,
    destination: str,
    amount: int,
    reason: Reason,
) -> Refund:
    row = await repository.insert_once(
        session,
        key=key,
        order_id=order.id,
        booking_id=reason.booking_id,
        amount_cents=amount,
        currency=order.currency,
        source=source,
        destination=destination,
        status="pending",
        reason=reason.code,
        note=reason.note,
        created_by=reason.created_by,
        actor_sub=reason.actor_sub,
    )
    if row is None:  # this operation ran before: its row, nothing moved again
        existing = await repository.by_key(session, key)
        assert existing is not None
        return existing
    if not await repository.reserve(session, order.id, source, amount):
        fresh = await orders_repo.get(session, order.id)
        raise RefundExceedsRefundable(details={"refundable": refundable(fresh or order).as_dict()})
    if source == "card":
        order.refund_from_card_cents += amount
    else:
        order.refund_from_credit_cents += amount
    if destination == "credit":
        await credits_service.refund(
            session,
            order.user_id,
            amount,
            currency=order.currency,
            key=f"refund:{row.id}",
            order_id=order.id,
            note=reason.code,
        )
        await _move(session, order, row, to="succeeded")
        return row
    info = await gateway.refund(
        intent_id=order.payment_intent_id or "",
        amount=amount,
        idempotency_key=key,
        reason=reason.code,
        metadata={"refund_key": key, "refund_id": str(row.id), "order_id": str(order.id)},
    )
    await apply_stripe(session, order, row, info)
    return row


async def apply_stripe(session: AsyncSession, order: Order, row: Refund, info: RefundInfo) -> None:
    """Bring our card refund in line with Stripe's refund object. Idempotent; never backwards."""
    if row.stripe_refund_id is None:
        await repository.set_status(
            session, row.id, from_=(row.status,), to=row.status, stripe_refund_id=info.id
        )
        row.stripe_refund_id = info.id
    status = info.status
    if status == row.status or row.status in FINAL:
        return
    if status in OPEN:
        await repository.set_status(session, row.id, from_=OPEN, to=status)
        row.status = status
    elif status == "succeeded":
        await _move(session, order, row, to="succeeded")
    elif status in FINAL:
        await _move(session, order, row, to=status, failure_reason=info.failure_reason or status)


async def _move(
    session: AsyncSession, order: Order, row: Refund, *, to: str, failure_reason: str | None = None
) -> None:
    """A forward transition with its consequences: a notice, and for a failed card refund the
    store-credit fallback. Nothing happens if another caller made the move first."""
    allowed = OPEN if to == "succeeded" else (*OPEN, "succeeded")
    if not await repository.set_status(session, row.id, from_=allowed, to=to, failure_reason=failure_reason):
        return
    row.status = to
    if to == "succeeded":
        await _notify(session, order, row, "refund_succeeded")
        return
    row.failure_reason = failure_reason
    log.warning("refund_failed", refund_id=row.id, order_id=str(order.id), reason=failure_reason)
    fallback = await repository.insert_once(
        session,
        key=f"refund:{row.id}:fallback",
        order_id=order.id,
        booking_id=row.booking_id,
        amount_cents=row.amount_cents,
        currency=row.currency,
        source=row.source,  # the failed refund's reservation carries over: nothing new is reserved
        destination="credit",
        status="pending",
        reason="card_refund_failed",
        note=f"card refund {row.stripe_refund_id or row.id} {to}: {failure_reason}",
        created_by="system",
        replaces_refund_id=row.id,
    )
    if fallback is None:
        return
    await credits_service.refund(
        session,
        order.user_id,
        row.amount_cents,
        currency=order.currency,
        key=f"refund:{row.id}:fallback",
        order_id=order.id,
        note=failure_reason,
    )
    await repository.set_status(session, fallback.id, from_=("pending",), to="succeeded")
    fallback.status = "succeeded"
    await _notify(session, order, row, "refund_failed", fallback_refund_id=fallback.id)
    await events.refund_failed(session, order, row, fallback_refund_id=fallback.id)


async def _notify(session: AsyncSession, order: Order, row: Refund, kind: str, **extra: object) -> None:
    await notifications.enqueue(
        session,
        dedupe_key=f"refund:{row.id}:{kind.removeprefix('refund_')}",
        user_id=order.user_id,
        kind=kind,
        booking_id=row.booking_id,
        payload={
            "order_id": str(order.id),
            "refund_id": row.id,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "to": row.destination,
            "failure_reason": row.failure_reason,
            **extra,
        },
    )


async def settle_order(session: AsyncSession, order: Order) -> None:
    """The order's refunded_cents (succeeded refunds) and, once paid, its refund status."""
    total = await repository.succeeded_total(session, order.id)
    # store credit paid only orders that were fulfilled (an expired order's hold was released)
    paid = order.total_cents + (order.credits_applied_cents if order.completed_at is not None else 0)
    values: dict[str, object] = {"refunded_cents": total}
    if order.status in PAID_STATUSES:
        # an order nothing was paid for (a pass covered it) is never "refunded"
        status = "refunded" if 0 < paid <= total else "partially_refunded" if total > 0 else "completed"
        values["payment_status"] = status if status != "completed" else "paid"
        await orders_repo.transition(session, order.id, from_=PAID_STATUSES, to=status, **values)
        order.status = status
    else:
        await orders_repo.transition(session, order.id, from_=(order.status,), to=order.status, **values)
    order.refunded_cents = total
    if total > 0:
        # one event per refunded total the order reaches (a second partial refund is a new event)
        await events.order_event(session, "order.refunded", order, key=f"order:{order.id}:refunded:{total}")


async def sync_from_stripe(session: AsyncSession, gateway: StripeGateway, order_id: object) -> str | None:
    """Re-read the order's refunds at Stripe and follow them (webhook events, the reconciler).
    Refunds made outside this service (Stripe's dashboard) are recorded too. Returns the order's
    status, or None if there is no such order."""
    order = await orders_repo.get(session, order_id, for_update=True)  # type: ignore[arg-type]
    if order is None or not order.payment_intent_id:
        return None if order is None else order.status
    for info in await gateway.list_refunds(order.payment_intent_id):
        row = await repository.by_stripe_id(session, info.id)
        if row is None and info.metadata.get("refund_key"):
            row = await repository.by_key(session, info.metadata["refund_key"])
        if row is None:
            row = await _adopt(session, order, info)
        if row.destination == "card":
            await apply_stripe(session, order, row, info)
    await settle_order(session, order)
    return order.status


async def _adopt(session: AsyncSession, order: Order, info: RefundInfo) -> Refund:
    """A refund made at Stripe directly (or one whose recording was rolled back after Stripe made
    it): recorded under its Stripe id, its amount counted against what the card paid."""
    key = info.metadata.get("refund_key") or f"stripe:{info.id}"
    row = await repository.insert_once(
        session,
        key=key,
        stripe_refund_id=info.id,
        order_id=order.id,
        amount_cents=info.amount,
        currency=info.currency,
        source="card",
        destination="card",
        status="pending",
        reason="other",
        note="made at Stripe",
        created_by="stripe",
    )
    if row is None:
        existing = await repository.by_key(session, key)
        assert existing is not None
        return existing
    left = refundable(order).card_cents
    if not await repository.reserve(session, order.id, "card", min(info.amount, left)):
        raise AssertionError("reserving what is left cannot fail")
    order.refund_from_card_cents += min(info.amount, left)
    if info.amount > left:
        # Stripe refunded more than our books had left (e.g. card money already given back as
        # credit): the money is out twice; nothing here can take it back, so say so loudly
        log.error(
            "refund_exceeds_card_share", order_id=str(order.id), refund=info.id, over=info.amount - left
        )
    return row
