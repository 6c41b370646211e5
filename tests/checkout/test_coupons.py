"""Coupons: percent once per user, fixed with a minimum, limits that hold under concurrency,
reservations released when an order expires and made final when it is paid."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from sqlalchemy import select
from tests.checkout.helpers import (
    API,
    assert_error,
    bundle_body,
    create_ok,
    db,
    figures,
    future_slot,
    make_coupon,
    make_practitioner,
    order_count,
    pay_and_confirm,
    session_body,
)

from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.orders import service as orders_service


async def _coupon(factory, code: str) -> tuple[Coupon, list[CouponRedemption]]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        c = (await s.execute(select(Coupon).where(Coupon.code == code.upper()))).scalar_one()
        reds = list(
            (await s.execute(select(CouponRedemption).where(CouponRedemption.coupon_id == c.id))).scalars()
        )
    return c, reds


async def test_welcome_like_percent_once_per_user(client, factory, new_user, stripe_api_base):
    async with db(factory) as s:
        code = await make_coupon(s, kind="percent", percent_off=10, max_per_user=1)
    user = await new_user()
    # bundle 45000 − 10 % = 40500; tax 3543.75 → 3544
    created = await create_ok(client, user.headers, bundle_body(coupon_code=code.lower()))
    assert figures(created) == (45000, 4500, 3544, 0, 44044)
    await pay_and_confirm(client, user.headers, created, stripe_api_base)
    c, reds = await _coupon(factory, code)
    assert c.redeemed_count == 1 and [(r.status, r.discount_cents) for r in reds] == [("final", 4500)]
    assert_error(
        await client.post(
            f"{API}/checkout/calculate-price", json=bundle_body(coupon_code=code), headers=user.headers
        ),
        409,
        "COUPON_ALREADY_USED",
    )
    # the demo WELCOME10 works the same way for a new user (quote only: the demo row stays untouched)
    q = await client.post(
        f"{API}/checkout/calculate-price", json=bundle_body(coupon_code="welcome10"), headers=user.headers
    )
    assert figures(q.json()) == (45000, 4500, 3544, 0, 44044)


async def test_save20_like_fixed_with_minimum(client, factory, new_user):
    async with db(factory) as s:
        code = await make_coupon(
            s,
            kind="fixed",
            percent_off=None,
            amount_off={"usd": 2000},
            min_subtotal_cents=5000,
            max_redemptions=100,
        )
    user = await new_user()
    start, end = future_slot()
    # 10000 − 2000 = 8000; tax 700
    created = await create_ok(client, user.headers, session_body(start, end, coupon_code=code))
    assert figures(created) == (10000, 2000, 700, 0, 8700)
    c, reds = await _coupon(factory, code)
    assert c.redeemed_count == 1 and [r.status for r in reds] == ["reserved"]
    # the demo SAVE20 prices the same; below its 5000 minimum it is refused
    q = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(start, end, coupon_code="SAVE20"),
        headers=user.headers,
    )
    assert figures(q.json()) == (10000, 2000, 700, 0, 8700)
    # below the coupon's minimum it is refused: a 4000 session against a 5000 minimum
    async with db(factory) as s:
        pid, sid = await make_practitioner(s, price=4000)
    start, end = future_slot()
    small = session_body(start, end, service_id=sid, practitioner_id=pid, coupon_code=code)
    assert_error(
        await client.post(f"{API}/checkout/create", json=small, headers=user.headers),
        422,
        "COUPON_MIN_SUBTOTAL",
    )
    assert_error(
        await client.post(
            f"{API}/checkout/calculate-price", json=dict(small, coupon_code="SAVE20"), headers=user.headers
        ),
        422,
        "COUPON_MIN_SUBTOTAL",
    )
    c, _ = await _coupon(factory, code)
    assert c.redeemed_count == 1
    assert await order_count(factory, user.id) == 1


async def test_fixed_coupon_larger_than_cart_is_capped(client, factory, new_user):
    async with db(factory) as s:
        code = await make_coupon(s, kind="fixed", percent_off=None, amount_off={"usd": 1_000_000})
    user = await new_user()
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end, coupon_code=code))
    # the discount is capped at the subtotal: a free order, completed at once
    assert figures(created) == (10000, 10000, 0, 0, 0) and created["status"] == "completed"
    _c, reds = await _coupon(factory, code)
    assert [r.status for r in reds] == ["final"]


async def test_last_redemption_ten_concurrent_users(client, replicas, factory, new_user, app_state):
    """A coupon with one redemption left and ten users released together: exactly one gets it;
    when that order expires the redemption is released and the next user can have it."""
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=25, max_redemptions=5, redeemed_count=4)
    users = [await new_user() for _ in range(10)]
    clients = [client, *replicas]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % 3].post(
            f"{API}/checkout/create", json=bundle_body(coupon_code=code), headers=users[i].headers
        )

    tasks = [asyncio.create_task(one(i)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    counts = Counter(r.status_code for r in responses)
    print(f"coupon race: {dict(counts)}")
    assert counts == Counter({201: 1, 409: 9}), [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "COUPON_EXHAUSTED")
    winner_i = next(i for i, r in enumerate(responses) if r.status_code == 201)
    winner = responses[winner_i].json()
    assert figures(winner) == (45000, 11250, 2953, 0, 36703)  # 33750 + round(2953.125)
    for i, u in enumerate(users):
        assert await order_count(factory, u.id) == (1 if i == winner_i else 0)  # losers: nothing written
    c, reds = await _coupon(factory, code)
    assert c.redeemed_count == 5 and [r.status for r in reds] == ["reserved"]

    async with db(factory) as s:
        status = await orders_service.expire_order(
            s, app_state.gateway, uuid.UUID(winner["order_id"]), force=True
        )
    assert status == "expired"
    c, reds = await _coupon(factory, code)
    assert c.redeemed_count == 4 and [r.status for r in reds] == ["released"]
    loser = users[(winner_i + 1) % 10]
    again = await create_ok(client, loser.headers, bundle_body(coupon_code=code))
    assert again["discount_cents"] == 11250
    c, _ = await _coupon(factory, code)
    assert c.redeemed_count == 5


async def test_once_per_user_coupon_one_user_concurrently(replicas, factory, new_user):
    """One user, a once-per-user coupon, five checkouts at once (two replicas): one reservation."""
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=10, max_per_user=1)
    user = await new_user()
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await replicas[i % 2].post(
            f"{API}/checkout/create", json=bundle_body(coupon_code=code), headers=user.headers
        )

    tasks = [asyncio.create_task(one(i)) for i in range(5)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 4})
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "COUPON_ALREADY_USED")
    _c, reds = await _coupon(factory, code)
    assert len(reds) == 1
