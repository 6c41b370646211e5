"""A price change reaches new orders only (order lines keep the price they were sold at), and
an admin write is seen by this replica's quotes at once even with the catalog cache on."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update
from tests.admin.test_practitioners import new_practitioner, w
from tests.admin.test_services import new_service, session_fields
from tests.checkout.helpers import (
    API,
    create_ok,
    db,
    figures,
    future_slot,
    make_user,
    pay_and_confirm,
    session_body,
)

from estuary_checkout.app import create_app
from estuary_checkout.catalog.models import Service
from estuary_checkout.orders.models import Order, OrderLine
from estuary_checkout.state import AppState


async def _bookable(client, admin) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    pid = (await new_practitioner(client, admin, timezone="UTC"))["id"]
    r = await client.put(
        f"{API}/admin/practitioners/{pid}/availability",
        json={"windows": [w(d, "08:00", "20:00") for d in range(7)]},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    sid = (await new_service(client, admin, **session_fields(pid, price_cents=10000)))["id"]
    return pid, sid


async def test_price_change_affects_new_orders_only(
    client, admin, factory, make_token, stripe_api_base, app_state
):
    pid, sid = await _bookable(client, admin)
    async with db(factory) as s:
        user = await make_user(s)
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    created = await create_ok(
        client, headers, session_body(*future_slot(), service_id=sid, practitioner_id=pid)
    )
    assert figures(created) == (10000, 0, 875, 0, 10875)

    r = await client.patch(f"{API}/admin/services/{sid}", json={"price_cents": 20000}, headers=admin)
    assert r.status_code == 200 and r.json()["price_cents"] == 20000

    confirmed = await pay_and_confirm(client, headers, created, stripe_api_base)
    assert confirmed["status"] == "completed"
    # the card was charged the old total, and the order and its line keep the old figures
    intent = await app_state.gateway.retrieve_intent(created["payment_intent_id"])
    assert (intent.amount, intent.status) == (10875, "succeeded")
    async with db(factory) as s:
        order = (
            await s.execute(select(Order).where(Order.id == uuid.UUID(created["order_id"])))
        ).scalar_one()
        line = (await s.execute(select(OrderLine).where(OrderLine.order_id == order.id))).scalar_one()
    assert (order.subtotal_cents, order.total_cents, order.status) == (10000, 10875, "completed")
    assert line.line_total_cents == 10000
    status = (
        await client.post(f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=headers)
    ).json()
    assert status["total_cents"] == 10875
    # a new quote has the new price
    quote = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(*future_slot(), service_id=sid, practitioner_id=pid),
        headers=headers,
    )
    assert figures(quote.json()) == (20000, 0, 1750, 0, 21750)


async def test_admin_write_drops_this_replicas_catalog_cache(settings, client, admin, factory, make_token):
    """With quotes cached for a minute: a change made behind the API's back stays invisible
    (the cache is really serving), an admin write through this replica is seen at once."""
    pid, sid = await _bookable(client, admin)
    async with db(factory) as s:
        user = await make_user(s)
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    cached = settings.model_copy(update={"catalog_cache_seconds": 60})
    state = AppState.build(cached)
    body = session_body(*future_slot(), service_id=sid, practitioner_id=pid)
    try:
        transport = httpx.ASGITransport(app=create_app(cached, state=state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as replica:

            async def subtotal() -> int:
                r = await replica.post(f"{API}/checkout/calculate-price", json=body, headers=headers)
                assert r.status_code == 200, r.text
                return int(r.json()["subtotal_cents"])

            assert await subtotal() == 10000
            async with db(factory) as s:
                await s.execute(update(Service).where(Service.id == sid).values(price_cents=11000))
            assert await subtotal() == 10000  # served from the cache
            r = await replica.patch(f"{API}/admin/services/{sid}", json={"price_cents": 12000}, headers=admin)
            assert r.status_code == 200, r.text
            assert await subtotal() == 12000
            # a failed admin write (422) commits nothing and leaves the cache alone
            assert await subtotal() == 12000
            async with db(factory) as s:
                await s.execute(update(Service).where(Service.id == sid).values(price_cents=13000))
            bad = await replica.patch(f"{API}/admin/services/{sid}", json={"price_cents": -1}, headers=admin)
            assert bad.status_code == 422
            assert await subtotal() == 12000
            # a practitioner write drops it too
            r = await replica.patch(
                f"{API}/admin/practitioners/{pid}", json={"name": "Renamed"}, headers=admin
            )
            assert r.status_code == 200
            assert await subtotal() == 13000
    finally:
        await state.aclose()


async def test_a_load_that_began_before_a_clear_is_not_kept() -> None:
    """clear() while a load is reading: the load's rows answer its own caller but are not
    stored, so the next quote reads again (it may hold the write's new rows)."""
    import asyncio

    from estuary_checkout.catalog.service import CatalogCache

    cache = CatalogCache(ttl_seconds=60)
    loads: list[int] = []
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow(missing: set[int]) -> dict[int, str]:
        loads.append(len(loads))
        reading.set()
        await release.wait()
        return dict.fromkeys(missing, f"read {len(loads)}")

    async def fast(missing: set[int]) -> dict[int, str]:
        loads.append(len(loads))
        return dict.fromkeys(missing, f"read {len(loads)}")

    first = asyncio.create_task(cache._get(cache._services, cache._services_loading, [1], slow))  # type: ignore[arg-type]
    await reading.wait()
    cache.clear()
    release.set()
    assert await first == {1: "read 1"}
    assert await cache._get(cache._services, cache._services_loading, [1], fast) == {1: "read 2"}  # type: ignore[arg-type]
    # without a clear, rows are kept
    assert await cache._get(cache._services, cache._services_loading, [1], fast) == {1: "read 2"}  # type: ignore[arg-type]
    assert loads == [0, 1]
