"""Orders: price → hold (slot, credit, coupon, pass) → PaymentIntent → fulfil exactly once.

`apply_intent` is the one door through which a payment's outcome reaches an order; confirm,
the webhook and the reconciler all call it, any number of times, in any order. Its guard is
the conditional status UPDATE in `orders.repository.transition`, plus unique keys on everything
fulfilment writes (ledger keys, pass and outbox uniques).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.bookings.models import Booking
from estuary_checkout.catalog import repository as catalog_repo
from estuary_checkout.catalog.models import Service
from estuary_checkout.catalog.service import CatalogCache
from estuary_checkout.config import Settings
from estuary_checkout.coupons import service as coupons_service
from estuary_checkout.credits import service as credits_service
from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import SessionOrConnection
from estuary_checkout.errors import AppError
from estuary_checkout.events import emit as events
from estuary_checkout.links import uses as link_uses
from estuary_checkout.links.models import PaymentLink
from estuary_checkout.orders import repository
from estuary_checkout.orders.cart import Cart, build_cart
from estuary_checkout.orders.errors import (
    OrderNotFound,
    PassUnavailable,
    SlotUnavailable,
    TooManyPendingCheckouts,
)
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.orders.schemas import (
    CheckoutCreated,
    CheckoutRequest,
    PriceQuote,
)
from estuary_checkout.passes import service as passes_service
from estuary_checkout.payments import cards as cards_service
from estuary_checkout.payments.errors import (
    CustomerMissing,
    PaymentMethodNotFound,
    PaymentNotFound,
    PaymentProviderUnavailable,
)
from estuary_checkout.payments.gateway import Intent, StripeGateway
from estuary_checkout.pricing import allocation
from estuary_checkout.users.models import User
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.types import BookingLifecycleInput, OrderExpiryInput

log = structlog.get_logger(__name__)

RESERVED_METADATA = ("order_id", "user_id", "checkout_type", "payment_link_id")
EXPIRY_CANCELER = "expiry"
ORDER_ID_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4a8e-9a39-2b7f0d6c1e11")


def order_id_for(user_id: int, idempotency_key: str | None) -> uuid.UUID:
    """A retried create with the same Idempotency-Key names the same order (and so the same intent)."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(ORDER_ID_NAMESPACE, f"{user_id}:{idempotency_key}")


# ---------------------------------------------------------------------------------------------
# calculate-price


async def quote(
    db: SessionOrConnection,
    settings: Settings,
    user: User,
    body: CheckoutRequest,
    *,
    catalog: CatalogCache | None = None,
) -> PriceQuote:
    """Price the cart; `catalog` may serve slightly stale catalog rows (quotes only)."""
    cart = await build_cart(db, settings, user, body, utcnow(), catalog=catalog)
    t = cart.totals
    return PriceQuote(
        subtotal_cents=t.subtotal_cents,
        discount_cents=t.discount_cents,
        tax_cents=t.tax_cents,
        credits_available_cents=t.credits_available_cents,
        credits_applied_cents=t.credits_applied_cents,
        total_cents=t.total_cents,
        currency=cart.currency,
        items=[line.breakdown() for line in cart.lines],
    )


# ---------------------------------------------------------------------------------------------
# create


def _is_overlap(exc: Exception) -> bool:
    """The overlap guard refused the booking. On PostgreSQL two transactions inserting conflicting
    bookings at the same moment can each find the other's row in the exclusion index and wait for
    it; the deadlock detector then fails one of them (SQLSTATE 40P01, documented behaviour of
    exclusion constraints): that one lost the slot to the other, exactly like a plain conflict."""
    orig = getattr(exc, "orig", exc)
    text = str(orig)
    deadlock = getattr(orig, "pgcode", None) == "40P01" or "deadlock detected" in text
    return deadlock or "ex_booking_no_overlap" in text or "booking_overlap" in text


async def _hold_bookings(
    session: AsyncSession,
    settings: Settings,
    order: Order,
    cart: Cart,
    line_ids: dict[int, int],
    now: datetime,
) -> None:
    for line in cart.lines:
        if line.service.type != "session" or line.start_at is None or line.end_at is None:
            continue
        if line.pass_id is not None and not await passes_service.use_session(session, line.pass_id, now):
            raise PassUnavailable(details={"pass_id": line.pass_id})
        session.add(
            Booking(
                order_id=order.id,
                order_line_id=line_ids[line.line_no],
                user_id=order.user_id,
                practitioner_id=line.practitioner.id,
                service_id=line.service.id,
                pass_id=line.pass_id,
                start_at=line.start_at,
                end_at=line.end_at,
                blocked_until=line.end_at + timedelta(minutes=line.practitioner.buffer_minutes),
                status="pending_payment",
                # the policy the client accepts by booking: later setting changes never alter it
                policy_full_refund_hours=settings.cancel_full_refund_hours,
                policy_late_cancel_refund_percent=settings.late_cancel_refund_percent,
                policy_reschedule_cutoff_hours=settings.reschedule_cutoff_hours,
                policy_max_reschedules=settings.max_reschedules,
                created_at=now,
                updated_at=now,
            )
        )
    try:
        await session.flush()
    except (IntegrityError, DBAPIError) as exc:
        if _is_overlap(exc):
            raise SlotUnavailable(details={"order_id": None}) from exc
        raise


async def ensure_customer(
    session: AsyncSession, gateway: StripeGateway, user: User, *, replace: bool = False
) -> str:
    if user.stripe_customer_id and not replace:
        return user.stripe_customer_id
    customer_id = await gateway.create_customer(
        user_id=user.id, email=user.email, replacing=user.stripe_customer_id if replace else None
    )
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(stripe_customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )
    user.stripe_customer_id = customer_id
    return customer_id


def _line_shares(cart: Cart) -> list[allocation.LineShare]:
    """Each line's exact part of the order's discount, tax, credit and card charge (kept on the
    line: a canceled session's refund is its share)."""
    allowed = coupons_service.terms(cart.coupon).allowed_service_ids if cart.coupon else None
    t = cart.totals
    return allocation.line_shares(
        [line.line_total_cents for line in cart.lines],
        [allowed is None or line.service.id in allowed for line in cart.lines],
        discount_cents=t.discount_cents,
        tax_cents=t.tax_cents,
        credits_cents=t.credits_applied_cents,
        card_cents=t.total_cents,
    )


def _created(order: Order, intent: Intent | None) -> CheckoutCreated:
    return CheckoutCreated(
        checkout_session_id=order.checkout_session_id,
        payment_intent_id=order.payment_intent_id,
        client_secret=intent.client_secret if intent else None,
        order_id=order.id,
        subtotal_cents=order.subtotal_cents,
        discount_cents=order.discount_cents,
        tax_cents=order.tax_cents,
        credits_applied_cents=order.credits_applied_cents,
        total_cents=order.total_cents,
        currency=order.currency,
        requires_payment=order.total_cents > 0,
        status=order.status,
        expires_at=order.expires_at if order.status in repository.OPEN_STATUSES else None,
    )


async def create_checkout(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway,
    user: User,
    body: CheckoutRequest,
    *,
    order_id: uuid.UUID,
    link: PaymentLink | None = None,
) -> CheckoutCreated:
    """Create the order with its holds and a PaymentIntent, in one transaction.

    The Stripe calls happen inside the transaction: if Stripe fails, everything rolls back and
    nothing is held. A PaymentIntent orphaned by a failure after Stripe answered is never
    confirmable (the client never saw its secret) and carries an idempotency key derived from
    the order id, so the client's retry with the same Idempotency-Key reuses it.
    """
    now = utcnow()
    user, open_orders = await repository.lock_user(session, user.id, now)
    if open_orders >= settings.max_pending_orders:
        raise TooManyPendingCheckouts(details={"max_pending_orders": settings.max_pending_orders})
    cart = await build_cart(session, settings, user, body, now, check_bookings=True)
    t = cart.totals

    metadata = {k: v for k, v in (body.metadata or {}).items() if k not in RESERVED_METADATA}
    if link is not None:
        metadata["payment_link_id"] = str(link.id)
    order = Order(
        id=order_id,
        user_id=user.id,
        checkout_type=body.checkout_type,
        status="pending_payment",
        currency=cart.currency,
        subtotal_cents=t.subtotal_cents,
        discount_cents=t.discount_cents,
        tax_cents=t.tax_cents,
        credits_applied_cents=t.credits_applied_cents,
        total_cents=t.total_cents,
        refunded_cents=0,
        coupon_id=cart.coupon.id if cart.coupon else None,
        payment_link_id=link.id if link is not None else None,
        save_payment_method=body.save_payment_method,
        payment_method_id=body.payment_method_id,
        payment_status="unpaid",
        metadata_=metadata,
        expires_at=now + timedelta(minutes=settings.hold_minutes),
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    line_rows = []
    for line, share in zip(cart.lines, _line_shares(cart), strict=True):
        row = OrderLine(
            order_id=order.id,
            line_no=line.line_no,
            service_id=line.service.id,
            practitioner_id=line.practitioner.id,
            service_type=line.service.type,
            description=line.service.name[:300],
            quantity=line.quantity,
            unit_price_cents=line.unit_price_cents,
            line_total_cents=line.line_total_cents,
            start_at=line.start_at,
            end_at=line.end_at,
            child_selections={str(c.child_service_id): c.quantity for c in line.children} or None,
            pass_id=line.pass_id,
            breakdown=line.breakdown().model_dump(mode="json"),
            discount_share_cents=share.discount_cents,
            tax_share_cents=share.tax_cents,
            credit_share_cents=share.credit_cents,
            card_share_cents=share.card_cents,
        )
        session.add(row)
        line_rows.append(row)
    await session.flush()
    await _hold_bookings(session, settings, order, cart, {r.line_no: r.id for r in line_rows}, now)
    if cart.coupon is not None:
        await coupons_service.reserve(
            session, cart.coupon, user_id=user.id, order_id=order.id, discount_cents=t.discount_cents
        )
    if t.credits_applied_cents:
        await credits_service.hold(
            session, user.id, t.credits_applied_cents, currency=order.currency, order_id=order.id
        )
    if link is not None:
        await link_uses.reserve(session, link, user_id=user.id, order_id=order.id, now=now)

    if t.total_cents == 0:
        await _fulfil(session, order, intent=None, now=now)
        return _created(order, None)

    customer_id = await ensure_customer(session, gateway, user)
    if body.payment_method_id:
        card = await gateway.retrieve_card(body.payment_method_id)
        if card.customer != customer_id:
            raise PaymentMethodNotFound(details={"field": "payment_method_id"})
    intent_metadata = {
        **metadata,
        "order_id": str(order.id),
        "user_id": str(user.id),
        "checkout_type": body.checkout_type,
    }

    async def create_intent(customer: str) -> Intent:
        return await gateway.create_intent(
            idempotency_key=f"order-{order.id}-pi-{customer}",
            amount=t.total_cents,
            currency=cart.currency,
            customer_id=customer,
            metadata=intent_metadata,
            save_card=body.save_payment_method,
            payment_method_id=body.payment_method_id,
            description=", ".join(line.service.name for line in cart.lines)[:500],
            receipt_email=user.email,
        )

    try:
        intent = await create_intent(customer_id)
    except CustomerMissing:
        if body.payment_method_id:
            raise PaymentMethodNotFound(details={"field": "payment_method_id"}) from None
        # the stored customer is gone at Stripe: make a new one and try once more
        intent = await create_intent(await ensure_customer(session, gateway, user, replace=True))
    order.payment_intent_id = intent.id
    await session.flush()
    await outbox.enqueue_order_expiry(
        session, OrderExpiryInput(order_id=str(order.id), expires_at=order.expires_at.isoformat())
    )
    if intent.status != "requires_payment_method" or body.payment_method_id:
        await apply_intent(session, None, order, intent)
    return _created(order, intent)


# ---------------------------------------------------------------------------------------------
# fulfilment


def _pass_grants(service: Service, line: OrderLine) -> list[tuple[int, int]]:
    """(child service, sessions) passes a paid line grants: a bundle its child service, a package
    each child included, times the line's quantity."""
    if service.type == "bundle" and service.bundle_child_service_id is not None:
        per_bundle = (service.sessions_included or 0) + (service.bonus_sessions or 0)
        return [(service.bundle_child_service_id, per_bundle * line.quantity)]
    if service.type == "package":
        return [
            (int(cid), qty * line.quantity) for cid, qty in (line.child_selections or {}).items() if qty > 0
        ]
    return []


async def _fulfil(
    session: AsyncSession,
    order: Order,
    *,
    intent: Intent | None,
    now: datetime,
    from_: tuple[str, ...] = repository.OPEN_STATUSES,
) -> bool:
    """Complete the order once. Returns False (and does nothing) if it was already moved."""
    if not await repository.transition(
        session,
        order.id,
        from_=from_,
        to="completed",
        completed_at=now,
        payment_status="paid" if intent is not None else "not_required",
        failure_code=None,
        failure_message=None,
    ):
        return False
    order.status, order.completed_at = "completed", now
    order.payment_status = "paid" if intent is not None else "not_required"
    confirmed = await repository.confirm_bookings(session, order.id, now)
    if order.credits_applied_cents:
        await credits_service.capture(
            session, order.user_id, order.credits_applied_cents, currency=order.currency, order_id=order.id
        )
    if order.coupon_id is not None:
        await coupons_service.finalize(session, order.id)
    lines = await repository.lines(session, order.id)
    grants = [line for line in lines if line.service_type != "session"]
    services = await catalog_repo.services_by_id(session, {line.service_id for line in grants})
    for line in grants:
        service = services[line.service_id]
        for child_service_id, sessions in _pass_grants(service, line):
            await passes_service.grant(
                session,
                user_id=order.user_id,
                order_id=order.id,
                order_line_id=line.id,
                source_service_id=service.id,
                service_id=child_service_id,
                practitioner_id=line.practitioner_id,
                sessions=sessions,
                validity_days=service.validity_days,
                now=now,
            )
    if intent is not None and order.save_payment_method and intent.payment_method:
        await cards_service.record(session, order.user_id, intent)
    for booking in confirmed:
        await outbox.enqueue_booking_lifecycle(
            session,
            BookingLifecycleInput(
                booking_id=booking.id,
                user_id=booking.user_id,
                start_at=booking.start_at.isoformat(),
                end_at=booking.end_at.isoformat(),
            ),
        )
    await events.order_event(session, "order.completed", order)
    for booking in confirmed:
        await events.booking_event(session, "booking.confirmed", booking.id)
    if grants:
        await events.passes_granted(session, order.id)
    if order.payment_link_id is not None and await link_uses.complete(session, order.id, now):
        await events.payment_link_completed(session, order.payment_link_id, order)
    log.info("order_fulfilled", order_id=str(order.id), total_cents=order.total_cents)
    return True


async def _release_holds(session: AsyncSession, order: Order, *, reason: str, now: datetime) -> None:
    """Undo what an unpaid order held: slots, pass sessions, credit, coupon (each once)."""
    canceled = await repository.cancel_bookings(
        session, order.id, by=EXPIRY_CANCELER if reason == "expired" else "system", reason=reason, now=now
    )
    for booking in canceled:
        if booking.pass_id is not None:
            await passes_service.give_back_session(session, booking.pass_id)
    if order.credits_applied_cents:
        await credits_service.release(
            session,
            order.user_id,
            order.credits_applied_cents,
            currency=order.currency,
            order_id=order.id,
            reason=reason,
        )
    await coupons_service.release(session, order.id)
    if order.payment_link_id is not None:
        await link_uses.release(session, order.id, now)


async def _revive_and_fulfil(
    session: AsyncSession, gateway: StripeGateway | None, order: Order, intent: Intent, now: datetime
) -> str:
    """A payment that succeeded after its order expired: fulfil if everything can be held again,
    else refund it in full and say why."""
    try:
        async with session.begin_nested():
            revived = await repository.revive_bookings(
                session, order.id, canceled_by=EXPIRY_CANCELER, now=now
            )
            await session.flush()
            for booking in revived:
                if booking.pass_id is not None and not await passes_service.use_session(
                    session, booking.pass_id, now
                ):
                    raise PassUnavailable()
            if order.credits_applied_cents:
                await credits_service.hold(
                    session,
                    order.user_id,
                    order.credits_applied_cents,
                    currency=order.currency,
                    order_id=order.id,
                    again=True,
                )
            if not await coupons_service.re_reserve(session, order.id):
                raise SlotUnavailable("The coupon has no redemptions left")
            if not await _fulfil(session, order, intent=intent, now=now, from_=("expired", "canceled")):
                return order.status
            return "completed"
    except (IntegrityError, DBAPIError, SlotUnavailable, PassUnavailable) as exc:
        reason = "paid after the order expired; the slot was no longer available"
        log.info("late_payment_refunded", order_id=str(order.id), error=str(exc)[:200])
        if gateway is None:
            raise
        from estuary_checkout.refunds import service as refunds_service

        order = await repository.get(session, order.id, for_update=True) or order
        await refunds_service.give_back(
            session,
            gateway,
            order,
            key=f"order:{order.id}:late-payment",
            from_card=intent.amount,
            from_credit=0,
            card_to_credit=False,
            reason=refunds_service.Reason("late_payment", "system", note=reason),
        )
        await repository.transition(
            session,
            order.id,
            from_=("expired", "canceled"),
            to="refunded",
            payment_status="refunded",
            refund_reason=reason,
        )
        return "refunded"


async def apply_intent(
    session: AsyncSession, gateway: StripeGateway | None, order: Order, intent: Intent
) -> str:
    """Bring the order in line with what Stripe says about its PaymentIntent. Idempotent.

    Terminal orders never move backwards: a stale failure after a success changes nothing.
    """
    now = utcnow()
    current = await repository.get(session, order.id)
    if current is None:
        raise OrderNotFound()
    order = current
    if intent.status == "succeeded":
        if order.status in repository.OPEN_STATUSES:
            if await _fulfil(session, order, intent=intent, now=now):
                return "completed"
            fresh = await repository.get(session, order.id)  # another caller moved it first
            return fresh.status if fresh else "completed"
        if order.status in ("expired", "canceled"):
            return await _revive_and_fulfil(session, gateway, order, intent, now)
        return order.status
    if order.status not in repository.OPEN_STATUSES:
        return order.status
    if intent.status == "processing":
        await repository.transition(
            session, order.id, from_=repository.OPEN_STATUSES, to="processing", payment_status="processing"
        )
        return "processing"
    if intent.status == "canceled":
        if await repository.transition(
            session, order.id, from_=repository.OPEN_STATUSES, to="canceled", payment_status="canceled"
        ):
            await _release_holds(session, order, reason="payment canceled", now=now)
        return "canceled"
    # requires_payment_method (declined or not yet paid), requires_confirmation, requires_action:
    # the order stays payable until it expires.
    values: dict[str, Any] = {"payment_status": intent.status}
    if intent.last_error_code:
        values.update(
            failure_code=intent.last_error_decline_code or intent.last_error_code,
            failure_message=(intent.last_error_message or "")[:1000],
        )
    await repository.transition(
        session, order.id, from_=repository.OPEN_STATUSES, to="pending_payment", **values
    )
    return "pending_payment"


async def expire_order(
    session: AsyncSession, gateway: StripeGateway, order_id: uuid.UUID, *, force: bool = False
) -> str:
    """Expire an unpaid order once its hold time has passed. Asks Stripe first: a payment that
    already succeeded is fulfilled instead. Idempotent; returns the order's resulting status."""
    order = await repository.get(session, order_id)
    if order is None:
        raise OrderNotFound()
    now = utcnow()
    if order.status not in repository.OPEN_STATUSES:
        return order.status
    if order.expires_at > now and not force:
        return order.status
    payment_status = "canceled"
    if order.payment_intent_id:
        try:
            intent = await gateway.retrieve_intent(order.payment_intent_id)
            if intent.status in ("succeeded", "processing"):
                return await apply_intent(session, gateway, order, intent)
            if intent.status != "canceled":
                try:
                    intent = await gateway.cancel_intent(
                        order.payment_intent_id, idempotency_key=f"order-{order.id}-cancel"
                    )
                except AppError:
                    # it may have succeeded between our read and the cancel: read again, follow Stripe
                    intent = await gateway.retrieve_intent(order.payment_intent_id)
                    if intent.status in ("succeeded", "processing"):
                        return await apply_intent(session, gateway, order, intent)
                    raise
        except PaymentNotFound:
            # Stripe has no such intent (another account or a reset test account): nobody can
            # pay it, so there is nothing to cancel
            log.warning("order_expired_intent_unknown", order_id=str(order.id))
        except PaymentProviderUnavailable:
            # Stripe cannot be reached: the hold still ends on time. A payment that lands later
            # reaches apply_intent (webhook, reconciler) and is fulfilled if everything can be
            # held again, else refunded.
            log.warning("order_expired_without_cancel", order_id=str(order.id))
            payment_status = "cancel_pending"
    if await repository.transition(
        session, order.id, from_=("pending_payment",), to="expired", payment_status=payment_status
    ):
        await _release_holds(session, order, reason="expired", now=now)
        order.status, order.payment_status = "expired", payment_status
        await events.order_event(session, "order.expired", order)
        log.info("order_expired", order_id=str(order.id))
        return "expired"
    fresh = await repository.get(session, order.id)
    return fresh.status if fresh else "expired"
