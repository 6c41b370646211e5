"""Membership plans (admin): each plan is a Stripe Product with one recurring Price per currency.

The row is written first and flushed (its id goes into the Stripe objects' metadata), then Stripe
is asked in the same transaction; a Stripe failure rolls the row back (at worst leaving an unused
Product at Stripe, which nothing refers to).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout import currencies
from estuary_checkout.audit import service as audit
from estuary_checkout.audit.service import Actor
from estuary_checkout.catalog.models import Service
from estuary_checkout.db.base import utcnow
from estuary_checkout.memberships.errors import PlanCurrencyNotOffered, PlanInactive, PlanNotFound
from estuary_checkout.memberships.models import MembershipPlan, MembershipPlanPrice
from estuary_checkout.memberships.schemas import (
    PlanAdmin,
    PlanCreate,
    PlanPrice,
    PlanPriceAdmin,
    PlanPublic,
    PlanUpdate,
)
from estuary_checkout.pagination import PageOf, keyset, page_of
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.problems import Problem, raise_any


async def _prices(session: AsyncSession, plan_ids: Sequence[int]) -> dict[int, list[MembershipPlanPrice]]:
    out: dict[int, list[MembershipPlanPrice]] = {pid: [] for pid in plan_ids}
    if plan_ids:
        rows = await session.execute(
            select(MembershipPlanPrice)
            .where(MembershipPlanPrice.plan_id.in_(plan_ids), MembershipPlanPrice.active.is_(True))
            .order_by(MembershipPlanPrice.currency)
        )
        for p in rows.scalars():
            out[p.plan_id].append(p)
    return out


def plan_public(plan: MembershipPlan, prices: list[MembershipPlanPrice]) -> PlanPublic:
    return PlanPublic(
        id=plan.id,
        name=plan.name,
        interval=plan.interval,  # type: ignore[arg-type]
        prices=[PlanPrice(currency=p.currency, amount_cents=p.amount_cents) for p in prices],
        credits_per_period=plan.credits_per_period,
        eligible_service_ids=list(plan.eligible_service_ids),
        rollover_cap=plan.rollover_cap,
        trial_days=plan.trial_days,
    )


def plan_admin(plan: MembershipPlan, prices: list[MembershipPlanPrice]) -> PlanAdmin:
    return PlanAdmin(
        **plan_public(plan, prices).model_dump(exclude={"prices"}),
        prices=[
            PlanPriceAdmin(
                currency=p.currency, amount_cents=p.amount_cents, stripe_price_id=p.stripe_price_id
            )
            for p in prices
        ],
        is_active=plan.is_active,
        stripe_product_id=plan.stripe_product_id,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


async def _problems(
    session: AsyncSession, prices: Sequence[PlanPrice] | None, service_ids: Sequence[int] | None
) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(prices or ()):
        field = f"prices[{i}]"
        if p.currency in seen:
            problems.append(
                Problem(f"{field}.currency", f"{p.currency} is already in prices[{seen[p.currency]}]")
            )
            continue
        seen[p.currency] = i
        if not currencies.is_supported(p.currency):
            problems.append(Problem(f"{field}.currency", f"{p.currency} is not a currency Stripe charges in"))
            continue
        least = currencies.minimum_charge(p.currency)
        step = currencies.chargeable_step(p.currency)
        if p.amount_cents < least:
            problems.append(Problem(f"{field}.amount_cents", f"below Stripe's minimum charge of {least}"))
        elif p.amount_cents % step:
            problems.append(Problem(f"{field}.amount_cents", f"must be a multiple of {step} in {p.currency}"))
    if service_ids is not None:
        if len(set(service_ids)) != len(service_ids):
            problems.append(Problem("eligible_service_ids", "lists a service twice"))
        rows = await session.execute(select(Service.id, Service.type).where(Service.id.in_(service_ids)))
        types = {int(r[0]): str(r[1]) for r in rows}
        for i, sid in enumerate(service_ids):
            if sid not in types:
                problems.append(
                    Problem(f"eligible_service_ids[{i}]", f"no service {sid}", "unknown_reference")
                )
            elif types[sid] != "session":
                problems.append(
                    Problem(
                        f"eligible_service_ids[{i}]",
                        f"service {sid} is a {types[sid]}: credits buy single sessions",
                    )
                )
    return problems


async def ensure_in_stripe(
    session: AsyncSession,
    gateway: StripeGateway,
    plan: MembershipPlan,
    price: MembershipPlanPrice | None = None,
) -> None:
    """The plan's Product (and `price`'s Price) at Stripe, made now if a row has none yet (a plan
    loaded by `seed-demo`)."""
    if plan.stripe_product_id is None:
        plan.stripe_product_id = await gateway.create_product(plan_id=plan.id, name=plan.name)
    if price is not None and price.stripe_price_id is None:
        price.stripe_price_id = await gateway.create_price(
            plan_id=plan.id,
            price_row_id=price.id,
            product_id=plan.stripe_product_id,
            currency=price.currency,
            amount=price.amount_cents,
            interval=plan.interval,
        )
    await session.flush()


async def _add_prices(
    session: AsyncSession, gateway: StripeGateway, plan: MembershipPlan, prices: Sequence[PlanPrice]
) -> None:
    for p in prices:
        row = MembershipPlanPrice(
            plan_id=plan.id, currency=p.currency, amount_cents=p.amount_cents, active=True
        )
        session.add(row)
        await session.flush()
        await ensure_in_stripe(session, gateway, plan, row)


async def create_plan(
    session: AsyncSession, gateway: StripeGateway, actor: Actor, body: PlanCreate
) -> PlanAdmin:
    raise_any(await _problems(session, body.prices, body.eligible_service_ids))
    now = utcnow()
    plan = MembershipPlan(
        name=body.name,
        interval=body.interval,
        credits_per_period=body.credits_per_period,
        eligible_service_ids=list(body.eligible_service_ids),
        rollover_cap=body.rollover_cap,
        trial_days=body.trial_days,
        is_active=body.is_active,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    await session.flush()
    await ensure_in_stripe(session, gateway, plan)
    await _add_prices(session, gateway, plan, body.prices)
    await session.flush()
    out = plan_admin(plan, (await _prices(session, [plan.id]))[plan.id])
    await audit.record(
        session, actor, action="create", entity="membership_plan", entity_id=plan.id, before=None, after=out
    )
    return out


async def _plan(session: AsyncSession, plan_id: int, *, lock: bool = False) -> MembershipPlan:
    stmt = select(MembershipPlan).where(MembershipPlan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    plan = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if plan is None:
        raise PlanNotFound(details={"plan_id": plan_id})
    return plan


async def update_plan(
    session: AsyncSession, gateway: StripeGateway, actor: Actor, plan_id: int, body: PlanUpdate
) -> PlanAdmin:
    plan = await _plan(session, plan_id, lock=True)
    current = (await _prices(session, [plan.id]))[plan.id]
    before = plan_admin(plan, current)
    raise_any(await _problems(session, body.prices, body.eligible_service_ids))
    fields = body.model_fields_set
    for name in ("name", "credits_per_period", "rollover_cap", "trial_days", "is_active"):
        if name in fields:
            setattr(plan, name, getattr(body, name))
    if body.eligible_service_ids is not None:
        plan.eligible_service_ids = list(body.eligible_service_ids)
    if body.prices is not None:
        wanted = {p.currency: p.amount_cents for p in body.prices}
        kept = {p.currency for p in current if wanted.get(p.currency) == p.amount_cents}
        for p in current:
            if p.currency not in kept:  # a changed or dropped price: no new subscriptions at it
                p.active = False
                if p.stripe_price_id:
                    await gateway.deactivate_price(p.stripe_price_id)
        await session.flush()
        await _add_prices(session, gateway, plan, [p for p in body.prices if p.currency not in kept])
    if {"name", "is_active"} & fields and plan.stripe_product_id:
        await gateway.update_product(plan.stripe_product_id, name=plan.name, active=plan.is_active)
    plan.updated_at = utcnow()
    await session.flush()
    out = plan_admin(plan, (await _prices(session, [plan.id]))[plan.id])
    await audit.record(
        session, actor, action="update", entity="membership_plan", entity_id=plan.id, before=before, after=out
    )
    return out


async def get_plan(session: AsyncSession, plan_id: int) -> PlanAdmin:
    plan = await _plan(session, plan_id)
    return plan_admin(plan, (await _prices(session, [plan.id]))[plan.id])


async def _page(
    session: AsyncSession, *, active_only: bool, limit: int, cursor: str | None
) -> PageOf[MembershipPlan]:
    stmt = select(MembershipPlan)
    if active_only:
        stmt = stmt.where(MembershipPlan.is_active.is_(True))
    rows = list(
        (
            await session.execute(
                keyset(stmt, [MembershipPlan.id], limit=limit, cursor=cursor, descending=False)
            )
        ).scalars()
    )
    return page_of(rows, limit, lambda p: (p.id,))


async def list_plans_admin(session: AsyncSession, *, limit: int, cursor: str | None) -> PageOf[PlanAdmin]:
    page = await _page(session, active_only=False, limit=limit, cursor=cursor)
    prices = await _prices(session, [p.id for p in page.rows])
    return page.map(lambda p: plan_admin(p, prices[p.id]))


async def list_plans_public(session: AsyncSession, *, limit: int, cursor: str | None) -> PageOf[PlanPublic]:
    page = await _page(session, active_only=True, limit=limit, cursor=cursor)
    prices = await _prices(session, [p.id for p in page.rows])
    return page.map(lambda p: plan_public(p, prices[p.id]))


async def offer(
    session: AsyncSession, plan_id: int, currency: str | None, default_currency: str
) -> tuple[MembershipPlan, MembershipPlanPrice]:
    """The plan and its price in `currency` (default: its only price, else the service's default
    currency) for a new member."""
    plan = await _plan(session, plan_id)
    if not plan.is_active:
        raise PlanInactive(details={"plan_id": plan_id})
    prices = (await _prices(session, [plan.id]))[plan.id]
    if currency is None:
        chosen = (
            prices[0]
            if len(prices) == 1
            else next((p for p in prices if p.currency == default_currency), None)
        )
    else:
        chosen = next((p for p in prices if p.currency == currency), None)
    if chosen is None:
        raise PlanCurrencyNotOffered(
            details={"field": "currency", "currency": currency, "offered": [p.currency for p in prices]}
        )
    return plan, chosen
