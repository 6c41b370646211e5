"""Test helpers for checkout flows: future slots, a browser-side Stripe client, factories."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.bookings.models import Booking
from estuary_checkout.catalog.models import AvailabilityWindow, PackageChild, Practitioner, Service
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.credits import service as credits_service
from estuary_checkout.orders.models import Order
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


async def make_user(session: AsyncSession, *, credit: int = 0, currency: str = "usd") -> User:
    user = User(external_id=f"test|{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:8]}@example.com", roles=[])
    session.add(user)
    await session.flush()
    if credit:
        await credits_service.grant(
            session, user.id, credit, currency=currency, key=f"test-grant:{user.id}:{currency}"
        )
    return user


async def make_practitioner(
    session: AsyncSession, *, price: int = 10000, duration: int = 60, step: int = 15, buffer: int = 0
) -> tuple[int, int]:
    """A practitioner available 08–20 UTC every day with one session service; (practitioner_id, service_id)."""
    p = Practitioner(name="Test Practitioner", timezone="UTC", slot_step_minutes=step, buffer_minutes=buffer)
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


# ---------------------------------------------------------------------------------------------
# battery helpers: short-lived sessions (SQLite takes the write lock at BEGIN, so a test must never
# keep a transaction open across an API call), users with tokens, envelope checks, DB counts.


@asynccontextmanager
async def db(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session committed (or rolled back) as soon as the block ends."""
    async with factory() as s:
        try:
            yield s
            await s.commit()
        except BaseException:
            await s.rollback()
            raise


@dataclass(frozen=True)
class Shopper:
    id: int
    sub: str
    headers: dict[str, str]
    stripe_customer_id: str | None = None


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the error envelope with this status and machine code; returns its body."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "details", "code"}, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in resp.text
    return body  # type: ignore[no-any-return]


async def orders_of(factory: async_sessionmaker[AsyncSession], user_id: int) -> list[Order]:
    async with db(factory) as s:
        rows = await s.execute(select(Order).where(Order.user_id == user_id).order_by(Order.created_at))
        return list(rows.scalars())


async def order_count(factory: async_sessionmaker[AsyncSession], user_id: int) -> int:
    return len(await orders_of(factory, user_id))


async def bookings_of_order(factory: async_sessionmaker[AsyncSession], order_id: str) -> list[Booking]:
    async with db(factory) as s:
        rows = await s.execute(
            select(Booking).where(Booking.order_id == uuid.UUID(str(order_id))).order_by(Booking.id)
        )
        return list(rows.scalars())


async def blocking_bookings(
    factory: async_sessionmaker[AsyncSession], practitioner_id: int, start: str
) -> list[Booking]:
    """Bookings holding the practitioner's time at `start` (pending_payment or confirmed)."""
    at = datetime.fromisoformat(start)
    async with db(factory) as s:
        rows = await s.execute(
            select(Booking).where(
                Booking.practitioner_id == practitioner_id,
                Booking.start_at == at,
                Booking.status.in_(("pending_payment", "confirmed")),
            )
        )
        return list(rows.scalars())


async def credit_state(
    factory: async_sessionmaker[AsyncSession], user_id: int, currency: str = "usd"
) -> dict[str, int]:
    """One currency's balance row next to its ledger sums (they must agree) and its ledger by kind."""
    from estuary_checkout.credits import repository as credits_repo
    from estuary_checkout.credits.models import CreditLedgerEntry

    async with db(factory) as s:
        row = await credits_repo.get_balance(s, user_id, currency)
        ledger_balance, ledger_held = await credits_repo.ledger_sums(s, user_id, currency)
        kinds = await s.execute(
            select(CreditLedgerEntry.kind, func.sum(CreditLedgerEntry.amount_cents))
            .where(CreditLedgerEntry.user_id == user_id, CreditLedgerEntry.currency == currency)
            .group_by(CreditLedgerEntry.kind)
        )
        by_kind = {k: int(v) for k, v in kinds}
    return {
        "balance": row.balance_cents if row else 0,
        "held": row.held_cents if row else 0,
        "ledger_balance": ledger_balance,
        "ledger_held": ledger_held,
        **{f"sum_{k}": v for k, v in by_kind.items()},
    }


def bundle_body(
    service_id: int = 789, practitioner_id: int = 456, quantity: int = 1, **extra: object
) -> dict:
    return {
        "checkout_type": "bundle",
        "items": [{"service_id": service_id, "practitioner_id": practitioner_id, "quantity": quantity}],
        **extra,
    }


def package_body(
    service_id: int = 999,
    practitioner_id: int = 456,
    child_selections: dict[str, dict[str, object]] | None = None,
    **extra: object,
) -> dict:
    item: dict[str, object] = {"service_id": service_id, "practitioner_id": practitioner_id, "quantity": 1}
    if child_selections is not None:
        item["child_selections"] = child_selections
    return {"checkout_type": "package", "items": [item], **extra}


FIGURES = ("subtotal_cents", "discount_cents", "tax_cents", "credits_applied_cents", "total_cents")


def figures(body: dict[str, Any]) -> tuple[int, ...]:
    return tuple(body[k] for k in FIGURES)


async def pay_and_confirm(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    created: dict[str, Any],
    stripe_url: str,
    card: str = "pm_card_visa",
) -> dict[str, Any]:
    """Pay the created order in the browser, then confirm it server side; returns confirm's body."""
    pi = await pay_in_browser(stripe_url, created["payment_intent_id"], created["client_secret"], card)
    assert pi.status == "succeeded", pi.status
    resp = await client.post(
        f"{API}/payment/confirm", json={"payment_intent_id": created["payment_intent_id"]}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def create_ok(client: httpx.AsyncClient, headers: dict[str, str], body: dict) -> dict[str, Any]:
    resp = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def make_service(session: AsyncSession, practitioner_id: int, **kw: object) -> int:
    """One more service of a practitioner (a session unless `type` says otherwise)."""
    values: dict[str, Any] = {
        "type": "session",
        "name": "Extra Session",
        "price_cents": 10000,
        "duration_minutes": 60,
    } | kw
    s = Service(practitioner_id=practitioner_id, **values)
    session.add(s)
    await session.flush()
    return int(s.id)
