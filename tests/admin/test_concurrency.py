"""Admin writes racing each other and checkouts, released together behind a gate on three API
instances (separate connection pools). On PostgreSQL these really run at once; on SQLite they
queue for the write lock. Either way: no 500, and the invariant holds."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select
from tests.admin.test_coupons_admin import code as new_code
from tests.admin.test_practitioners import P, ext, new_practitioner, w
from tests.admin.test_services import S, new_service, session_fields
from tests.checkout.helpers import API, db, future_slot, make_user, session_body

from estuary_checkout.app import create_app
from estuary_checkout.audit.models import AuditLog
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.state import AppState


@pytest.fixture
async def clients(client, settings, engine_factory) -> AsyncIterator[list[httpx.AsyncClient]]:  # type: ignore[no-untyped-def]
    states, extra = [], []
    wide = settings.model_copy(update={"max_pending_orders": 100})
    for _ in range(2):
        engine, _ = engine_factory()
        state = AppState.build(wide, engine=engine)
        states.append(state)
        extra.append(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(wide, state=state)),
                base_url="http://t",
                timeout=60,
            )
        )
    try:
        yield [client, *extra]
    finally:
        for c in extra:
            await c.aclose()
        for state in states:
            await state.aclose()


async def race(n: int, call: Callable[[int], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    gate = asyncio.Event()

    async def one(i: int) -> httpx.Response:
        await gate.wait()
        return await call(i)

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.sleep(0)
    gate.set()
    return list(await asyncio.gather(*tasks))


async def _audit_count(factory, entity: str, entity_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return int(
            (
                await s.execute(
                    select(func.count())
                    .select_from(AuditLog)
                    .where(AuditLog.entity == entity, AuditLog.entity_id.in_(entity_ids))
                )
            ).scalar_one()
        )


async def test_concurrent_creates_with_one_external_id(clients, admin, factory):
    """Ten creates of practitioners, then of services, with the same external id: one 201,
    nine 409 EXTERNAL_ID_TAKEN, one row and one audit row."""
    taken = ext()
    responses = await race(
        10,
        lambda i: clients[i % 3].post(
            P, json={"name": f"Racer {i}", "timezone": "UTC", "external_id": taken}, headers=admin
        ),
    )
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 9}), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"EXTERNAL_ID_TAKEN"}
    winner = next(r.json() for r in responses if r.status_code == 201)
    listed = (await clients[0].get(P, params={"external_id": taken}, headers=admin)).json()["data"]
    assert [p["id"] for p in listed] == [winner["id"]]
    assert await _audit_count(factory, "practitioner", [str(winner["id"])]) == 1

    service_ext = ext()
    responses = await race(
        10,
        lambda i: clients[i % 3].post(
            S, json=session_fields(winner["id"], external_id=service_ext), headers=admin
        ),
    )
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 9}), [r.text for r in responses]
    assert (
        len((await clients[0].get(S, params={"external_id": service_ext}, headers=admin)).json()["data"]) == 1
    )


async def test_concurrent_creates_with_one_coupon_code(clients, admin):
    raw = new_code()
    responses = await race(
        10,
        lambda i: clients[i % 3].post(
            f"{API}/admin/coupons",
            json={"code": raw if i % 2 else raw.lower(), "percent_off": 5},
            headers=admin,
        ),
    )
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 9}), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"COUPON_CODE_TAKEN"}


async def test_lowering_max_redemptions_while_clients_redeem(clients, admin, factory, make_token):
    """A coupon is redeemed by ten checkouts while an operator lowers its limit to 3: the
    change waits for (or holds back) the redemptions, the count never exceeds the limit the
    coupon ends with, and nobody gets a 500."""
    pid = (await new_practitioner(clients[0], admin, timezone="UTC"))["id"]
    await clients[0].put(
        f"{P}/{pid}/availability", json={"windows": [w(d, "00:00", "24:00") for d in range(7)]}, headers=admin
    )
    sid = (
        await new_service(clients[0], admin, **session_fields(pid, price_cents=10000, duration_minutes=30))
    )["id"]
    coupon = (
        await clients[0].post(
            f"{API}/admin/coupons",
            json={"code": new_code(), "percent_off": 10, "max_redemptions": 8},
            headers=admin,
        )
    ).json()
    users = []
    for _ in range(10):
        async with db(factory) as s:
            u = await make_user(s)
        users.append({"Authorization": f"Bearer {make_token(u.external_id)}"})
    slots = [future_slot(hour=8 + i, minutes=30) for i in range(10)]

    async def call(i: int) -> httpx.Response:
        if i == 10:
            return await clients[i % 3].patch(
                f"{API}/admin/coupons/{coupon['code']}", json={"max_redemptions": 3}, headers=admin
            )
        body = session_body(*slots[i], service_id=sid, practitioner_id=pid, coupon_code=coupon["code"])
        return await clients[i % 3].post(f"{API}/checkout/create", json=body, headers=users[i])

    responses = await race(11, call)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    patch = responses[10]
    created = sum(1 for r in responses[:10] if r.status_code == 201)
    async with db(factory) as s:
        row = (await s.execute(select(Coupon).where(Coupon.code == coupon["code"]))).scalar_one()
    assert row.redeemed_count == created
    refused = {r.json()["code"] for r in responses[:10] if r.status_code != 201}
    assert refused <= {"COUPON_EXHAUSTED"}, refused
    if patch.status_code == 200:
        # the change saw at most 3 redemptions (under the coupon's row lock); none came after it
        assert row.max_redemptions == 3 and created <= 3
    else:
        # more than 3 were in when the change got the row: refused, the limit stays 8
        assert patch.status_code == 422 and patch.json()["details"]["field"] == "max_redemptions"
        assert row.max_redemptions == 8 and 3 < created <= 8


async def test_concurrent_availability_replacements_never_mix(clients, admin, factory):
    """Ten PUTs of different window sets: the practitioner ends with exactly one of them, and
    the audit rows chain (each row's before is the previous row's after)."""
    pid = (await new_practitioner(clients[0], admin))["id"]
    sets = [
        [w(i % 7, f"{8 + i:02d}:00", f"{9 + i:02d}:00"), w((i + 1) % 7, "06:00", "07:00")] for i in range(10)
    ]
    responses = await race(
        10, lambda i: clients[i % 3].put(f"{P}/{pid}/availability", json={"windows": sets[i]}, headers=admin)
    )
    assert [r.status_code for r in responses] == [200] * 10
    final = (await clients[0].get(f"{P}/{pid}", headers=admin)).json()["availability"]
    assert any(sorted(final, key=str) == sorted(s, key=str) for s in sets)
    async with db(factory) as s:
        rows = (
            (
                await s.execute(
                    select(AuditLog)
                    .where(
                        AuditLog.entity == "practitioner",
                        AuditLog.entity_id == str(pid),
                        AuditLog.action == "set_availability",
                    )
                    .order_by(AuditLog.id)
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 10
    assert rows[0].before["availability"] == []
    for prev, cur in itertools.pairwise(rows):
        assert cur.before["availability"] == prev.after["availability"]
    assert rows[-1].after["availability"] == final
