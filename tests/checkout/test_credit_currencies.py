"""Store credit per currency (SPEC 14): credit in one currency never pays in another, refunds to
credit land in the order's currency, `GET /credits/balance?currency=` answers for one currency and
lists them all, and every credit invariant (never negative, the ledger sums to the balance, one
movement per key) holds per currency, also when spends in two currencies race each other."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from tests.aftersale.helpers import CANCEL, refunds_of
from tests.checkout.helpers import (
    API,
    assert_error,
    create_ok,
    credit_state,
    db,
    figures,
    future_slot,
    make_practitioner,
    make_service,
    pay_and_confirm,
    session_body,
)
from tests.webhooks.test_webhooks import deliver, stripe_event

from estuary_checkout.credits import service as credits_service
from estuary_checkout.credits.errors import InsufficientCredit
from estuary_checkout.credits.models import CreditBalance, CreditLedgerEntry

USD_ORDER = (10000, 0, 875, 0, 10875)  # a 100.00 session at the default tax rate, no credit
# every test books its own practitioners: a fixed day, leaving the shared day counter to the
# tests that book the demo practitioner
DAYS = 4


async def _grant(factory, user_id: int, amount: int, currency: str) -> None:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        await credits_service.grant(s, user_id, amount, currency=currency, key=f"grant:{user_id}:{currency}")


async def _practitioner_selling_in(factory, currency: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A practitioner with a 100.00 session service priced in `currency` (its only price)."""
    async with db(factory) as s:
        pid, _ = await make_practitioner(s)
        sid = await make_service(s, pid, currency=currency)
    return pid, sid


async def _balance(client, user, currency: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    params = {"currency": currency} if currency else None
    resp = await client.get(f"{API}/credits/balance", params=params, headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _listed(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {b["currency"]: (b["balance_cents"], b["held_cents"]) for b in body["balances"]}


def _consistent(state: dict[str, int]) -> None:
    assert state["balance"] >= 0 and state["held"] >= 0
    assert (state["ledger_balance"], state["ledger_held"]) == (state["balance"], state["held"])


async def test_credit_in_one_currency_never_pays_in_another(client, factory, new_user):
    user = await new_user()
    await _grant(factory, user.id, 20000, "eur")
    usd_pid, usd_sid = await _practitioner_selling_in(factory, "usd")
    eur_pid, eur_sid = await _practitioner_selling_in(factory, "eur")
    start, end = future_slot(DAYS)
    usd_body = session_body(start, end, service_id=usd_sid, practitioner_id=usd_pid, use_credits=True)
    eur_body = session_body(
        start, end, service_id=eur_sid, practitioner_id=eur_pid, use_credits=True, currency="eur"
    )

    quote = await client.post(f"{API}/checkout/calculate-price", json=usd_body, headers=user.headers)
    assert quote.status_code == 200, quote.text
    assert (quote.json()["currency"], quote.json()["credits_available_cents"]) == ("usd", 0)
    usd = await create_ok(client, user.headers, usd_body)
    assert (usd["currency"], figures(usd), usd["status"]) == ("usd", USD_ORDER, "pending_payment")

    quote = await client.post(f"{API}/checkout/calculate-price", json=eur_body, headers=user.headers)
    assert (quote.json()["currency"], quote.json()["credits_available_cents"]) == ("eur", 20000)
    eur = await create_ok(client, user.headers, eur_body)
    assert (eur["currency"], eur["credits_applied_cents"], eur["total_cents"], eur["status"]) == (
        "eur",
        10875,
        0,
        "completed",
    )

    default = await _balance(client, user)  # the default currency, usd: nothing in it
    assert (default["currency"], default["balance_cents"], default["held_cents"]) == ("usd", 0, 0)
    assert default["last_updated"] is None
    assert _listed(default) == {"eur": (9125, 0)}
    in_eur = await _balance(client, user, "eur")
    assert (in_eur["currency"], in_eur["balance_cents"], in_eur["held_cents"]) == ("eur", 9125, 0)
    assert in_eur["last_updated"] is not None and in_eur["balances"] == default["balances"]
    eur_state = await credit_state(factory, user.id, "eur")
    _consistent(eur_state)
    assert (eur_state["sum_grant"], eur_state["sum_hold"], eur_state["sum_capture"]) == (20000, 10875, 10875)
    assert await credit_state(factory, user.id, "usd") == {
        "balance": 0,
        "held": 0,
        "ledger_balance": 0,
        "ledger_held": 0,
    }

    # usd credit pays usd orders, and only from the usd balance
    await _grant(factory, user.id, 500, "usd")
    start, end = future_slot(DAYS, hour=12)
    usd2 = await create_ok(
        client,
        user.headers,
        session_body(start, end, service_id=usd_sid, practitioner_id=usd_pid, use_credits=True),
    )
    assert (usd2["credits_applied_cents"], usd2["total_cents"]) == (500, 10375)
    after = await _balance(client, user)
    assert (after["balance_cents"], after["held_cents"]) == (0, 500)
    assert _listed(after) == {"eur": (9125, 0), "usd": (0, 500)}


async def test_refunds_to_credit_land_in_the_orders_currency(client, factory, new_user, stripe_api_base):
    """A canceled EUR order paid partly with EUR credit, partly by card: `refund_to: credit` sends
    its whole share to EUR credit; the user's USD credit is not touched."""
    user = await new_user(credit=3000)  # usd
    await _grant(factory, user.id, 1000, "eur")
    pid, sid = await _practitioner_selling_in(factory, "eur")
    start, end = future_slot(DAYS)
    created = await create_ok(
        client,
        user.headers,
        session_body(start, end, service_id=sid, practitioner_id=pid, use_credits=True, currency="eur"),
    )
    assert (created["currency"], created["credits_applied_cents"], created["total_cents"]) == (
        "eur",
        1000,
        9875,
    )
    confirmed = await pay_and_confirm(client, user.headers, created, stripe_api_base)
    (booking_id,) = confirmed["booking_ids"]

    r = await client.post(CANCEL.format(booking_id), json={"refund_to": "credit"}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["refund"]["card_cents"], r.json()["refund"]["credit_cents"]) == (0, 10875)
    assert {
        (x.destination, x.currency, x.amount_cents) for x in await refunds_of(factory, created["order_id"])
    } == {
        ("credit", "eur", 9875),
        ("credit", "eur", 1000),
    }
    assert _listed(await _balance(client, user)) == {"eur": (10875, 0), "usd": (3000, 0)}
    eur_state = await credit_state(factory, user.id, "eur")
    _consistent(eur_state)
    assert eur_state["sum_refund"] == 10875
    usd_state = await credit_state(factory, user.id, "usd")
    _consistent(usd_state)
    assert "sum_refund" not in usd_state


async def test_a_failed_card_refund_falls_back_to_credit_in_the_orders_currency(
    client, factory, new_user, stripe_emu, stripe_api_base
):
    stripe_emu.set_config(refund_failure_delay_ms=600_000)  # failed below, on our signal
    try:
        user = await new_user()
        pid, sid = await _practitioner_selling_in(factory, "eur")
        start, end = future_slot(DAYS)
        created = await create_ok(
            client,
            user.headers,
            session_body(start, end, service_id=sid, practitioner_id=pid, currency="eur"),
        )
        confirmed = await pay_and_confirm(
            client, user.headers, created, stripe_api_base, card="pm_card_refundFail"
        )
        r = await client.post(CANCEL.format(confirmed["booking_ids"][0]), json={}, headers=user.headers)
        assert r.status_code == 200 and r.json()["refund"]["card_cents"] == 10875, r.text
        (card,) = await refunds_of(factory, created["order_id"])
        stripe_emu.fail_refund(card.stripe_refund_id)
        resp = await deliver(
            client, await stripe_event(stripe_api_base, "refund.failed", card.stripe_refund_id)
        )
        assert resp.status_code == 200, resp.text
    finally:
        stripe_emu.set_config(refund_failure_delay_ms=200)
    async with db(factory) as s:
        (row,) = (
            await s.execute(
                select(CreditLedgerEntry).where(
                    CreditLedgerEntry.user_id == user.id, CreditLedgerEntry.kind == "refund"
                )
            )
        ).scalars()
    assert (row.key, row.currency, row.balance_delta_cents) == (f"refund:{card.id}:fallback", "eur", 10875)
    assert _listed(await _balance(client, user)) == {"eur": (10875, 0)}
    _consistent(await credit_state(factory, user.id, "eur"))


async def test_balance_endpoint_one_currency_and_all_of_them(client, factory, new_user):
    user = await new_user()
    empty = await _balance(client, user)
    assert empty == {
        "balance_cents": 0,
        "currency": "usd",
        "held_cents": 0,
        "last_updated": None,
        "balances": [],
    }
    for currency, amount in (("usd", 100), ("jpy", 900), ("eur", 250)):
        await _grant(factory, user.id, amount, currency)
    default = await _balance(client, user)
    assert (default["currency"], default["balance_cents"], default["held_cents"]) == ("usd", 100, 0)
    assert default["balances"] == [
        {"currency": "eur", "balance_cents": 250, "held_cents": 0},
        {"currency": "jpy", "balance_cents": 900, "held_cents": 0},
        {"currency": "usd", "balance_cents": 100, "held_cents": 0},
    ]
    jpy = await _balance(client, user, "jpy")
    assert (jpy["currency"], jpy["balance_cents"]) == ("jpy", 900) and jpy["balances"] == default["balances"]
    # a currency the user has nothing in: zeros, and the list unchanged
    gbp = await _balance(client, user, "gbp")
    assert {k: gbp[k] for k in ("currency", "balance_cents", "held_cents", "last_updated")} == {
        "currency": "gbp",
        "balance_cents": 0,
        "held_cents": 0,
        "last_updated": None,
    }
    assert gbp["balances"] == default["balances"]
    # another user sees none of it
    other = await new_user()
    assert (await _balance(client, other, "eur"))["balances"] == []
    for bad in ("EUR", "eu", "euro", "e1r", "", "usd,eur"):
        resp = await client.get(f"{API}/credits/balance", params={"currency": bad}, headers=user.headers)
        assert assert_error(resp, 422, "VALIDATION_ERROR")["details"]["field"] == "currency", bad


async def test_every_credit_invariant_holds_per_currency(factory, new_user):
    user = await new_user(credit=1000)  # usd
    await _grant(factory, user.id, 500, "eur")

    # eur cannot borrow from usd: an overdraw in eur raises however much usd there is
    with pytest.raises(InsufficientCredit) as refused:
        async with db(factory) as s:
            await credits_service.hold(s, user.id, 600, currency="eur", order_id=uuid.uuid4())
    assert refused.value.details == {"requested_cents": 600, "currency": "eur", "movement": "hold"}
    with pytest.raises(InsufficientCredit):
        async with db(factory) as s:
            await credits_service.adjustment(s, user.id, -501, currency="eur", key=f"adj:{uuid.uuid4()}")
    order_id = uuid.uuid4()
    async with db(factory) as s:
        assert await credits_service.hold(s, user.id, 500, currency="eur", order_id=order_id) is True
        # a key is one movement in one currency: the same key in another currency moves nothing
        assert await credits_service.hold(s, user.id, 500, currency="usd", order_id=order_id) is False
        assert await credits_service.capture(s, user.id, 500, currency="eur", order_id=order_id) is True
        assert await credits_service.available_cents(s, user.id, "eur") == 0
        assert await credits_service.available_cents(s, user.id, "usd") == 1000
        assert await credits_service.available_cents(s, user.id, "gbp") == 0
    usd, eur = await credit_state(factory, user.id, "usd"), await credit_state(factory, user.id, "eur")
    _consistent(usd)
    _consistent(eur)
    assert (usd["balance"], usd["held"], eur["balance"], eur["held"]) == (1000, 0, 0, 0)
    assert (eur["sum_grant"], eur["sum_hold"], eur["sum_capture"]) == (500, 500, 500)
    assert "sum_hold" not in usd

    # the database itself: no negative balance in any currency, one row per (user, currency), one
    # spelling of a currency
    with pytest.raises(IntegrityError):
        async with db(factory) as s:
            await s.execute(
                update(CreditBalance)
                .where(CreditBalance.user_id == user.id, CreditBalance.currency == "eur")
                .values(balance_cents=-1)
            )
    for row in (
        CreditBalance(user_id=user.id, currency="usd", balance_cents=0, held_cents=0),
        CreditBalance(user_id=user.id, currency="GBP", balance_cents=0, held_cents=0),
    ):
        with pytest.raises(IntegrityError):
            async with db(factory) as s:
                s.add(row)
    assert (await credit_state(factory, user.id, "usd"))["balance"] == 1000


def _slots(n: int, pid: int, sid: int, **extra: object) -> list[dict]:
    """n one-hour slots of one practitioner on one day, 08:00 onwards, each a separate body."""
    base = datetime.fromisoformat(future_slot(DAYS, hour=8)[0])
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


@pytest.mark.parametrize("where", ["one_pool", "two_engines"])
async def test_concurrent_credit_checkouts_in_two_currencies(replicas, client, factory, new_user, where):
    """One user with USD 30.00 and EUR 20.00, sixteen checkouts (eight in each currency) each asking
    for 10.00 of credit, released together: exactly three USD and two EUR orders hold 10.00, neither
    balance goes below zero, and each currency's ledger sums to its balance row."""
    user = await new_user(credit=3000)
    await _grant(factory, user.id, 2000, "eur")
    usd_pid, usd_sid = await _practitioner_selling_in(factory, "usd")
    eur_pid, eur_sid = await _practitioner_selling_in(factory, "eur")
    usd = _slots(8, usd_pid, usd_sid, use_credits=True, credits_to_apply=1000)
    eur = _slots(8, eur_pid, eur_sid, use_credits=True, credits_to_apply=1000, currency="eur")
    bodies = [b for pair in zip(usd, eur, strict=True) for b in pair]
    clients = replicas if where == "two_engines" else replicas[:1]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % len(clients)].post(
            f"{API}/checkout/create", json=bodies[i], headers=user.headers
        )

    tasks = [asyncio.create_task(one(i)) for i in range(len(bodies))]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    applied = Counter((r.json()["currency"], r.json()["credits_applied_cents"]) for r in responses)
    print(f"{where}: credits applied per order {dict(applied)}")
    assert applied == Counter({("usd", 1000): 3, ("usd", 0): 5, ("eur", 1000): 2, ("eur", 0): 6})
    for currency, held in (("usd", 3000), ("eur", 2000)):
        state = await credit_state(factory, user.id, currency)
        _consistent(state)
        assert (state["balance"], state["held"], state["sum_hold"]) == (0, held, held)
    assert _listed(await _balance(client, user)) == {"eur": (0, 2000), "usd": (0, 3000)}


async def test_concurrent_holds_and_releases_in_two_currencies(factory, engine_factory, new_user):
    """Below the HTTP layer, on two connection pools: forty holds of 1.00 (twenty per currency)
    against USD 10.00 and EUR 5.00, racing the release of earlier holds in both currencies.
    Every hold that found credit took it, none overdrew, and the books balance per currency."""
    user = await new_user(credit=1000)
    await _grant(factory, user.id, 500, "eur")
    earlier = {"usd": uuid.uuid4(), "eur": uuid.uuid4()}
    async with db(factory) as s:
        for currency, order_id in earlier.items():
            await credits_service.hold(s, user.id, 200, currency=currency, order_id=order_id)
    second_engine, second_factory = engine_factory()
    pools = [factory, second_factory]
    currencies = ["usd", "eur"] * 20
    gate = asyncio.Event()

    async def hold(i: int, currency: str) -> bool:
        await gate.wait()
        try:
            async with db(pools[i % 2]) as s:
                return await credits_service.hold(s, user.id, 100, currency=currency, order_id=uuid.uuid4())
        except InsufficientCredit:
            return False

    async def release(currency: str) -> bool:
        await gate.wait()
        async with db(pools[1]) as s:
            return await credits_service.release(
                s, user.id, 200, currency=currency, order_id=earlier[currency], reason="expired"
            )

    try:
        tasks = [asyncio.create_task(hold(i, c)) for i, c in enumerate(currencies)]
        releases = [asyncio.create_task(release(c)) for c in ("usd", "eur")]
        await asyncio.sleep(0)
        gate.set()
        held = await asyncio.gather(*tasks)
        assert await asyncio.gather(*releases) == [True, True]
    finally:
        await second_engine.dispose()
    won = Counter(c for ok, c in zip(held, currencies, strict=True) if ok)
    for currency, total in (("usd", 1000), ("eur", 500)):
        state = await credit_state(factory, user.id, currency)
        _consistent(state)
        # whatever the interleaving, every cent is either spendable or held by a successful hold
        assert state["held"] == 100 * won[currency]
        assert state["balance"] + state["held"] == total
        # a hold that lost found the balance short at its moment: at most the release's 200 late
        assert 100 * won[currency] >= total - 200
