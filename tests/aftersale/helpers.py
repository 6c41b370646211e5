"""After-the-sale test helpers: practitioners bookable around the clock, slots, row readers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from tests.checkout.helpers import API, db, session_body

from estuary_checkout.catalog.models import AvailabilityWindow, Practitioner, Service
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.refunds.models import Refund


async def around_the_clock(factory, *, price: int = 10000, buffer: int = 0) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A practitioner bookable at any quarter hour (UTC), with one 60-minute session service."""
    async with db(factory) as s:
        p = Practitioner(name="Always Open", timezone="UTC", buffer_minutes=buffer)
        s.add(p)
        await s.flush()
        s.add_all(
            AvailabilityWindow(practitioner_id=p.id, weekday=d, start_minute=0, end_minute=1440)
            for d in range(7)
        )
        svc = Service(
            type="session", name="Anytime", practitioner_id=p.id, price_cents=price, duration_minutes=60
        )
        s.add(svc)
        await s.flush()
        return p.id, svc.id


def quarter_hour(after: timedelta) -> datetime:
    """The first quarter hour at least `after` from now (UTC)."""
    at = datetime.now(UTC) + after
    at = at.replace(second=0, microsecond=0) + timedelta(minutes=15 - at.minute % 15)
    return at


def slot_body(pid: int, sid: int, *starts: datetime, **extra: object) -> dict[str, Any]:
    body = session_body(
        starts[0].isoformat(),
        (starts[0] + timedelta(hours=1)).isoformat(),
        service_id=sid,
        practitioner_id=pid,
        **extra,
    )
    for at in starts[1:]:
        body["items"].append(
            {
                "service_id": sid,
                "practitioner_id": pid,
                "start_time": at.isoformat(),
                "end_time": (at + timedelta(hours=1)).isoformat(),
            }
        )
    return body


@dataclass
class Paid:
    order_id: str
    headers: dict[str, str]
    user_id: int
    booking_ids: list[int]
    created: dict[str, Any]


async def order_row(factory, order_id: str) -> Order:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        order = await s.get(Order, uuid.UUID(order_id))
        assert order is not None
        return order


async def refunds_of(factory, order_id: str) -> list[Refund]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return list(
            (
                await s.execute(
                    select(Refund).where(Refund.order_id == uuid.UUID(order_id)).order_by(Refund.id)
                )
            ).scalars()
        )


async def lines_of(factory, order_id: str) -> list[OrderLine]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return list(
            (
                await s.execute(
                    select(OrderLine)
                    .where(OrderLine.order_id == uuid.UUID(order_id))
                    .order_by(OrderLine.line_no)
                )
            ).scalars()
        )


CANCEL = API + "/bookings/{}/cancel"
RESCHEDULE = API + "/bookings/{}/reschedule"
