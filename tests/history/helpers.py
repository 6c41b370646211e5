"""Helpers of the after-the-sale tests: paid orders through the emulator, rows written directly
where a test needs times or volumes checkout cannot make (ties, the past, many rows)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.checkout.helpers import (
    API,
    Shopper,
    bundle_body,
    create_ok,
    db,
    future_slot,
    make_service,
    pay_and_confirm,
    session_body,
)

from estuary_checkout.bookings.models import Booking
from estuary_checkout.orders.models import Order, OrderLine


async def paid_session(
    client: httpx.AsyncClient,
    stripe_api_base: str,
    user: Shopper,
    *,
    practitioner_id: int,
    service_id: int,
    use_credits: bool = False,
    days_ahead: int | None = None,
) -> dict[str, Any]:
    """A single-session order created, paid in the browser and confirmed; create's body."""
    start, end = future_slot(days_ahead)
    body = session_body(
        start, end, service_id=service_id, practitioner_id=practitioner_id, use_credits=use_credits
    )
    created = await create_ok(client, user.headers, body)
    if created["payment_intent_id"]:
        confirmed = await pay_and_confirm(client, user.headers, created, stripe_api_base)
        assert confirmed["status"] == "completed", confirmed
    return created


async def make_bundle(
    session: AsyncSession,
    practitioner_id: int,
    session_service_id: int,
    *,
    name: str,
    price: int,
    **terms: int,
) -> int:
    """A bundle of `session_service_id` with that practitioner (sessions_included, validity_days...)."""
    return await make_service(
        session,
        practitioner_id,
        type="bundle",
        name=name,
        price_cents=price,
        duration_minutes=None,
        bundle_child_service_id=session_service_id,
        **terms,
    )


async def buy_bundle(
    client: httpx.AsyncClient, stripe_api_base: str, user: Shopper, bundle_id: int, practitioner_id: int
) -> dict[str, Any]:
    """The bundle bought, paid and confirmed; create's body."""
    created = await create_ok(
        client, user.headers, bundle_body(service_id=bundle_id, practitioner_id=practitioner_id)
    )
    await pay_and_confirm(client, user.headers, created, stripe_api_base)
    return created


async def booking_of(factory: async_sessionmaker[AsyncSession], order_id: str) -> Booking:
    async with db(factory) as s:
        return (await s.execute(select(Booking).where(Booking.order_id == uuid.UUID(order_id)))).scalar_one()


async def move_booking(factory: async_sessionmaker[AsyncSession], booking_id: int, start: datetime) -> None:
    """Put a booking at another time, keeping its length (what a test of time windows needs:
    checkout only sells slots at least the minimum lead ahead)."""
    async with db(factory) as s:
        b = (await s.execute(select(Booking).where(Booking.id == booking_id))).scalar_one()
        length, buffer = b.end_at - b.start_at, b.blocked_until - b.end_at
        await s.execute(
            update(Booking)
            .where(Booking.id == booking_id)
            .values(start_at=start, end_at=start + length, blocked_until=start + length + buffer)
        )


async def insert_order(
    session: AsyncSession,
    user_id: int,
    *,
    service_id: int,
    practitioner_id: int,
    created_at: datetime,
    status: str = "completed",
    total: int = 1000,
) -> uuid.UUID:
    """An order row with one line, as checkout would leave it (no Stripe, no bookings)."""
    order = Order(
        user_id=user_id,
        checkout_type="bundle",
        status=status,
        currency="usd",
        subtotal_cents=total,
        total_cents=total,
        payment_status="paid" if status == "completed" else "unpaid",
        expires_at=created_at + timedelta(minutes=15),
        created_at=created_at,
        completed_at=created_at if status == "completed" else None,
    )
    session.add(order)
    await session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            line_no=1,
            service_id=service_id,
            practitioner_id=practitioner_id,
            service_type="bundle",
            description="Inserted line",
            quantity=1,
            unit_price_cents=total,
            line_total_cents=total,
            card_share_cents=total,
        )
    )
    await session.flush()
    return order.id


async def insert_booking(
    session: AsyncSession,
    user_id: int,
    *,
    service_id: int,
    practitioner_id: int,
    start: datetime,
    status: str = "confirmed",
    minutes: int = 60,
) -> int:
    """A booking row with no order (a test of list scopes and order, not of money)."""
    now = datetime.now(UTC)
    b = Booking(
        user_id=user_id,
        service_id=service_id,
        practitioner_id=practitioner_id,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        status=status,
        confirmed_at=now if status != "pending_payment" else None,
        canceled_at=now if status == "canceled" else None,
        canceled_by="client" if status == "canceled" else None,
    )
    session.add(b)
    await session.flush()
    return int(b.id)


async def all_pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], *, limit: int, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor; checks the page shape on the way."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        r = await client.get(f"{API}{path}", params=query, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"data", "has_more", "next_cursor"}
        assert len(body["data"]) <= limit
        pages.append(body["data"])
        assert body["has_more"] == (body["next_cursor"] is not None)
        if not body["has_more"]:
            return pages
        cursor = body["next_cursor"]
        assert len(pages) < 100, "the cursor does not advance"
