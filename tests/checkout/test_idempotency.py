"""Idempotency-Key on create and confirm: replays are byte-identical, another body is refused,
concurrent duplicates make one order."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.checkout.helpers import (
    API,
    assert_error,
    bundle_body,
    future_slot,
    order_count,
    pay_in_browser,
    session_body,
)


async def test_same_key_same_body_replays(client, factory, new_user):
    user = await new_user()
    headers = {**user.headers, "Idempotency-Key": "create-1"}
    body = session_body(*future_slot())
    first = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert first.status_code == 201, first.text
    second = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert second.status_code == 201 and second.content == first.content  # byte for byte
    assert await order_count(factory, user.id) == 1
    # the key belongs to this user: another user with the same key gets an order of their own
    other = await new_user()
    theirs = await client.post(
        f"{API}/checkout/create", json=bundle_body(), headers={**other.headers, "Idempotency-Key": "create-1"}
    )
    assert theirs.status_code == 201 and theirs.json()["order_id"] != first.json()["order_id"]


async def test_same_key_other_body_is_refused(client, factory, new_user):
    user = await new_user()
    headers = {**user.headers, "Idempotency-Key": "create-2"}
    first = await client.post(f"{API}/checkout/create", json=bundle_body(), headers=headers)
    assert first.status_code == 201
    for other_body in (bundle_body(quantity=2), bundle_body(use_credits=True), session_body(*future_slot())):
        resp = await client.post(f"{API}/checkout/create", json=other_body, headers=headers)
        err = assert_error(resp, 422, "IDEMPOTENCY_KEY_REUSED")
        assert err["details"] == {"idempotency_key": "create-2"}
    assert await order_count(factory, user.id) == 1
    # and the original still replays
    assert (
        await client.post(f"{API}/checkout/create", json=bundle_body(), headers=headers)
    ).content == first.content


async def test_same_key_ten_times_concurrently(client, replicas, factory, new_user):
    user = await new_user()
    headers = {**user.headers, "Idempotency-Key": "create-burst"}
    body = session_body(*future_slot())
    clients = [client, *replicas]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % 3].post(f"{API}/checkout/create", json=body, headers=headers)

    tasks = [asyncio.create_task(one(i)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    counts = Counter(r.status_code for r in responses)
    print(f"idempotency burst: {dict(counts)}")
    assert set(counts) <= {201, 409} and counts[201] >= 1
    ok = {r.content for r in responses if r.status_code == 201}
    assert len(ok) == 1
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert await order_count(factory, user.id) == 1
    # once settled, the key replays the one response
    again = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert again.status_code == 201 and again.content in ok


async def test_validation_error_is_replayed_not_rerun(client, factory, new_user):
    """A 4xx answer is stored with the key (Stripe's behaviour): the same request replays it."""
    user = await new_user()
    headers = {**user.headers, "Idempotency-Key": "bad-cart"}
    soon = datetime.now(UTC) + timedelta(minutes=5)
    body = session_body(soon.isoformat(), (soon + timedelta(hours=1)).isoformat())
    first = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert_error(first, 422, "START_IN_PAST")
    second = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert second.status_code == 422 and second.content == first.content
    assert await order_count(factory, user.id) == 0


async def test_conflict_is_not_stored_so_a_retry_can_succeed(client, factory, new_user, app_state):
    """A 409 (slot taken) may clear; the key is forgotten and the same request can be retried."""
    import uuid

    from tests.checkout.helpers import db

    from estuary_checkout.orders import service as orders_service

    holder, user = await new_user(), await new_user()
    body = session_body(*future_slot())
    held = (await client.post(f"{API}/checkout/create", json=body, headers=holder.headers)).json()
    headers = {**user.headers, "Idempotency-Key": "slot-retry"}
    assert_error(
        await client.post(f"{API}/checkout/create", json=body, headers=headers), 409, "SLOT_UNAVAILABLE"
    )
    async with db(factory) as s:
        await orders_service.expire_order(s, app_state.gateway, uuid.UUID(held["order_id"]), force=True)
    retry = await client.post(f"{API}/checkout/create", json=body, headers=headers)
    assert retry.status_code == 201, retry.text


async def test_confirm_with_idempotency_key(client, new_user, stripe_api_base):
    user = await new_user()
    created = (
        await client.post(f"{API}/checkout/create", json=session_body(*future_slot()), headers=user.headers)
    ).json()
    await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    headers = {**user.headers, "Idempotency-Key": "confirm-1"}
    body = {"payment_intent_id": created["payment_intent_id"]}
    first = await client.post(f"{API}/payment/confirm", json=body, headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "completed", first.text
    second = await client.post(f"{API}/payment/confirm", json=body, headers=headers)
    assert second.status_code == 200 and second.content == first.content
    other = await client.post(
        f"{API}/payment/confirm", json={**body, "payment_method_id": "pm_card_visa"}, headers=headers
    )
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")
    # keys are per route: the same key on create is a different key
    created2 = await client.post(f"{API}/checkout/create", json=bundle_body(), headers=headers)
    assert created2.status_code == 201, created2.text


async def test_confirm_same_key_concurrently(client, replicas, new_user, stripe_api_base):
    user = await new_user()
    created = (
        await client.post(f"{API}/checkout/create", json=session_body(*future_slot()), headers=user.headers)
    ).json()
    await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    headers = {**user.headers, "Idempotency-Key": "confirm-burst"}
    body = {"payment_intent_id": created["payment_intent_id"]}
    clients = [client, *replicas]
    responses = await asyncio.gather(
        *(clients[i % 3].post(f"{API}/payment/confirm", json=body, headers=headers) for i in range(10))
    )
    assert set(r.status_code for r in responses) <= {200, 409}
    ok = {r.content for r in responses if r.status_code == 200}
    assert len(ok) == 1 and b'"status":"completed"' in next(iter(ok))
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")


async def test_bad_idempotency_key_header(client, new_user):
    user = await new_user()
    resp = await client.post(
        f"{API}/checkout/create",
        json=bundle_body(),
        headers={**user.headers, "Idempotency-Key": "has spaces!"},
    )
    err = assert_error(resp, 422, "VALIDATION_ERROR")
    assert err["details"]["field"] == "Idempotency-Key"
