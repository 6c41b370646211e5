"""Test helpers for checkout flows: future slots, a browser-side Stripe client, factories."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.catalog.models import AvailabilityWindow, PackageChild, Practitioner, Service
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.credits import service as credits_service
from estuary_checkout.users.models import User

API = "/stripe/fastapi/api/v1/stripe"
PUBLISHABLE_KEY = "pk_test_checkout_tests"
_day = itertools.count(3)


def future_slot(days_ahead: int | None = None, hour: int = 10, minutes: int = 60) -> tuple[str, str]:
    """A slot inside 08:00–20:00 UTC, a unique day per call unless given."""
    day = (datetime.now(UTC) + timedelta(days=days_ahead if days_ahead is not None else next(_day))).date()
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return start.isoformat(), (start + timedelta(minutes=minutes)).isoformat()


def session_body(
    start: str, end: str, *, service_id: int = 123, practitioner_id: int = 456, **extra: object
) -> dict:
    return {
        "checkout_type": "single_session",
        "items": [
            {
                "service_id": service_id,
                "practitioner_id": practitioner_id,
                "start_time": start,
                "end_time": end,
            }
        ],
        **extra,
    }


def browser(stripe_url: str) -> stripe.StripeClient:
    """What Stripe.js does in the browser: publishable key + client_secret."""
    return stripe.StripeClient(
        PUBLISHABLE_KEY,
        base_addresses={"api": stripe_url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )


async def pay_in_browser(
    stripe_url: str, payment_intent_id: str, client_secret: str, card: str = "pm_card_visa"
):
    pk = browser(stripe_url)
    return await pk.v1.payment_intents.confirm_async(
        payment_intent_id, params={"client_secret": client_secret, "payment_method": card}
    )


async def make_user(session: AsyncSession, *, credit: int = 0) -> User:
    user = User(external_id=f"test|{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:8]}@example.com", roles=[])
    session.add(user)
    await session.flush()
    if credit:
        await credits_service.grant(session, user.id, credit, key=f"test-grant:{user.id}")
    return user


async def make_practitioner(
    session: AsyncSession, *, price: int = 10000, duration: int = 60
) -> tuple[int, int]:
    """A practitioner available 08–20 UTC every day with one session service; (practitioner_id, service_id)."""
    p = Practitioner(name="Test Practitioner", timezone="UTC")
    session.add(p)
    await session.flush()
    for d in range(7):
        session.add(AvailabilityWindow(practitioner_id=p.id, weekday=d, start_minute=480, end_minute=1200))
    s = Service(
        type="session",
        name="Test Session",
        practitioner_id=p.id,
        price_cents=price,
        duration_minutes=duration,
    )
    session.add(s)
    await session.flush()
    return p.id, s.id


async def make_coupon(session: AsyncSession, **kw: object) -> str:
    code = kw.pop("code", None) or f"T{uuid.uuid4().hex[:10].upper()}"
    values = {"kind": "percent", "percent_off": 10} | kw
    session.add(Coupon(code=code, **values))
    await session.flush()
    return str(code)


async def make_package(session: AsyncSession, practitioner_id: int, *, price: int | None = None) -> int:
    a = Service(
        type="session", name="Child A", practitioner_id=practitioner_id, price_cents=8000, duration_minutes=45
    )
    b = Service(
        type="session", name="Child B", practitioner_id=practitioner_id, price_cents=6000, duration_minutes=60
    )
    pkg = Service(type="package", name="Pkg", practitioner_id=practitioner_id, price_cents=price)
    session.add_all([a, b, pkg])
    await session.flush()
    session.add_all(
        [
            PackageChild(
                package_id=pkg.id, child_service_id=a.id, quantity=1, is_required=True, discount_percentage=10
            ),
            PackageChild(
                package_id=pkg.id,
                child_service_id=b.id,
                quantity=1,
                is_required=False,
                discount_percentage=10,
            ),
        ]
    )
    await session.flush()
    return pkg.id
