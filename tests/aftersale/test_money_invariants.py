"""Money never leaks (SPEC 11.3), with real concurrent requests (two API replicas, each with its
own connection pool; on PostgreSQL they truly run at once): N cancels of one booking; cancels
racing operator refunds racing Stripe refund events and the reconciler. Afterwards: never more
refunded per method than it paid, one slot release, one pass session back, the ledger balanced."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from tests.aftersale.helpers import CANCEL, around_the_clock, order_row, quarter_hour, refunds_of
from tests.checkout.helpers import API, bundle_body, create_ok, credit_state, db, pay_and_confirm
from tests.webhooks.test_webhooks import sign

from estuary_checkout.bookings.models import Booking, BookingEvent
from estuary_checkout.orders import reconciler
from estuary_checkout.passes.models import Pass
from estuary_checkout.workflows.models import OutboxMessage


async def _events(factory, booking_id: int) -> int:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return int(
            (
                await s.execute(
                    select(func.count())
                    .select_from(BookingEvent)
                    .where(BookingEvent.booking_id == booking_id)
                )
            ).scalar_one()
        )


async def _assert_books_balance(factory, order_id: str, user_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    order = await order_row(factory, order_id)
    refunds = await refunds_of(factory, order_id)
    own = [
        r for r in refunds if r.replaces_refund_id is None
    ]  # fallbacks reuse their failed refund's reservation
    by_source = Counter()
    for r in own:
        by_source[r.source] += r.amount_cents
    assert by_source["card"] == order.refund_from_card_cents <= order.total_cents
    assert by_source["credit"] == order.refund_from_credit_cents <= order.credits_applied_cents
    assert order.refunded_cents == sum(r.amount_cents for r in refunds if r.status == "succeeded")
    state = await credit_state(factory, user_id)
    assert state["balance"] == state["ledger_balance"] >= 0 and state["held"] == state["ledger_held"] >= 0
    return {"card": by_source["card"], "credit": by_source["credit"], "refund_rows": len(refunds)}


async def test_parallel_cancels_of_one_booking(replicas, factory, paid_order, report):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)), credit=1500, use_credits=True)
    booking_id = paid.booking_ids[0]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await replicas[i % 2].post(CANCEL.format(booking_id), json={}, headers=paid.headers)

    tasks = [asyncio.create_task(one(i)) for i in range(20)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses if r.status_code != 200]
    assert len({r.content for r in responses}) == 1
    sums = await _assert_books_balance(factory, paid.order_id, paid.user_id)
    order = await order_row(factory, paid.order_id)
    assert (sums["card"], sums["credit"], sums["refund_rows"]) == (order.total_cents, 1500, 2)
    assert await _events(factory, booking_id) == 1
    async with db(factory) as s:
        signals = (
            await s.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.workflow_id == f"booking-lifecycle-{booking_id}",
                    OutboxMessage.kind == "signal_workflow",
                )
            )
        ).scalar_one()
    assert signals == 1
    report(
        parallel_cancels=20,
        refund_rows=sums["refund_rows"],
        card=sums["card"],
        credit=sums["credit"],
        cancel_events=1,
    )


async def test_cancels_race_admin_refunds_stripe_events_and_the_reconciler(
    replicas, factory, paid_order, auth, stripe_emu, app_state, report
):
    stripe_emu.set_config(refund_delay_ms=40)  # card refunds start pending and settle while we race
    try:
        pid, sid = await around_the_clock(factory)
        starts = [quarter_hour(timedelta(days=3)), quarter_hour(timedelta(days=3, hours=3))]
        paid = await paid_order(pid, sid, *starts, credit=3000, use_credits=True)
        order = await order_row(factory, paid.order_id)
        admin = auth(roles=["admin"])
        gate, head_start = asyncio.Event(), asyncio.Event()
        pi = paid.created["payment_intent_id"]
        await replicas[0].get(
            f"{API}/credits/balance", headers=admin
        )  # the admin user exists before the race

        async def cancel(i: int, booking_id: int):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await replicas[i % 2].post(CANCEL.format(booking_id), json={}, headers=paid.headers)

        async def refund(i: int, to: str):  # type: ignore[no-untyped-def]
            await head_start.wait()
            return await replicas[i % 2].post(
                f"{API}/admin/orders/{paid.order_id}/refunds",
                json={"amount_cents": 2500, "to": to, "reason": "service_issue"},
                headers={**admin, "Idempotency-Key": f"race-{to}-{i}"},
            )

        async def event(i: int):  # type: ignore[no-untyped-def]
            await gate.wait()
            body = json.dumps(
                {
                    "id": f"evt_race_{uuid.uuid4().hex}",
                    "type": "charge.refunded",
                    "data": {"object": {"id": f"ch_{i}", "object": "charge", "payment_intent": pi}},
                }
            ).encode()
            return await replicas[i % 2].post(
                f"{API}/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": sign(body), "content-type": "application/json"},
            )

        async def reconcile():  # type: ignore[no-untyped-def]
            await gate.wait()
            return await reconciler.refunds_pending(
                app_state.session_factory, app_state.gateway, older_than=timedelta(0)
            )

        work = (
            [cancel(i, paid.booking_ids[i % 2]) for i in range(10)]
            + [refund(i, "card" if i % 2 else "credit") for i in range(8)]
            + [event(i) for i in range(6)]
            + [reconcile() for _ in range(3)]
        )
        random.Random(7).shuffle(work)  # interleaved: refunds and cancels each win some of the race
        tasks = [asyncio.create_task(w) for w in work]
        await asyncio.sleep(0)
        head_start.set()  # operator refunds a moment ahead (their idempotency record costs a commit)
        await asyncio.sleep(0.005)
        gate.set()
        results = await asyncio.gather(*tasks)
        http = [r for r in results if not isinstance(r, dict)]
        codes = Counter(r.status_code for r in http)
        assert all(c < 500 for c in codes), [r.text for r in http if r.status_code >= 500]
        refused = {r.json()["code"] for r in http if r.status_code >= 400}
        assert refused <= {"REFUND_EXCEEDS_REFUNDABLE"}, refused

        # let Stripe settle everything, then the events/reconciler catch up
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await reconciler.refunds_pending(
                app_state.session_factory, app_state.gateway, older_than=timedelta(0)
            )
            if all(r.status != "pending" for r in await refunds_of(factory, paid.order_id)):
                break
            await asyncio.sleep(0.1)
        sums = await _assert_books_balance(factory, paid.order_id, paid.user_id)
        assert sums["card"] <= order.total_cents and sums["credit"] <= 3000
        for booking_id in paid.booking_ids:
            assert await _events(factory, booking_id) == 1  # each slot released once
        async with db(factory) as s:
            statuses = {(await s.get(Booking, b)).status for b in paid.booking_ids}
        assert statuses == {"canceled"}
        report(
            requests=dict(codes),
            card_refunded=sums["card"],
            card_paid=order.total_cents,
            credit_refunded=sums["credit"],
            credit_paid=3000,
            refund_rows=sums["refund_rows"],
        )
    finally:
        stripe_emu.set_config(refund_delay_ms=0)


async def test_pass_session_comes_back_once(replicas, factory, new_user, client, stripe_api_base, report):
    buyer = await new_user()
    created = await create_ok(client, buyer.headers, bundle_body())
    await pay_and_confirm(client, buyer.headers, created, stripe_api_base)
    start = quarter_hour(timedelta(days=11)).replace(hour=10, minute=0)
    booked = await create_ok(
        client,
        buyer.headers,
        {
            "checkout_type": "single_session",
            "items": [
                {
                    "service_id": 123,
                    "practitioner_id": 456,
                    "start_time": start.isoformat(),
                    "end_time": (start + timedelta(hours=1)).isoformat(),
                }
            ],
        },
    )
    async with db(factory) as s:
        booking_id = (
            await s.execute(select(Booking.id).where(Booking.order_id == uuid.UUID(booked["order_id"])))
        ).scalar_one()
    responses = await asyncio.gather(
        *(replicas[i % 2].post(CANCEL.format(booking_id), json={}, headers=buyer.headers) for i in range(12))
    )
    assert {r.status_code for r in responses} == {200}
    assert all(r.json()["pass_session_returned"] for r in responses)
    async with db(factory) as s:
        used = (await s.execute(select(Pass.sessions_used).where(Pass.user_id == buyer.id))).scalar_one()
    assert used == 0
    report(parallel_cancels=12, pass_sessions_used_after=used)
