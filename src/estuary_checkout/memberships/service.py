"""Memberships (client side): subscribe, list, cancel, resume; and what the workflow reads."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.config import Settings
from estuary_checkout.db.base import utcnow
from estuary_checkout.memberships import plans, repository, sync
from estuary_checkout.memberships.errors import (
    MembershipEnded,
    MembershipExists,
    MembershipNotFound,
    PaymentMethodRequired,
)
from estuary_checkout.memberships.models import ENDED_STATUSES, LIVE_STATUSES, Membership, MembershipPlan
from estuary_checkout.memberships.schemas import (
    MembershipCreate,
    MembershipCreated,
    MembershipCredits,
    MembershipView,
)
from estuary_checkout.orders import service as orders_service
from estuary_checkout.pagination import PageOf
from estuary_checkout.passes import service as passes_service
from estuary_checkout.payments.errors import PaymentFailed, PaymentMethodNotFound
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.users import repository as users_repo
from estuary_checkout.users.models import User
from estuary_checkout.workflows import outbox
from estuary_checkout.workflows.types import (
    MembershipInput,
    MembershipSnapshot,
)


async def snapshot(session: AsyncSession, membership_id: int) -> MembershipSnapshot:
    m = await repository.get(session, membership_id)
    if m is None:
        raise MembershipNotFound()
    return MembershipSnapshot(
        status=m.status,
        current_period_end=m.current_period_end.isoformat() if m.current_period_end else None,
        cancel_at_period_end=m.cancel_at_period_end,
        latest_invoice_id=m.latest_invoice_id,
        latest_invoice_status=m.latest_invoice_status,
    )


async def view(session: AsyncSession, m: Membership, plan: MembershipPlan | None = None) -> MembershipView:
    plan = plan or await session.get(MembershipPlan, m.plan_id)
    assert plan is not None
    usable, frozen, expires = await passes_service.membership_credits(session, m.id, utcnow())
    return MembershipView(
        membership_id=m.id,
        plan_id=m.plan_id,
        plan_name=plan.name,
        status=m.status,  # type: ignore[arg-type]
        currency=m.currency,
        amount_cents=m.amount_cents,
        interval=plan.interval,  # type: ignore[arg-type]
        current_period_start=m.current_period_start,
        current_period_end=m.current_period_end,
        cancel_at_period_end=m.cancel_at_period_end,
        canceled_at=m.canceled_at,
        ended_at=m.ended_at,
        credits=MembershipCredits(available=usable, frozen=frozen, expires_at=expires),
        created_at=m.created_at,
    )


async def _live_on_plan(session: AsyncSession, user_id: int, plan_id: int) -> Membership | None:
    rows = await session.execute(
        select(Membership).where(
            Membership.user_id == user_id, Membership.plan_id == plan_id, Membership.status.in_(LIVE_STATUSES)
        )
    )
    return rows.scalars().first()


async def subscribe(
    session: AsyncSession, settings: Settings, gateway: StripeGateway, user: User, body: MembershipCreate
) -> MembershipCreated:
    """A Stripe subscription for the plan: `incomplete` with the first invoice's confirmation
    secret, or paid at once with a saved card (`payment_method_id`)."""
    plan, price = await plans.offer(session, body.plan_id, body.currency, settings.currency)
    if plan.trial_days and body.payment_method_id is None:
        # nothing is paid now, so no card would be saved: the first renewal could not be charged
        raise PaymentMethodRequired(details={"field": "payment_method_id", "trial_days": plan.trial_days})
    # the caller as stored (the auth cache's User has no Stripe customer), locked: one user's
    # subscribes run one at a time, so the check below sees the one before
    stored = await users_repo.get(session, user.id, for_update=True)
    assert stored is not None
    user = stored
    existing = await _live_on_plan(session, user.id, plan.id)
    if existing is not None:
        raise MembershipExists(details={"membership_id": existing.id, "status": existing.status})
    await plans.ensure_in_stripe(session, gateway, plan, price)
    customer_id = await orders_service.ensure_customer(session, gateway, user)
    if body.payment_method_id is not None:
        card = await gateway.retrieve_card(body.payment_method_id)
        if card.customer != customer_id:
            raise PaymentMethodNotFound(details={"field": "payment_method_id"})
    now = utcnow()
    m = Membership(
        user_id=user.id,
        plan_id=plan.id,
        plan_price_id=price.id,
        currency=price.currency,
        amount_cents=price.amount_cents,
        status="incomplete",
        stripe_customer_id=customer_id,
        cancel_at_period_end=False,
        stripe_snapshot={},
        created_at=now,
        updated_at=now,
    )
    try:
        # the partial unique index: a concurrent subscribe to the same plan loses here
        async with session.begin_nested():
            session.add(m)
            await session.flush()
    except IntegrityError as exc:
        raise MembershipExists(details={"plan_id": plan.id}) from exc
    sub = await gateway.create_subscription(
        # a key per attempt: the SDK's own retries reuse it; SQLite may reuse a rolled-back row's id
        idempotency_key=f"membership-{m.id}-subscribe-{uuid.uuid4().hex}",
        customer_id=customer_id,
        price_id=price.stripe_price_id or "",
        membership_id=m.id,
        user_id=user.id,
        trial_days=plan.trial_days,
        payment_method_id=body.payment_method_id,
    )
    m.stripe_subscription_id = sub.id
    first = sub.latest_invoice
    client_secret = first.client_secret if first is not None and first.status == "open" else None
    if body.payment_method_id is not None and first is not None and first.status == "open":
        try:
            await gateway.pay_invoice(
                first.id,
                payment_method_id=body.payment_method_id,
                idempotency_key=f"invoice-{first.id}-first-payment",
            )
        except PaymentFailed:
            await gateway.cancel_subscription(sub.id)  # nothing was paid: leave no subscription behind
            raise
        sub = await gateway.retrieve_subscription(sub.id)
        client_secret = None
    await sync.apply(session, m, sub)
    await outbox.enqueue_membership(session, MembershipInput(membership_id=m.id, user_id=user.id))
    return MembershipCreated(
        membership_id=m.id,
        status=m.status,  # type: ignore[arg-type]
        client_secret=client_secret if m.status == "incomplete" else None,
        current_period_end=m.current_period_end,
    )


async def list_for_user(
    session: AsyncSession, user_id: int, *, limit: int, cursor: str | None
) -> PageOf[MembershipView]:
    page = await repository.page_for_user(session, user_id, limit=limit, cursor=cursor)
    return PageOf([await view(session, m) for m in page.rows], page.has_more, page.next_cursor)


async def _mine(session: AsyncSession, user: User, membership_id: int) -> Membership:
    m = await repository.get(session, membership_id)
    if m is None or m.user_id != user.id:  # another user's membership is not found either
        raise MembershipNotFound(details={"membership_id": membership_id})
    return m


async def get_for_user(session: AsyncSession, user: User, membership_id: int) -> MembershipView:
    return await view(session, await _mine(session, user, membership_id))


async def cancel(
    session: AsyncSession, gateway: StripeGateway, user: User, membership_id: int, *, at_period_end: bool
) -> MembershipView:
    """Cancel at the period end (resumable until then) or now. A membership that has ended
    already answers with its state: canceling is idempotent. An unpaid (`incomplete`) one has no
    period to run to, so it ends now either way."""
    m = await sync.lock(session, (await _mine(session, user, membership_id)).id)
    if m.status in ENDED_STATUSES or not m.stripe_subscription_id:
        return await view(session, m)
    if at_period_end and m.status != "incomplete":
        if not m.cancel_at_period_end:
            await sync.apply(
                session, m, await gateway.set_cancel_at_period_end(m.stripe_subscription_id, True)
            )
    else:
        current = await gateway.retrieve_subscription(m.stripe_subscription_id)
        if current.status not in ENDED_STATUSES:
            current = await gateway.cancel_subscription(m.stripe_subscription_id)
        await sync.apply(session, m, current)
    return await view(session, m)


async def resume(
    session: AsyncSession, gateway: StripeGateway, user: User, membership_id: int
) -> MembershipView:
    """Undo a cancel at the period end (before it comes); an ended membership can't resume."""
    m = await sync.lock(session, (await _mine(session, user, membership_id)).id)
    if m.status in ENDED_STATUSES:
        raise MembershipEnded(details={"membership_id": m.id, "status": m.status})
    if m.cancel_at_period_end and m.stripe_subscription_id:
        await sync.apply(session, m, await gateway.set_cancel_at_period_end(m.stripe_subscription_id, False))
    return await view(session, m)
