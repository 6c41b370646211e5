"""SPEC 9's reliability invariants under real concurrency: N requests released together, each with
its own database connection; every test prints what it saw and asserts the invariant."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

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
from tests.webhooks.test_webhooks import deliver, stripe_event

from estuary_checkout.bookings.models import Booking
from estuary_checkout.coupons.models import Coupon, CouponRedemption
from estuary_checkout.credits import repository as credits_repo
from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.orders import reconciler
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders.models import Order
from estuary_checkout.users.models import User
from estuary_checkout.workflows.models import OutboxMessage


def _h(make_token, user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {make_token(user.external_id)}"}


async def test_no_slot_is_ever_booked_twice(rclient, session, make_token, open_state, report):
    pid, sid = await make_practitioner(session)
    users = [await make_user(session) for _ in range(50)]
    await session.commit()
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid)
    results = await asyncio.gather(
        *(rclient.post(f"{API}/checkout/create", json=body, headers=_h(make_token, u)) for u in users)
    )
    codes = Counter(r.status_code for r in results)
    assert codes == {201: 1, 409: 49}, codes
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"SLOT_UNAVAILABLE"}

    # back-to-back slots on both sides both succeed
    from datetime import datetime, timedelta

    s0 = datetime.fromisoformat(start)
    before = session_body((s0 - timedelta(hours=1)).isoformat(), start, service_id=sid, practitioner_id=pid)
    after = session_body(end, (s0 + timedelta(hours=2)).isoformat(), service_id=sid, practitioner_id=pid)
    adjacent = await asyncio.gather(
        rclient.post(f"{API}/checkout/create", json=before, headers=_h(make_token, users[1])),
        rclient.post(f"{API}/checkout/create", json=after, headers=_h(make_token, users[2])),
    )
    assert [r.status_code for r in adjacent] == [201, 201]

    # once the winner's hold is canceled (expiry), the slot is free again; 20 race for it
    winner = next(r.json() for r in results if r.status_code == 201)
    async with open_state.session_factory() as s:
        assert (
            await orders_service.expire_order(
                s, open_state.gateway, uuid.UUID(winner["order_id"]), force=True
            )
            == "expired"
        )
        await s.commit()
    again = await asyncio.gather(
        *(rclient.post(f"{API}/checkout/create", json=body, headers=_h(make_token, u)) for u in users[10:30])
    )
    codes_again = Counter(r.status_code for r in again)
    assert codes_again == {201: 1, 409: 19}, codes_again
    async with open_state.session_factory() as s:
        blocking = (
            await s.execute(
                select(func.count())
                .select_from(Booking)
                .where(
                    Booking.practitioner_id == pid,
                    Booking.start_at == s0,
                    Booking.status.in_(("pending_payment", "confirmed")),
                )
            )
        ).scalar_one()
    assert blocking == 1
    report(
        concurrent_creates=50,
        winners=codes[201],
        slot_unavailable=codes[409],
        adjacent_ok=2,
        after_cancel_winners=codes_again[201],
        blocking_bookings=blocking,
    )


async def test_credit_never_negative_and_ledger_matches(rclient, session, make_token, open_state, report):
    pid, sid = await make_practitioner(session, price=1000)
    user = await make_user(session, credit=1200)  # covers one 1000 + 88 tax order, not two
    await session.commit()
    h = _h(make_token, user)
    bodies = [
        session_body(*future_slot(), service_id=sid, practitioner_id=pid, use_credits=True) for _ in range(20)
    ]
    results = await asyncio.gather(
        *(rclient.post(f"{API}/checkout/create", json=b, headers=h) for b in bodies)
    )
    ok = [r.json() for r in results if r.status_code == 201]
    applied = [o["credits_applied_cents"] for o in ok]
    async with open_state.session_factory() as s:
        bal = await credits_repo.get_balance(s, user.id, "usd")
        sums = await credits_repo.ledger_sums(s, user.id, "usd")
        captured = (
            await s.execute(
                select(func.coalesce(func.sum(CreditLedgerEntry.amount_cents), 0)).where(
                    CreditLedgerEntry.user_id == user.id, CreditLedgerEntry.kind == "capture"
                )
            )
        ).scalar_one()
    assert bal is not None and bal.balance_cents >= 0 and bal.held_cents >= 0
    assert sum(applied) <= 1200
    assert (bal.balance_cents, bal.held_cents) == sums
    # every cent is accounted for: spendable + held by unpaid orders + spent by paid ones
    assert bal.balance_cents + bal.held_cents + captured == 1200
    assert bal.held_cents + captured == sum(applied)
    report(
        concurrent_credit_checkouts=20,
        created=len(ok),
        credit_applied_total=sum(applied),
        orders_with_credit=sum(1 for a in applied if a),
        balance=bal.balance_cents,
        held=bal.held_cents,
        captured=captured,
        ledger_balance=sums[0],
        ledger_held=sums[1],
    )


async def test_coupon_never_exceeds_its_limit_and_nobody_is_charged_then_rejected(
    rclient, session, make_token, open_state, report
):
    pid, sid = await make_practitioner(session)
    code = await make_coupon(session, max_redemptions=1)
    users = [await make_user(session) for _ in range(20)]
    await session.commit()
    results = await asyncio.gather(
        *(
            rclient.post(
                f"{API}/checkout/create",
                json=session_body(*future_slot(), service_id=sid, practitioner_id=pid, coupon_code=code),
                headers=_h(make_token, u),
            )
            for u in users
        )
    )
    codes = Counter(r.status_code for r in results)
    async with open_state.session_factory() as s:
        coupon = (await s.execute(select(Coupon).where(Coupon.code == code))).scalar_one()
        redemptions = (
            await s.execute(
                select(func.count())
                .select_from(CouponRedemption)
                .where(CouponRedemption.coupon_id == coupon.id, CouponRedemption.status != "released")
            )
        ).scalar_one()
        losers = [u.id for u, r in zip(users, results, strict=True) if r.status_code != 201]
        loser_orders = (
            await s.execute(select(func.count()).select_from(Order).where(Order.user_id.in_(losers)))
        ).scalar_one()
        loser_customers = (
            await s.execute(
                select(func.count())
                .select_from(User)
                .where(User.id.in_(losers), User.stripe_customer_id.is_not(None))
            )
        ).scalar_one()
    assert codes[201] == 1 and coupon.redeemed_count == 1 and redemptions == 1
    assert {r.json()["code"] for r in results if r.status_code != 201} <= {"COUPON_EXHAUSTED"}
    # losers were rejected before any Stripe call: no order, not even a Stripe customer
    assert loser_orders == 0 and loser_customers == 0
    report(
        concurrent_redemptions=20,
        winners=codes[201],
        rejected=sum(v for k, v in codes.items() if k != 201),
        redeemed_count=coupon.redeemed_count,
        losers_reaching_stripe=loser_customers,
    )


async def test_one_payment_one_fulfilment(rclient, session, make_token, open_state, stripe_api_base, report):
    pid, sid = await make_practitioner(session)
    user = await make_user(session, credit=700)
    await session.commit()
    h = _h(make_token, user)
    created = (
        await rclient.post(
            f"{API}/checkout/create",
            json=session_body(*future_slot(), service_id=sid, practitioner_id=pid, use_credits=True),
            headers=h,
        )
    ).json()
    await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
    event = await stripe_event(stripe_api_base, "payment_intent.succeeded", created["payment_intent_id"])
    from datetime import timedelta

    async def reconcile():  # type: ignore[no-untyped-def]
        return await reconciler.reconcile(
            open_state.session_factory, open_state.gateway, older_than=timedelta(0)
        )

    confirms = [
        rclient.post(
            f"{API}/payment/confirm", json={"payment_intent_id": created["payment_intent_id"]}, headers=h
        )
        for _ in range(20)
    ]
    hooks = [deliver(rclient, {**event, "id": f"{event['id']}_{i}"}) for i in range(10)]
    out = await asyncio.gather(*confirms, *hooks, reconcile())
    confirm_bodies = {r.text for r in out[:20]}
    assert all(r.status_code == 200 for r in out[:30]), [r.text for r in out[:30] if r.status_code != 200]
    order_id = uuid.UUID(created["order_id"])
    async with open_state.session_factory() as s:
        order = await s.get(Order, order_id)
        bookings = (await s.execute(select(Booking).where(Booking.order_id == order_id))).scalars().all()
        captures = (
            await s.execute(
                select(func.count())
                .select_from(CreditLedgerEntry)
                .where(CreditLedgerEntry.order_id == order_id, CreditLedgerEntry.kind == "capture")
            )
        ).scalar_one()
        starts = (
            await s.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.workflow_id.in_([f"booking-lifecycle-{b.id}" for b in bookings]))
            )
        ).scalar_one()
    assert order.status == "completed"
    assert len(bookings) == 1 and bookings[0].status == "confirmed"
    assert captures == 1 and starts == 1
    assert len(confirm_bodies) == 1  # every confirm answered the same
    report(
        confirms=20,
        webhooks=10,
        reconciler_passes=1,
        order=order.status,
        bookings=len(bookings),
        credit_captures=captures,
        workflow_starts=starts,
        distinct_confirm_responses=len(confirm_bodies),
    )


async def test_webhook_permutations_never_move_a_paid_order_backwards(
    rclient, session, make_token, open_state, stripe_api_base, report
):
    pid, sid = await make_practitioner(session)
    user = await make_user(session)
    await session.commit()
    h = _h(make_token, user)
    seen = []
    for perm in (
        ("failed", "succeeded", "canceled"),
        ("succeeded", "failed", "canceled"),
        ("canceled", "failed", "succeeded"),
    ):
        created = (
            await rclient.post(
                f"{API}/checkout/create",
                json=session_body(*future_slot(), service_id=sid, practitioner_id=pid),
                headers=h,
            )
        ).json()
        await pay_in_browser(stripe_api_base, created["payment_intent_id"], created["client_secret"])
        ok = await stripe_event(stripe_api_base, "payment_intent.succeeded", created["payment_intent_id"])
        events = {
            "succeeded": ok,
            "failed": {**ok, "id": ok["id"] + "_f", "type": "payment_intent.payment_failed"},
            "canceled": {**ok, "id": ok["id"] + "_c", "type": "payment_intent.canceled"},
        }
        for name in perm:
            assert (await deliver(rclient, events[name])).status_code == 200
        status = (
            await rclient.post(f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=h)
        ).json()["status"]
        seen.append(status)
    assert seen == ["completed"] * 3
    report(permutations=3, final_statuses=seen)


async def test_same_idempotency_key_ten_times_at_once_runs_once(
    rclient, session, make_token, open_state, report
):
    pid, sid = await make_practitioner(session)
    user = await make_user(session)
    await session.commit()
    h = {**_h(make_token, user), "Idempotency-Key": f"rel-{uuid.uuid4().hex}"}
    body = session_body(*future_slot(), service_id=sid, practitioner_id=pid)
    results = await asyncio.gather(
        *(rclient.post(f"{API}/checkout/create", json=body, headers=h) for _ in range(10))
    )
    codes = Counter(r.status_code for r in results)
    bodies = {r.content for r in results if r.status_code == 201}
    async with open_state.session_factory() as s:
        orders = (
            await s.execute(select(func.count()).select_from(Order).where(Order.user_id == user.id))
        ).scalar_one()
    assert orders == 1 and len(bodies) == 1
    assert set(codes) <= {201, 409}
    assert all(r.json()["code"] == "IDEMPOTENCY_IN_PROGRESS" for r in results if r.status_code == 409)
    replay = await rclient.post(f"{API}/checkout/create", json=body, headers=h)
    assert replay.status_code == 201 and replay.content in bodies
    report(same_key_requests=10, created=codes[201], in_progress_409=codes[409], orders=orders)
