"""After-the-sale fixtures: paid orders of fresh users, an API instance whose settings carry
another cancellation policy; the checkout battery's fixtures and the reliability report."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.aftersale.helpers import Paid, slot_body
from tests.checkout.conftest import factory, new_user, replicas  # noqa: F401
from tests.checkout.helpers import create_ok, db, pay_and_confirm
from tests.reliability.conftest import report  # noqa: F401

from estuary_checkout.app import create_app
from estuary_checkout.bookings.models import Booking
from estuary_checkout.state import AppState

PayOrder = Callable[..., Awaitable[Paid]]


@pytest.fixture
def paid_order(client, factory, new_user, stripe_api_base) -> PayOrder:  # type: ignore[no-untyped-def]  # noqa: F811
    """A fresh user's paid single-session order (several sessions if several starts are given)."""

    async def _pay(
        pid: int,
        sid: int,
        *starts: datetime,
        credit: int = 0,
        use_credits: bool = False,
        coupon: str | None = None,
        card: str = "pm_card_visa",
        api: httpx.AsyncClient | None = None,
    ) -> Paid:
        user = await new_user(credit=credit)
        extra: dict[str, Any] = {"use_credits": use_credits}
        if coupon:
            extra["coupon_code"] = coupon
        created = await create_ok(api or client, user.headers, slot_body(pid, sid, *starts, **extra))
        if created["total_cents"] > 0:
            await pay_and_confirm(api or client, user.headers, created, stripe_api_base, card=card)
        async with db(factory) as s:
            ids = list(
                (
                    await s.execute(
                        select(Booking.id)
                        .where(Booking.order_id == uuid.UUID(created["order_id"]))
                        .order_by(Booking.id)
                    )
                ).scalars()
            )
        return Paid(created["order_id"], user.headers, user.id, ids, created)

    return _pay


@pytest.fixture
async def policy_client(settings, engine_factory) -> AsyncIterator[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    """`await policy_client(late_cancel_refund_percent=50, ...)`: an API instance whose settings
    (and so whose new bookings' policy) differ from the suite's."""
    states: list[AppState] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**overrides: Any) -> httpx.AsyncClient:
        engine, _ = engine_factory()
        state = AppState.build(settings.model_copy(update=overrides), engine=engine)
        states.append(state)
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(state.settings, state=state)),
            base_url="http://t",
            timeout=60,
        )
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()
    for state in states:
        await state.aclose()
