"""Operators' store-credit adjustments (SPEC 11.4): one ledger row either way, never below zero,
admin only, and replay-safe: a retried request with the same Idempotency-Key moves nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from tests.checkout.helpers import API, assert_error, credit_state, db

from estuary_checkout.audit.service import Actor
from estuary_checkout.credits import service as credits_service
from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.credits.schemas import CreditAdjustmentCreate
from estuary_checkout.idempotency.errors import IdempotencyKeyReused
from estuary_checkout.users.models import User

ADJUST = f"{API}/admin/credits/adjustments"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"adj-{uuid.uuid4().hex}"}


async def _balance(client, user) -> int:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/credits/balance", headers=user.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["balance_cents"])


async def _adjustments(factory, user_id: int) -> int:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return int(
            (
                await s.execute(
                    select(func.count())
                    .select_from(CreditLedgerEntry)
                    .where(CreditLedgerEntry.user_id == user_id, CreditLedgerEntry.kind == "adjustment")
                )
            ).scalar_one()
        )


async def test_add_then_take_credit_by_id_and_by_email(client, factory, new_user):
    admin, user = await new_user(admin=True), await new_user(credit=300)
    async with db(factory) as s:
        email = (await s.get(User, user.id)).email  # type: ignore[union-attr]

    added = await client.post(
        ADJUST,
        json={"user_id": user.id, "amount_cents": 1500, "reason": "goodwill: late practitioner"},
        headers=admin.headers | _key(),
    )
    assert added.status_code == 201, added.text
    row = added.json()
    assert {k: v for k, v in row.items() if k not in ("id", "created_at")} == {
        "user_id": user.id,
        "kind": "adjustment",
        "amount_cents": 1500,
        "balance_delta_cents": 1500,
        "currency": "usd",
        "reason": "goodwill: late practitioner",
        "balance_cents": 1800,
    }
    assert await _balance(client, user) == 1800

    taken = await client.post(
        ADJUST,
        json={
            "user_email": email.upper(),
            "currency": "USD",
            "amount_cents": -1800,
            "reason": "duplicate grant",
        },
        headers=admin.headers | _key(),
    )
    assert taken.status_code == 201, taken.text
    assert (
        taken.json()["amount_cents"],
        taken.json()["balance_delta_cents"],
        taken.json()["balance_cents"],
    ) == (
        1800,
        -1800,
        0,
    )
    assert await _balance(client, user) == 0
    state = await credit_state(factory, user.id)
    assert (state["ledger_balance"], state["balance"]) == (0, 0)

    # below zero: refused, nothing written
    below = assert_error(
        await client.post(
            ADJUST,
            json={"user_id": user.id, "amount_cents": -1, "reason": "one too many"},
            headers=admin.headers | _key(),
        ),
        409,
        "INSUFFICIENT_CREDIT",
    )
    assert below["details"] == {"balance_cents": 0, "currency": "usd", "amount_cents": -1}
    assert await _adjustments(factory, user.id) == 2
    assert await _balance(client, user) == 0


async def test_an_adjustment_moves_one_currencys_credit(client, factory, new_user):
    """`currency` names the balance moved (any case; default the configured usd); taking more
    than that currency holds is refused whatever the others hold."""
    admin, user = await new_user(admin=True), await new_user(credit=5000)  # usd
    added = await client.post(
        ADJUST,
        json={"user_id": user.id, "currency": "EUR", "amount_cents": 700, "reason": "goodwill"},
        headers=admin.headers | _key(),
    )
    assert added.status_code == 201, added.text
    assert (added.json()["currency"], added.json()["balance_cents"]) == ("eur", 700)
    over = assert_error(
        await client.post(
            ADJUST,
            json={"user_id": user.id, "currency": "eur", "amount_cents": -701, "reason": "too much"},
            headers=admin.headers | _key(),
        ),
        409,
        "INSUFFICIENT_CREDIT",
    )
    assert over["details"] == {"balance_cents": 700, "currency": "eur", "amount_cents": -701}
    r = await client.get(f"{API}/credits/balance", params={"currency": "eur"}, headers=user.headers)
    assert (r.json()["balance_cents"], r.json()["balances"]) == (
        700,
        [
            {"currency": "eur", "balance_cents": 700, "held_cents": 0},
            {"currency": "usd", "balance_cents": 5000, "held_cents": 0},
        ],
    )
    for currency in ("eur", "usd"):
        state = await credit_state(factory, user.id, currency)
        assert state["balance"] == state["ledger_balance"]
    assert (await credit_state(factory, user.id, "eur")).get("sum_adjustment") == 700


async def test_the_same_key_moves_the_money_once(client, factory, new_user):
    admin, user = await new_user(admin=True), await new_user()
    key = _key()
    body = {"user_id": user.id, "amount_cents": 700, "reason": "apology"}
    first = await client.post(ADJUST, json=body, headers=admin.headers | key)
    again = await client.post(ADJUST, json=body, headers=admin.headers | key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the first response, replayed
    assert await _balance(client, user) == 700 and await _adjustments(factory, user.id) == 1
    # the same key with another body is refused, and moves nothing
    assert_error(
        await client.post(ADJUST, json=body | {"amount_cents": 900}, headers=admin.headers | key),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    # concurrent retries of one new key: one movement
    key2 = _key()
    body2 = {"user_id": user.id, "amount_cents": 50, "reason": "race"}
    results = await asyncio.gather(
        *(client.post(ADJUST, json=body2, headers=admin.headers | key2) for _ in range(4))
    )
    assert {r.status_code for r in results} <= {201, 409}, [r.text for r in results]
    assert any(r.status_code == 201 for r in results)
    assert await _balance(client, user) == 750 and await _adjustments(factory, user.id) == 2


async def test_the_ledger_key_survives_a_lost_idempotency_record(factory, new_user):
    """Below the HTTP layer: the movement's own key (derived from the operator's
    Idempotency-Key) applies it once even if the request were run twice."""
    admin, user = await new_user(admin=True), await new_user()
    async with db(factory) as s:
        operator = await s.get(User, admin.id)
    assert operator is not None
    body = CreditAdjustmentCreate(user_id=user.id, amount_cents=400, reason="twice?")
    for _ in range(2):
        async with db(factory) as s:
            row = await credits_service.adjust_for_operator(
                s, operator, body, idempotency_key="k-1", default_currency="usd", actor=Actor("test")
            )
            assert row.balance_cents == 400
    other = CreditAdjustmentCreate(user_id=user.id, amount_cents=-400, reason="not the same")
    # the same movement in another currency is other money too
    in_eur = CreditAdjustmentCreate(user_id=user.id, currency="eur", amount_cents=400, reason="twice?")
    for wrong in (other, in_eur):
        with pytest.raises(IdempotencyKeyReused):
            async with db(factory) as s:
                await credits_service.adjust_for_operator(
                    s, operator, wrong, idempotency_key="k-1", default_currency="usd", actor=Actor("test")
                )
    assert await _adjustments(factory, user.id) == 1
    long_key = "x" * 255
    assert len(credits_service.adjustment_key(admin.id, long_key)) <= 200
    assert credits_service.adjustment_key(admin.id, long_key) != credits_service.adjustment_key(
        admin.id, "x" * 254
    )


async def test_who_may_adjust_and_what_is_refused(client, new_user):
    admin, user = await new_user(admin=True), await new_user()
    ok = {"user_id": user.id, "amount_cents": 100, "reason": "r"}
    assert_error(await client.post(ADJUST, json=ok, headers=_key()), 401, "UNAUTHORIZED")
    assert_error(await client.post(ADJUST, json=ok, headers=user.headers | _key()), 403, "FORBIDDEN")
    missing = assert_error(await client.post(ADJUST, json=ok, headers=admin.headers), 422, "VALIDATION_ERROR")
    assert missing["details"]["field"] == "Idempotency-Key"
    cases = [
        ({"amount_cents": 100, "reason": "r"}, "user_email"),  # neither user_id nor user_email
        (ok | {"user_email": "a@example.com"}, "user_email"),  # both
        (ok | {"amount_cents": 0}, "amount_cents"),
        (ok | {"amount_cents": 10_000_001}, "amount_cents"),
        (ok | {"amount_cents": -10_000_001}, "amount_cents"),
        (ok | {"reason": ""}, "reason"),
        (ok | {"reason": "   "}, "reason"),
        (ok | {"reason": "x" * 501}, "reason"),
        (ok | {"currency": "dollars"}, "currency"),
        (ok | {"user_id": 0}, "user_id"),
        (ok | {"note": "extra"}, "note"),
        ({"user_email": "no-at-sign", "amount_cents": 1, "reason": "r"}, "user_email"),
    ]
    for body, field in cases:
        r = await client.post(ADJUST, json=body, headers=admin.headers | _key())
        assert assert_error(r, 422, "VALIDATION_ERROR")["details"]["field"] == field, body
    assert (
        await client.post(ADJUST, json=ok | {"reason": "x" * 500}, headers=admin.headers | _key())
    ).status_code == 201
    assert (
        await client.post(ADJUST, json=ok | {"amount_cents": 10_000_000}, headers=admin.headers | _key())
    ).status_code == 201
    assert_error(
        await client.post(ADJUST, json=ok | {"user_id": 2_000_000_000}, headers=admin.headers | _key()),
        404,
        "USER_NOT_FOUND",
    )
    assert_error(
        await client.post(
            ADJUST,
            json={"user_email": "nobody-here@example.com", "amount_cents": 5, "reason": "r"},
            headers=admin.headers | _key(),
        ),
        404,
        "USER_NOT_FOUND",
    )


async def test_each_adjustment_has_one_audit_row(client, new_user):
    admin, user = await new_user(admin=True), await new_user(credit=100)
    headers = admin.headers | _key()
    body = {"user_id": user.id, "amount_cents": -60, "reason": "double grant"}
    assert (await client.post(ADJUST, json=body, headers=headers)).status_code == 201
    assert (await client.post(ADJUST, json=body, headers=headers)).status_code == 201  # replayed: no new row
    refused = await client.post(ADJUST, json={**body, "amount_cents": -500}, headers=admin.headers | _key())
    assert refused.status_code == 409
    audit = await client.get(
        f"{API}/admin/audit",
        params={"entity": "credit_balance", "entity_id": str(user.id)},
        headers=admin.headers,
    )
    (row,) = audit.json()["data"]
    assert (
        row["action"] == "adjust"
        and row["before"]["balance_cents"] == 100
        and row["after"]["balance_cents"] == 40
    )
