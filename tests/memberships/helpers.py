"""Memberships through the API, the emulator through the SDK, and Stripe's events delivered to
our webhook in whatever order a test wants."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import stripe
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from tests.checkout.helpers import API, browser, make_practitioner, make_user
from tests.webhooks.test_webhooks import sign

from estuary_checkout.memberships.models import Membership
from estuary_checkout.passes.models import Pass
from estuary_checkout.users.models import User

WEBHOOK = f"{API}/webhooks/stripe"


def sk(stripe_api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": stripe_api_base}, http_client=stripe.HTTPXClient()
    )


def bearer(make_token, user: User) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {make_token(user.external_id)}"}


async def eligible_services(session: AsyncSession, n: int = 2) -> tuple[int, list[int]]:
    """A practitioner with `n` single-session services: (practitioner id, service ids)."""
    pid, first = await make_practitioner(session)
    ids = [first]
    for _ in range(n - 1):
        from estuary_checkout.catalog.models import Service

        s = Service(
            type="session", name="Another Session", practitioner_id=pid, price_cents=9000, duration_minutes=60
        )
        session.add(s)
        await session.flush()
        ids.append(s.id)
    return pid, ids


def plan_body(service_ids: list[int], **kw: Any) -> dict[str, Any]:
    return {
        "name": "Monthly Flow",
        "interval": "month",
        "prices": [{"currency": "usd", "amount_cents": 30000}],
        "credits_per_period": 4,
        "eligible_service_ids": service_ids,
        "rollover_cap": 2,
    } | kw


async def make_plan(
    client: httpx.AsyncClient, admin: dict[str, str], service_ids: list[int], **kw: Any
) -> dict[str, Any]:
    resp = await client.post(
        f"{API}/admin/membership-plans", json=plan_body(service_ids, **kw), headers=admin
    )
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def new_member(session: AsyncSession, stripe_api_base: str, *, clock: str | None = None) -> User:
    """A fresh user; with `clock`, their Stripe customer lives on that test clock."""
    user = await make_user(session)
    if clock is not None:
        cus = await sk(stripe_api_base).v1.customers.create_async(
            params={"email": user.email, "test_clock": clock, "metadata": {"user_id": str(user.id)}}
        )
        await session.execute(update(User).where(User.id == user.id).values(stripe_customer_id=cus.id))
        user.stripe_customer_id = cus.id
    await session.commit()
    return user


async def new_clock(stripe_api_base: str, at: datetime | None = None) -> tuple[str, datetime]:
    at = (at or datetime.now(UTC)).replace(microsecond=0)
    clock = await sk(stripe_api_base).v1.test_helpers.test_clocks.create_async(
        params={"frozen_time": int(at.timestamp()), "name": "membership test"}
    )
    return clock.id, at


async def advance(stripe_api_base: str, clock: str, to: datetime) -> None:
    await sk(stripe_api_base).v1.test_helpers.test_clocks.advance_async(
        clock, params={"frozen_time": int(to.timestamp())}
    )


async def pay_first_invoice(stripe_api_base: str, client_secret: str, card: str = "pm_card_visa") -> Any:
    """What Stripe.js does with the confirmation secret: confirm the invoice's PaymentIntent."""
    intent_id = client_secret.split("_secret_")[0]
    return await browser(stripe_api_base).v1.payment_intents.confirm_async(
        intent_id, params={"client_secret": client_secret, "payment_method": card}
    )


def _subscription_of(event: dict[str, Any]) -> str | None:
    obj = event["data"]["object"]
    if event["type"].startswith("customer.subscription."):
        return obj["id"]  # type: ignore[no-any-return]
    if event["type"].startswith("invoice."):
        return ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    return None


async def events_for(stripe_api_base: str, subscription_id: str) -> list[dict[str, Any]]:
    """Every subscription and invoice event of the subscription, oldest first."""
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await sk(stripe_api_base).v1.events.list_async(params=params)
        out += [e.to_dict() for e in page.data]
        if not page.has_more:
            break
        params["starting_after"] = page.data[-1].id
    mine = [e for e in out if _subscription_of(e) == subscription_id]
    return sorted(mine, key=lambda e: (e["created"], out.index(e) * -1))


async def deliver(client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    # the SDK reads *_decimal fields as Decimal; on the wire they are strings
    payload = json.dumps(event, default=str).encode()
    resp = await client.post(
        WEBHOOK,
        content=payload,
        headers={"Stripe-Signature": sign(payload), "content-type": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    return resp


async def deliver_all(client: httpx.AsyncClient, stripe_api_base: str, subscription_id: str) -> list[str]:
    events = await events_for(stripe_api_base, subscription_id)
    for e in events:
        await deliver(client, e)
    return [e["type"] for e in events]


async def scalar(session: AsyncSession, stmt: Any) -> Any:
    """One value read in a transaction of its own (on SQLite an open transaction holds the
    database's write lock, so the test's own session must not keep one while the API works)."""
    async with AsyncSession(session.bind, expire_on_commit=False) as s:
        return await s.scalar(stmt)


async def customer_of(session: AsyncSession, user: User) -> str:
    return str(await scalar(session, select(User.stripe_customer_id).where(User.id == user.id)))


async def membership_row(session: AsyncSession, membership_id: int) -> Membership:
    async with AsyncSession(session.bind, expire_on_commit=False) as s:
        m = await s.get(Membership, membership_id)
    assert m is not None
    return m


async def passes_of(session: AsyncSession, membership_id: int) -> list[Pass]:
    async with AsyncSession(session.bind, expire_on_commit=False) as s:
        return await _passes_of(s, membership_id)


async def _passes_of(session: AsyncSession, membership_id: int) -> list[Pass]:
    rows = await session.execute(
        select(Pass)
        .where(Pass.membership_id == membership_id)
        .order_by(Pass.period_start_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def switch_card(stripe_api_base: str, customer: str, subscription_id: str, card: str) -> str:
    """Attach a test card to the customer and make it the subscription's card for renewals."""
    stripe = sk(stripe_api_base)
    pm = await stripe.v1.payment_methods.attach_async(card, params={"customer": customer})
    await stripe.v1.subscriptions.update_async(subscription_id, params={"default_payment_method": pm.id})
    return str(pm.id)


async def plan_with_services(client: httpx.AsyncClient, session: AsyncSession, auth, **kw: Any):  # type: ignore[no-untyped-def]
    """A practitioner with two single sessions and a plan for them: (practitioner id, service ids, plan)."""
    pid, services = await eligible_services(session)
    await session.commit()
    return pid, services, await make_plan(client, auth(roles=["admin"]), services, **kw)
