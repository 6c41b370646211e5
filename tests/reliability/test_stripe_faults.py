"""Stripe faults (500s, dropped connections, timeouts, replies lost after the work was done) under
concurrent checkouts: every order ends consistent, nothing is half-made, no payment is lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest
import stripe
from sqlalchemy import func, select
from tests.checkout.helpers import (
    API,
    future_slot,
    make_coupon,
    make_practitioner,
    make_user,
    pay_in_browser,
    session_body,
)

from estuary_checkout.app import create_app
from estuary_checkout.bookings.models import Booking
from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.credits import repository as credits_repo
from estuary_checkout.orders import reconciler
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders.models import Order
from estuary_checkout.state import AppState

# only the service's own calls fail; the browser's confirm goes through
SERVICE_CALLS = r"^(POST /v1/customers$|POST /v1/payment_intents$|GET /v1/payment_intents/[^/]+$|POST /v1/payment_intents/[^/]+/cancel$)"
PHASES = {
    "500s": {"error_rate": 0.3, "error_status": 500},
    "dropped": {"drop_rate": 0.3},
    "timeouts": {"latency_ms": 1500, "count": 12},
    "lost_replies": {"error_rate": 0.3, "phase": "after"},
}


@pytest.fixture
async def faulty_state(settings):  # type: ignore[no-untyped-def]
    s = settings.model_copy(
        update={
            "max_pending_orders": 1000,
            "rate_limit_per_minute": 100_000,
            "stripe_timeout_seconds": 1.0,
            "stripe_max_network_retries": 1,
        }
    )
    state = AppState.build(s)
    yield state
    await state.aclose()


async def test_faults_leave_every_order_consistent(faulty_state, session, make_token, stripe_emu, report):
    pid, sid = await make_practitioner(session)
    code = await make_coupon(session, max_redemptions=1000)
    users = [await make_user(session, credit=300) for _ in range(52)]
    await session.commit()
    app = create_app(faulty_state.settings, state=faulty_state)
    seen: Counter[str] = Counter()
    created: dict[int, dict] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60
    ) as c:
        groups = [users[i::4] for i in range(4)]
        for (phase, faults), group in zip(PHASES.items(), groups, strict=True):
            stripe_emu.set_faults(route=SERVICE_CALLS, **faults)
            try:
                results = await asyncio.gather(
                    *(
                        c.post(
                            f"{API}/checkout/create",
                            json=session_body(
                                *future_slot(),
                                service_id=sid,
                                practitioner_id=pid,
                                use_credits=True,
                                coupon_code=code,
                            ),
                            headers={"Authorization": f"Bearer {make_token(u.external_id)}"},
                        )
                        for u in group
                    )
                )
                for u, r in zip(group, results, strict=True):
                    seen[f"{phase}:create_{r.status_code}"] += 1
                    assert r.status_code in (201, 503), r.text
                    if r.status_code == 503:
                        assert r.json()["code"] == "PAYMENT_PROVIDER_UNAVAILABLE"
                    else:
                        created[u.id] = r.json()
                # half of the created orders get paid in the browser; confirms run under the same faults
                to_pay = [(u, created[u.id]) for u in group if u.id in created][::2]
                for _u, o in to_pay:
                    await pay_in_browser(stripe_emu.url, o["payment_intent_id"], o["client_secret"])
                confirms = await asyncio.gather(
                    *(
                        c.post(
                            f"{API}/payment/confirm",
                            json={"payment_intent_id": o["payment_intent_id"]},
                            headers={"Authorization": f"Bearer {make_token(u.external_id)}"},
                        )
                        for u, o in to_pay
                    )
                )
                for r in confirms:
                    seen[f"{phase}:confirm_{r.status_code}"] += 1
                    assert r.status_code in (200, 503), r.text
            finally:
                stripe_emu.clear_faults()

    # faults gone: the reconciler picks up paid orders whose confirm failed, expiry ends the rest
    counts = await reconciler.reconcile(
        faulty_state.session_factory, faulty_state.gateway, older_than=timedelta(0)
    )
    async with faulty_state.session_factory() as s:
        open_ids = (
            (
                await s.execute(
                    select(Order.id).where(
                        Order.user_id.in_([u.id for u in users]),
                        Order.status.in_(("pending_payment", "processing")),
                    )
                )
            )
            .scalars()
            .all()
        )
    for oid in open_ids:
        async with faulty_state.session_factory() as s:
            await orders_service.expire_order(s, faulty_state.gateway, oid, force=True)
            await s.commit()

    sk = stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": stripe_emu.url}, http_client=stripe.HTTPXClient()
    )
    async with faulty_state.session_factory() as s:
        orders = (
            (await s.execute(select(Order).where(Order.user_id.in_([u.id for u in users])))).scalars().all()
        )
        statuses = Counter(o.status for o in orders)
        assert set(statuses) <= {"completed", "expired"}, statuses
        for o in orders:
            pi = await sk.v1.payment_intents.retrieve_async(o.payment_intent_id)
            bookings = (
                (await s.execute(select(Booking.status).where(Booking.order_id == o.id))).scalars().all()
            )
            if o.status == "completed":
                assert pi.status == "succeeded" and bookings == ["confirmed"]
            else:
                assert pi.status == "canceled" and bookings == ["canceled"]
        for u in users:
            bal = await credits_repo.get_balance(s, u.id, "usd")
            assert (bal.balance_cents, bal.held_cents) == await credits_repo.ledger_sums(s, u.id, "usd")
            assert bal.held_cents == 0
            mine = [o for o in orders if o.user_id == u.id]
            spent = sum(o.credits_applied_cents for o in mine if o.status == "completed")
            assert bal.balance_cents == 300 - spent
        coupon = (await s.execute(select(Coupon).where(Coupon.code == code))).scalar_one()
        final = (
            await s.execute(
                select(func.count())
                .select_from(CouponRedemption)
                .where(CouponRedemption.coupon_id == coupon.id, CouponRedemption.status == "final")
            )
        ).scalar_one()
        assert coupon.redeemed_count == final == statuses["completed"]
        # no payment lost: every succeeded intent at Stripe for these users belongs to a completed order
        by_pi = {o.payment_intent_id: o for o in orders}
        for u in users:
            if u.id in created:
                pi_id = created[u.id]["payment_intent_id"]
                pi = await sk.v1.payment_intents.retrieve_async(pi_id)
                if pi.status == "succeeded":
                    assert by_pi[pi_id].status == "completed"
    report(
        users=len(users),
        **dict(sorted(seen.items())),
        reconciler=counts,
        final=dict(statuses),
        coupon_redeemed=coupon.redeemed_count,
        orders_without_intent=sum(1 for o in orders if not o.payment_intent_id),
    )
