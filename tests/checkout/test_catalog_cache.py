"""Price quotes may serve catalog rows up to CHECKOUT_CATALOG_CACHE_SECONDS old; orders never do."""

from __future__ import annotations

import httpx
from sqlalchemy import update
from tests.checkout.helpers import API, future_slot, make_practitioner, make_user, session_body

from estuary_checkout.app import create_app
from estuary_checkout.catalog.models import Service
from estuary_checkout.state import AppState


async def _run(settings, session, make_token, ttl: float) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    pid, sid = await make_practitioner(session, price=10000)
    user = await make_user(session)
    await session.commit()
    s = settings.model_copy(update={"catalog_cache_seconds": ttl})
    state = AppState.build(s)
    app = create_app(s, state=state)
    h = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    body = session_body(*future_slot(), service_id=sid, practitioner_id=pid)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            first = (await c.post(f"{API}/checkout/calculate-price", json=body, headers=h)).json()[
                "subtotal_cents"
            ]
            async with state.session_factory() as s2:
                await s2.execute(update(Service).where(Service.id == sid).values(price_cents=12000))
                await s2.commit()
            quoted = (await c.post(f"{API}/checkout/calculate-price", json=body, headers=h)).json()[
                "subtotal_cents"
            ]
            created = await c.post(f"{API}/checkout/create", json=body, headers=h)
            assert created.status_code == 201, created.text
            return first, quoted, created.json()["subtotal_cents"]
    finally:
        await state.aclose()


async def test_quotes_may_be_stale_within_the_ttl_but_orders_never_are(settings, session, make_token):
    assert await _run(settings, session, make_token, ttl=60) == (10000, 10000, 12000)


async def test_without_the_cache_quotes_see_changes_at_once(settings, session, make_token):
    assert await _run(settings, session, make_token, ttl=0) == (10000, 12000, 12000)


async def test_expired_rows_are_reloaded_once_under_concurrency() -> None:
    """20 quotes that all find a row expired cause one load; the others wait for it."""
    import asyncio

    from estuary_checkout.catalog.service import CatalogCache

    cache = CatalogCache(ttl_seconds=60)
    loads: list[set[int]] = []

    async def load(missing: set[int]) -> dict[int, str]:
        loads.append(set(missing))
        await asyncio.sleep(0.01)  # a database read takes a while; the others arrive meanwhile
        return {i: f"row{i}" for i in missing}

    results = await asyncio.gather(
        *(cache._get(cache._services, cache._services_loading, [1, 2], load) for _ in range(20))
    )  # type: ignore[arg-type]
    assert all(r == {1: "row1", 2: "row2"} for r in results)
    print(f"\n20 concurrent lookups of expired rows: {len(loads)} load(s)")
    assert loads == [{1, 2}]
    # a later lookup that needs one more row loads only that row
    assert await cache._get(cache._services, cache._services_loading, [2, 3], load) == {2: "row2", 3: "row3"}  # type: ignore[arg-type]
    assert loads[-1] == {3}
