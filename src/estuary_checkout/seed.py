"""The demo catalog of SPEC section 8, with fixed ids. Running it again changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.catalog.models import (
    AvailabilityWindow,
    PackageChild,
    Practitioner,
    Service,
    ServicePrice,
)
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.credits import service as credits_service
from estuary_checkout.memberships.models import MembershipPlan, MembershipPlanPrice
from estuary_checkout.users import service as users_service

DEMO_USERS: list[dict[str, Any]] = [
    {"email": "demo@example.com", "roles": [], "credit_cents": 2000},
    {"email": "other@example.com", "roles": [], "credit_cents": 0},
    {"email": "admin@example.com", "roles": ["admin"], "credit_cents": 0},
]

# external ids: what the host platform calls them (catalog import/export and pushes match on them;
# examples/catalog.yaml is this catalog in the import format)
PRACTITIONERS = [
    {
        "id": 456,
        "name": "Maya Chen",
        "timezone": "UTC",
        "external_id": "maya-chen",
        "buffer_minutes": 0,
        "slot_step_minutes": 15,
    },
    {
        "id": 457,
        "name": "Leo Park",
        "timezone": "America/New_York",
        "external_id": "leo-park",
        "buffer_minutes": 15,
        "slot_step_minutes": 15,
    },
]
AVAILABILITY = [
    # Maya: every day 08:00-20:00 in her time zone (UTC)
    *(
        {"practitioner_id": 456, "weekday": d, "start_minute": 8 * 60, "end_minute": 20 * 60}
        for d in range(7)
    ),
    # Leo: Monday-Friday 09:00-17:00 New York time
    *(
        {"practitioner_id": 457, "weekday": d, "start_minute": 9 * 60, "end_minute": 17 * 60}
        for d in range(5)
    ),
]

SERVICES: list[dict[str, Any]] = [
    {
        "id": 123,
        "type": "session",
        "name": "Private Yoga Session",
        "duration_minutes": 60,
        "price_cents": 10000,
        "external_id": "private-yoga-session",
    },
    {
        "id": 101,
        "type": "session",
        "name": "Breathwork Session",
        "duration_minutes": 45,
        "price_cents": 8000,
        "external_id": "breathwork-session",
    },
    {
        "id": 102,
        "type": "session",
        "name": "Sound Bath",
        "duration_minutes": 60,
        "price_cents": 6000,
        "external_id": "sound-bath",
    },
    {
        "id": 124,
        "type": "session",
        "name": "Reiki Session",
        "duration_minutes": 90,
        "price_cents": 12000,
        "practitioner_id": 457,
        "external_id": "reiki-session",
    },
    {
        "id": 789,
        "type": "bundle",
        "name": "Yoga Bundle",
        "price_cents": 45000,
        "bundle_child_service_id": 123,
        "sessions_included": 5,
        "bonus_sessions": 1,
        "validity_days": 180,
        "external_id": "yoga-bundle",
    },
    {
        "id": 999,
        "type": "package",
        "name": "Mind & Body Package",
        "price_cents": None,
        "external_id": "mind-body-package",
    },
]
# SPEC 14: the demo session is also sold in these currencies (minor units as Stripe counts them:
# JPY has none, KWD three — 35000 is 35.000 KWD)
PRICES = [
    {"service_id": 123, "currency": "eur", "amount_cents": 9000},
    {"service_id": 123, "currency": "gbp", "amount_cents": 8000},
    {"service_id": 123, "currency": "jpy", "amount_cents": 15000},
    {"service_id": 123, "currency": "kwd", "amount_cents": 35000},
]
PACKAGE_CHILDREN = [
    {
        "package_id": 999,
        "child_service_id": 101,
        "quantity": 1,
        "is_required": True,
        "discount_percentage": 10,
    },
    {
        "package_id": 999,
        "child_service_id": 102,
        "quantity": 1,
        "is_required": False,
        "discount_percentage": 10,
    },
]
COUPONS: list[dict[str, Any]] = [
    {"code": "WELCOME10", "kind": "percent", "percent_off": 10, "max_per_user": 1},
    {
        "code": "SAVE20",
        "kind": "fixed",
        "amount_off": {"usd": 2000},
        "min_subtotal_cents": 5000,
        "max_redemptions": 100,
    },
]

# SPEC 15: its Stripe Product and Price are made on the first subscribe (the seed calls no one)
MEMBERSHIP_PLANS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Monthly Flow",
        "interval": "month",
        "credits_per_period": 4,
        "eligible_service_ids": [123, 101, 102],
        "rollover_cap": 2,
        "trial_days": None,
    }
]
MEMBERSHIP_PRICES: list[dict[str, Any]] = [{"id": 1, "plan_id": 1, "currency": "usd", "amount_cents": 30000}]


async def _upsert(session: AsyncSession, model: Any, key: dict[str, Any], values: dict[str, Any]) -> None:
    row = (await session.execute(select(model).filter_by(**key))).scalar_one_or_none()
    if row is None:
        session.add(model(**key, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)
    await session.flush()


async def seed_demo(session: AsyncSession) -> dict[str, int]:
    for p in PRACTITIONERS:
        await _upsert(
            session,
            Practitioner,
            {"id": p["id"]},
            {k: v for k, v in p.items() if k != "id"} | {"is_active": True},
        )
    for w in AVAILABILITY:
        await _upsert(session, AvailabilityWindow, w, {})
    for s in SERVICES:
        values = {"practitioner_id": 456, "bundle_child_service_id": None} | {
            k: v for k, v in s.items() if k != "id"
        }
        await _upsert(session, Service, {"id": s["id"]}, values | {"currency": "usd", "is_active": True})
    for price in PRICES:
        key = {"service_id": price["service_id"], "currency": price["currency"]}
        await _upsert(session, ServicePrice, key, {"amount_cents": price["amount_cents"]})
    for c in PACKAGE_CHILDREN:
        key = {"package_id": c["package_id"], "child_service_id": c["child_service_id"]}
        await _upsert(session, PackageChild, key, {k: v for k, v in c.items() if k not in key})
    for c in COUPONS:
        await _upsert(
            session,
            Coupon,
            {"code": c["code"]},
            {k: v for k, v in c.items() if k != "code"} | {"is_active": True},
        )
    for plan in MEMBERSHIP_PLANS:
        await _upsert(
            session,
            MembershipPlan,
            {"id": plan["id"]},
            {k: v for k, v in plan.items() if k != "id"} | {"is_active": True},
        )
    for mp in MEMBERSHIP_PRICES:
        await _upsert(
            session,
            MembershipPlanPrice,
            {"id": mp["id"]},
            {k: v for k, v in mp.items() if k != "id"} | {"active": True},
        )
    for u in DEMO_USERS:
        user = await users_service.get_or_create(
            session, sub=users_service.demo_sub(u["email"]), email=u["email"], roles=u["roles"]
        )
        if u["credit_cents"]:
            await credits_service.grant(
                session,
                user.id,
                u["credit_cents"],
                key=f"demo-seed:{u['email']}",
                currency="usd",
                note="demo credit",
            )
    await _fix_sequences(session)
    return {
        "practitioners": len(PRACTITIONERS),
        "services": len(SERVICES),
        "coupons": len(COUPONS),
        "users": len(DEMO_USERS),
        "membership plans": len(MEMBERSHIP_PLANS),
    }


async def _fix_sequences(session: AsyncSession) -> None:
    """Explicit ids leave PostgreSQL sequences behind; move them past the highest id."""
    if session.get_bind().dialect.name != "postgresql":
        return
    from sqlalchemy import text

    for table in ("practitioner", "service", "coupon", "membership_plan", "membership_plan_price"):
        await session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed table names
                f"GREATEST((SELECT COALESCE(MAX(id), 1) FROM {table}), 1000))"
            )
        )
