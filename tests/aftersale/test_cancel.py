"""A client cancels a paid booking (SPEC 11.2): the policy it was booked under, its exact paid
share back to card and credit, the slot and the pass session back, a second call moving nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from tests.aftersale.helpers import (
    CANCEL,
    around_the_clock,
    lines_of,
    order_row,
    quarter_hour,
    refunds_of,
)
from tests.checkout.helpers import (
    API,
    assert_error,
    bundle_body,
    create_ok,
    credit_state,
    db,
    make_coupon,
    pay_and_confirm,
)

from estuary_checkout.bookings.models import Booking, BookingEvent
from estuary_checkout.passes.models import Pass
from estuary_checkout.workflows.models import OutboxMessage


async def test_early_cancel_gives_the_whole_share_back(client, factory, paid_order, stripe_api_base):
    pid, sid = await around_the_clock(factory)
    start = quarter_hour(timedelta(days=3))
    paid = await paid_order(pid, sid, start, credit=2000, use_credits=True)
    order = await order_row(factory, paid.order_id)
    assert (order.total_cents, order.credits_applied_cents) == (8875, 2000)
    booking_id = paid.booking_ids[0]

    r = await client.post(CANCEL.format(booking_id), json={"reason": "plans changed"}, headers=paid.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "canceled" and body["booking_id"] == booking_id
    assert (body["refund"]["card_cents"], body["refund"]["credit_cents"]) == (8875, 2000)
    assert body["pass_session_returned"] is False
    refunds = await refunds_of(factory, paid.order_id)
    assert {(r.destination, r.source, r.amount_cents, r.status) for r in refunds} == {
        ("card", "card", 8875, "succeeded"),
        ("credit", "credit", 2000, "succeeded"),
    }
    assert [r.id for r in refunds] == body["refund"]["refund_ids"]
    assert all(r.stripe_refund_id for r in refunds if r.destination == "card")
    order = await order_row(factory, paid.order_id)
    assert (order.status, order.refunded_cents) == ("refunded", 10875)
    assert (order.refund_from_card_cents, order.refund_from_credit_cents) == (8875, 2000)
    credits = await credit_state(factory, paid.user_id)
    assert credits["balance"] == 2000 == credits["ledger_balance"] and credits["held"] == 0

    # the slot is free again (listed, and another client can book it)
    listed = await client.get(
        f"{API}/catalog/availability",
        params={
            "service_id": sid,
            "from": start.isoformat(),
            "to": (start + timedelta(minutes=1)).isoformat(),
        },
        headers=paid.headers,
    )
    assert [s["start_time"] for s in listed.json()["slots"]] == [start.isoformat().replace("+00:00", "Z")]

    # the lifecycle workflow is told, once
    async with db(factory) as s:
        signals = list(
            (
                await s.execute(
                    select(OutboxMessage).where(
                        OutboxMessage.workflow_id == f"booking-lifecycle-{booking_id}"
                    )
                )
            ).scalars()
        )
        events = (
            await s.execute(
                select(func.count()).select_from(BookingEvent).where(BookingEvent.booking_id == booking_id)
            )
        ).scalar_one()
    assert [(m.kind, m.signal_name, m.payload) for m in signals if m.kind == "signal_workflow"] == [
        ("signal_workflow", "cancel", {"args": ["plans changed"]})
    ]
    assert events == 1

    # again: the same answer, nothing moved
    again = await client.post(CANCEL.format(booking_id), json={}, headers=paid.headers)
    assert again.status_code == 200 and again.json() == body
    assert len(await refunds_of(factory, paid.order_id)) == 2
    assert await credit_state(factory, paid.user_id) == credits


async def test_refund_to_credit_sends_everything_to_store_credit(client, factory, paid_order):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=2)))
    r = await client.post(
        CANCEL.format(paid.booking_ids[0]), json={"refund_to": "credit"}, headers=paid.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["refund"]["card_cents"] == 0 and r.json()["refund"]["credit_cents"] == 10875
    (refund,) = await refunds_of(factory, paid.order_id)
    assert (refund.source, refund.destination, refund.stripe_refund_id) == ("card", "credit", None)
    assert (await credit_state(factory, paid.user_id))["balance"] == 10875


async def test_late_cancel_follows_the_policy_snapshotted_at_booking(
    client, factory, paid_order, policy_client
):
    """Booked while the late-cancel refund was 50 %; the setting is 0 % when the client cancels
    (the suite's app): the booking keeps its 50 %."""
    pid, sid = await around_the_clock(factory)
    generous = await policy_client(late_cancel_refund_percent=50)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(hours=5)), api=generous)
    async with db(factory) as s:
        booking = await s.get(Booking, paid.booking_ids[0])
        assert (booking.policy_full_refund_hours, booking.policy_late_cancel_refund_percent) == (24, 50)
    r = await client.post(CANCEL.format(booking.id), json={}, headers=paid.headers)
    assert r.status_code == 200, r.text
    assert r.json()["refund"] == {
        "card_cents": 5438,
        "credit_cents": 0,
        "refund_ids": r.json()["refund"]["refund_ids"],
    }
    order = await order_row(factory, paid.order_id)
    assert (order.status, order.refunded_cents) == ("partially_refunded", 5438)

    # under the suite's own policy (0 % late), a late cancel gives nothing back
    stingy = await paid_order(pid, sid, quarter_hour(timedelta(hours=8)))
    r = await client.post(CANCEL.format(stingy.booking_ids[0]), json={}, headers=stingy.headers)
    assert r.status_code == 200 and r.json()["refund"] == {
        "card_cents": 0,
        "credit_cents": 0,
        "refund_ids": [],
    }
    assert (await order_row(factory, stingy.order_id)).status == "completed"


async def test_cancel_at_or_after_start_is_refused(client, factory, paid_order):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=2)))
    past = datetime.now(UTC) - timedelta(minutes=10)
    async with db(factory) as s:
        await s.execute(
            update(Booking)
            .where(Booking.id == paid.booking_ids[0])
            .values(start_at=past, end_at=past + timedelta(hours=1), blocked_until=past + timedelta(hours=1))
        )
    r = await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=paid.headers)
    assert_error(r, 409, "CANCEL_WINDOW_CLOSED")
    assert await refunds_of(factory, paid.order_id) == []


async def test_unpaid_booking_and_other_users_booking(client, factory, new_user, paid_order):
    pid, sid = await around_the_clock(factory)
    user = await new_user()
    start = quarter_hour(timedelta(days=4))
    created = await create_ok(
        client,
        user.headers,
        {
            "checkout_type": "single_session",
            "items": [
                {
                    "service_id": sid,
                    "practitioner_id": pid,
                    "start_time": start.isoformat(),
                    "end_time": (start + timedelta(hours=1)).isoformat(),
                }
            ],
        },
    )
    async with db(factory) as s:
        pending_id = (
            await s.execute(select(Booking.id).where(Booking.order_id == uuid.UUID(created["order_id"])))
        ).scalar_one()
    assert_error(
        await client.post(CANCEL.format(pending_id), json={}, headers=user.headers),
        409,
        "BOOKING_NOT_CANCELABLE",
    )

    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=5)))
    missing = await client.post(CANCEL.format(2**40), json={}, headers=user.headers)
    theirs = await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=user.headers)
    assert_error(theirs, 404, "BOOKING_NOT_FOUND")
    assert (
        theirs.json()["error"] == missing.json()["error"] and theirs.json()["code"] == missing.json()["code"]
    )
    assert await refunds_of(factory, paid.order_id) == []


async def test_bad_bodies(client, factory, paid_order):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=6)))
    url = CANCEL.format(paid.booking_ids[0])
    for body, field in (
        ({"refund_to": "cash"}, "refund_to"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": ""}, "reason"),
        ({"amount_cents": 100}, "amount_cents"),
    ):
        r = await client.post(url, json=body, headers=paid.headers)
        assert_error(r, 422, "VALIDATION_ERROR")
        assert r.json()["details"]["field"] == field
    assert await refunds_of(factory, paid.order_id) == []
    assert_error(await client.post(url, json={}), 401, "UNAUTHORIZED")


async def test_shares_of_a_multi_session_order_add_up(client, factory, paid_order, app_state):
    """Three sessions, a 10 % coupon and 1,234 of credit: each cancel gives back its line's share;
    all three together give back exactly what was paid, per method."""
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=10)
    pid, sid = await around_the_clock(factory, price=3333)
    starts = [quarter_hour(timedelta(days=3, hours=h)) for h in (0, 2, 4)]
    paid = await paid_order(pid, sid, *starts, credit=1234, use_credits=True, coupon=code)
    order = await order_row(factory, paid.order_id)
    lines = await lines_of(factory, paid.order_id)
    assert sum(ln.discount_share_cents for ln in lines) == order.discount_cents
    assert sum(ln.tax_share_cents for ln in lines) == order.tax_cents
    assert sum(ln.credit_share_cents for ln in lines) == order.credits_applied_cents == 1234
    assert sum(ln.card_share_cents for ln in lines) == order.total_cents
    card = credit = 0
    for booking_id, line in zip(paid.booking_ids, lines, strict=True):
        r = await client.post(CANCEL.format(booking_id), json={}, headers=paid.headers)
        assert r.status_code == 200, r.text
        assert (r.json()["refund"]["card_cents"], r.json()["refund"]["credit_cents"]) == (
            line.card_share_cents,
            line.credit_share_cents,
        )
        card += r.json()["refund"]["card_cents"]
        credit += r.json()["refund"]["credit_cents"]
    order = await order_row(factory, paid.order_id)
    assert (card, credit) == (order.total_cents, order.credits_applied_cents)
    assert (order.status, order.refunded_cents) == (
        "refunded",
        order.total_cents + order.credits_applied_cents,
    )


async def test_pass_session_back_early_forfeited_late(client, factory, new_user, stripe_api_base):
    """Sessions covered by a bundle pass: canceled early, the session goes back on the pass;
    canceled late, it is used up. No money moves either way."""
    buyer = await new_user()
    created = await create_ok(client, buyer.headers, bundle_body())
    await pay_and_confirm(client, buyer.headers, created, stripe_api_base)

    async def book(start: datetime) -> int:
        body = {
            "checkout_type": "single_session",
            "items": [
                {
                    "service_id": 123,
                    "practitioner_id": 456,
                    "start_time": start.isoformat(),
                    "end_time": (start + timedelta(hours=1)).isoformat(),
                }
            ],
        }
        done = await create_ok(client, buyer.headers, body)
        assert done["total_cents"] == 0 and done["status"] == "completed"
        async with db(factory) as s:
            return (
                await s.execute(select(Booking.id).where(Booking.order_id == uuid.UUID(done["order_id"])))
            ).scalar_one()

    async def used() -> int:
        async with db(factory) as s:
            return (await s.execute(select(Pass.sessions_used).where(Pass.user_id == buyer.id))).scalar_one()

    day = (datetime.now(UTC) + timedelta(days=9)).date()
    early = await book(datetime(day.year, day.month, day.day, 10, tzinfo=UTC))
    assert await used() == 1
    r = await client.post(CANCEL.format(early), json={}, headers=buyer.headers)
    assert r.json()["pass_session_returned"] is True and r.json()["refund"]["refund_ids"] == []
    assert await used() == 0
    async with db(factory) as s:  # nothing was paid for it, so nothing was "refunded"
        covered = (await s.execute(select(Booking.order_id).where(Booking.id == early))).scalar_one()
    assert (await order_row(factory, str(covered))).status == "completed"
    assert (await client.post(CANCEL.format(early), json={}, headers=buyer.headers)).json()[
        "pass_session_returned"
    ] is True
    assert await used() == 0  # once

    now = datetime.now(UTC)
    soon = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    if not 8 <= soon.hour < 19:  # Maya works 08:00–20:00 UTC
        return
    late = await book(soon)
    r = await client.post(CANCEL.format(late), json={}, headers=buyer.headers)
    assert r.json()["pass_session_returned"] is False
    assert await used() == 1
