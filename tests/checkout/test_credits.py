"""Store credit: held at create, captured at fulfilment, released at expiry; the ledger always
sums to the balance row; concurrent spends never overdraw (the database refuses a negative balance)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from tests.checkout.helpers import (
    API,
    create_ok,
    credit_state,
    db,
    figures,
    future_slot,
    make_practitioner,
    orders_of,
    pay_and_confirm,
    session_body,
)

from estuary_checkout.credits import service as credits_service
from estuary_checkout.credits.errors import InsufficientCredit
from estuary_checkout.credits.models import CreditBalance, CreditLedgerEntry
from estuary_checkout.orders import service as orders_service


async def _balance(client, user):  # type: ignore[no-untyped-def]
    resp = await client.get(f"{API}/credits/balance", headers=user.headers)
    assert resp.status_code == 200, resp.text
    b = resp.json()
    assert set(b) == {"balance_cents", "currency", "held_cents", "last_updated", "balances"}
    assert b["currency"] == "usd"
    # these users only ever have usd credit: the list says the same as the top level, or nothing yet
    assert b["balances"] in (
        [],
        [{"currency": "usd", "balance_cents": b["balance_cents"], "held_cents": b["held_cents"]}],
    )
    return b["balance_cents"], b["held_cents"]


def _consistent(state: dict[str, int]) -> None:
    assert state["balance"] >= 0 and state["held"] >= 0
    assert (state["ledger_balance"], state["ledger_held"]) == (state["balance"], state["held"])


async def test_hold_at_create_capture_at_fulfilment(client, factory, new_user, stripe_api_base):
    user = await new_user(credit=5000)
    assert await _balance(client, user) == (5000, 0)
    start, end = future_slot()
    created = await create_ok(
        client, user.headers, session_body(start, end, use_credits=True, credits_to_apply=1500)
    )
    assert figures(created) == (10000, 0, 875, 1500, 9375)
    assert await _balance(client, user) == (3500, 1500)  # held at create, not at completion
    _consistent(await credit_state(factory, user.id))

    await pay_and_confirm(client, user.headers, created, stripe_api_base)
    assert await _balance(client, user) == (3500, 0)
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert (state["sum_grant"], state["sum_hold"], state["sum_capture"]) == (5000, 1500, 1500)
    assert "sum_release" not in state


async def test_hold_released_on_expiry(client, app_state, factory, new_user):
    user = await new_user(credit=2000)
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end, use_credits=True))
    assert figures(created) == (10000, 0, 875, 2000, 8875)
    assert await _balance(client, user) == (0, 2000)
    async with db(factory) as s:
        assert (
            await orders_service.expire_order(
                s, app_state.gateway, uuid.UUID(created["order_id"]), force=True
            )
            == "expired"
        )
    # expiring twice releases once
    async with db(factory) as s:
        assert (
            await orders_service.expire_order(
                s, app_state.gateway, uuid.UUID(created["order_id"]), force=True
            )
            == "expired"
        )
    assert await _balance(client, user) == (2000, 0)
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert (state["sum_hold"], state["sum_release"]) == (2000, 2000)


async def test_credit_covering_everything_completes_without_payment(client, factory, new_user):
    user = await new_user(credit=20000)
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end, use_credits=True))
    assert figures(created) == (10000, 0, 875, 10875, 0)
    assert created["status"] == "completed" and created["payment_intent_id"] is None
    assert created["requires_payment"] is False
    assert await _balance(client, user) == (9125, 0)
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert state["sum_capture"] == 10875


async def test_use_credits_false_keeps_the_balance(client, new_user):
    user = await new_user(credit=2000)
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end, credits_to_apply=2000))
    assert figures(created) == (10000, 0, 875, 0, 10875)
    assert await _balance(client, user) == (2000, 0)


def _slots(n: int, pid: int, sid: int, **extra: object) -> list[dict]:
    """n one-hour slots of one practitioner on one day, 08:00 onwards, each a separate body."""
    day_start, _ = future_slot(hour=8)
    base = datetime.fromisoformat(day_start)
    return [
        session_body(
            (base + timedelta(hours=i)).isoformat(),
            (base + timedelta(hours=i + 1)).isoformat(),
            service_id=sid,
            practitioner_id=pid,
            **extra,
        )
        for i in range(n)
    ]


async def _release_together(clients, headers, bodies):  # type: ignore[no-untyped-def]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % len(clients)].post(f"{API}/checkout/create", json=bodies[i], headers=headers)

    tasks = [asyncio.create_task(one(i)) for i in range(len(bodies))]
    await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(*tasks)


@pytest.mark.parametrize("where", ["one_pool", "two_engines"])
async def test_concurrent_credit_checkouts_never_overdraw(replicas, client, factory, new_user, where):
    """A balance that covers exactly one checkout, ten credit checkouts released together (on one
    API instance, or spread over two with separate connection pools)."""
    user = await new_user(credit=10875)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    clients = replicas if where == "two_engines" else replicas[:1]
    responses = await _release_together(clients, user.headers, _slots(10, pid, sid, use_credits=True))
    counts = Counter(r.status_code for r in responses)
    print(f"{where}: {dict(counts)}")
    assert counts == Counter({201: 10}), [r.text for r in responses if r.status_code != 201]
    created = [r.json() for r in responses]
    # all of the credit went to exactly one checkout (completed at once); the others pay by card in full
    full = [c for c in created if c["credits_applied_cents"]]
    assert (
        len(full) == 1 and figures(full[0]) == (10000, 0, 875, 10875, 0) and full[0]["status"] == "completed"
    )
    assert all(figures(c) == (10000, 0, 875, 0, 10875) for c in created if c is not full[0])
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert (state["balance"], state["held"], state["sum_capture"]) == (0, 0, 10875)
    assert sum(o.credits_applied_cents for o in await orders_of(factory, user.id)) == 10875
    assert await _balance(client, user) == (0, 0)


@pytest.mark.parametrize("where", ["one_pool", "two_engines", "api_client"])
async def test_concurrent_partial_credit_holds(replicas, client, factory, new_user, where):
    """Balance 3000, checkouts each asking for 1000 released together → exactly three hold 1000,
    the held sum equals what the balance lost, and the balance never goes below zero."""
    user = await new_user(credit=3000)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    clients = {"two_engines": replicas, "one_pool": replicas[:1], "api_client": [client]}[where]
    n = 5 if where == "api_client" else 10  # the default app keeps its pending cap of 5
    responses = await _release_together(
        clients, user.headers, _slots(n, pid, sid, use_credits=True, credits_to_apply=1000)
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    applied = Counter(r.json()["credits_applied_cents"] for r in responses)
    print(f"{where}: credits applied per order {dict(applied)}")
    assert applied == Counter({1000: 3, 0: n - 3})
    assert await _balance(client, user) == (0, 3000)
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert state["sum_hold"] == 3000


async def test_balance_cannot_go_negative_in_the_database(factory, new_user):
    user = await new_user(credit=100)
    # an overdraw raises, and the transaction it ran in (ledger row included) rolls back
    with pytest.raises(InsufficientCredit):
        async with db(factory) as s:
            await credits_service.hold(s, user.id, 101, currency="usd", order_id=uuid.uuid4())
    # even a raw UPDATE that bypasses the service is refused by the CHECK constraint
    with pytest.raises(IntegrityError):
        async with db(factory) as s:
            await s.execute(
                update(CreditBalance)
                .where(CreditBalance.user_id == user.id, CreditBalance.currency == "usd")
                .values(balance_cents=-1)
            )
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert state["balance"] == 100


async def test_ledger_keys_make_movements_idempotent(factory, new_user):
    user = await new_user(credit=1000)
    order_id = uuid.uuid4()
    async with db(factory) as s:
        assert await credits_service.hold(s, user.id, 400, currency="usd", order_id=order_id) is True
        assert await credits_service.hold(s, user.id, 400, currency="usd", order_id=order_id) is False
        assert await credits_service.capture(s, user.id, 400, currency="usd", order_id=order_id) is True
        assert await credits_service.capture(s, user.id, 400, currency="usd", order_id=order_id) is False
    state = await credit_state(factory, user.id)
    _consistent(state)
    assert (state["balance"], state["held"]) == (600, 0)
    async with db(factory) as s:
        kinds = [
            k
            for (k,) in await s.execute(
                select(CreditLedgerEntry.kind)
                .where(CreditLedgerEntry.order_id == order_id)
                .order_by(CreditLedgerEntry.id)
            )
        ]
    assert kinds == ["hold", "capture"]
