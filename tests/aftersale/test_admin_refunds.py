"""An operator refunds an order (SPEC 11.4): to the card or as credit, partial or full, never
more than each method has left, replay-safe, optionally canceling bookings."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.aftersale.helpers import around_the_clock, order_row, quarter_hour, refunds_of
from tests.checkout.helpers import API, assert_error, create_ok, credit_state, db

from estuary_checkout.bookings.models import Booking

REFUNDS = API + "/admin/orders/{}/refunds"


def _admin(auth, key: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    h = auth(roles=["admin"])
    return {**h, "Idempotency-Key": key or uuid.uuid4().hex}


async def test_partial_to_card_then_the_rest_as_credit(client, factory, paid_order, auth):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)), credit=2000, use_credits=True)
    url = REFUNDS.format(paid.order_id)
    r = await client.post(
        url,
        json={"amount_cents": 3000, "to": "card", "reason": "service_issue", "note": "late start"},
        headers=_admin(auth),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "partially_refunded" and body["refunded_cents"] == 3000
    assert body["refundable"] == {"card_cents": 5875, "credit_cents": 2000}
    assert [(x["amount_cents"], x["to"], x["status"], x["reason"]) for x in body["refunds"]] == [
        (3000, "card", "succeeded", "service_issue")
    ]

    # more than the card has left, to the card: refused with what is left, nothing moved
    r = await client.post(
        url, json={"amount_cents": 5876, "to": "card", "reason": "other"}, headers=_admin(auth)
    )
    err = assert_error(r, 422, "REFUND_EXCEEDS_REFUNDABLE")
    assert err["details"]["refundable"] == {"card_cents": 5875, "credit_cents": 2000}

    # to credit: what credit paid first, then what the card paid, all as store credit
    r = await client.post(
        url,
        json={"amount_cents": 7875, "to": "credit", "reason": "requested_by_customer"},
        headers=_admin(auth),
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "refunded" and r.json()["refundable"] == {"card_cents": 0, "credit_cents": 0}
    refunds = await refunds_of(factory, paid.order_id)
    assert sorted((x.source, x.destination, x.amount_cents) for x in refunds) == [
        ("card", "card", 3000),
        ("card", "credit", 5875),
        ("credit", "credit", 2000),
    ]
    order = await order_row(factory, paid.order_id)
    assert (order.refund_from_card_cents, order.refund_from_credit_cents, order.refunded_cents) == (
        8875,
        2000,
        10875,
    )
    assert (await credit_state(factory, paid.user_id))["balance"] == 7875
    assert_error(
        await client.post(
            url, json={"amount_cents": 1, "to": "credit", "reason": "other"}, headers=_admin(auth)
        ),
        422,
        "REFUND_EXCEEDS_REFUNDABLE",
    )


async def test_replay_with_the_same_key_moves_nothing(client, factory, paid_order, auth):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
    headers = _admin(auth)
    body = {"amount_cents": 1000, "to": "card", "reason": "duplicate"}
    first = await client.post(REFUNDS.format(paid.order_id), json=body, headers=headers)
    second = await client.post(REFUNDS.format(paid.order_id), json=body, headers=headers)
    assert first.status_code == second.status_code == 201 and first.content == second.content
    assert len(await refunds_of(factory, paid.order_id)) == 1
    other = await client.post(
        REFUNDS.format(paid.order_id), json={**body, "amount_cents": 2000}, headers=headers
    )
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert (await order_row(factory, paid.order_id)).refund_from_card_cents == 1000


async def test_bad_requests(client, factory, paid_order, auth, new_user):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
    url = REFUNDS.format(paid.order_id)
    ok = {"amount_cents": 100, "to": "card", "reason": "other"}
    no_key = auth(roles=["admin"])
    r = await client.post(url, json=ok, headers=no_key)
    assert_error(r, 422, "VALIDATION_ERROR")
    assert r.json()["details"]["field"] == "Idempotency-Key"
    for body, field in (
        ({**ok, "amount_cents": 0}, "amount_cents"),
        ({**ok, "amount_cents": -5}, "amount_cents"),
        ({**ok, "reason": "because"}, "reason"),
        ({**ok, "to": "cash"}, "to"),
        ({**ok, "note": ""}, "note"),
        ({**ok, "refunded_cents": 5}, "refunded_cents"),
    ):
        r = await client.post(url, json=body, headers=_admin(auth))
        assert_error(r, 422, "VALIDATION_ERROR")
        assert r.json()["details"]["field"] == field, r.text
    assert_error(
        await client.post(url, json=ok, headers={**auth(), "Idempotency-Key": "k1"}), 403, "FORBIDDEN"
    )
    assert_error(
        await client.post(REFUNDS.format(uuid.uuid4()), json=ok, headers=_admin(auth)), 404, "ORDER_NOT_FOUND"
    )
    assert_error(
        await client.post(API + "/admin/orders/not-a-uuid/refunds", json=ok, headers=_admin(auth)),
        422,
        "VALIDATION_ERROR",
    )
    # an unpaid order
    user = await new_user()
    start = quarter_hour(timedelta(days=6))
    pending = await create_ok(
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
    assert_error(
        await client.post(REFUNDS.format(pending["order_id"]), json=ok, headers=_admin(auth)),
        409,
        "ORDER_NOT_REFUNDABLE",
    )
    assert await refunds_of(factory, paid.order_id) == []


async def test_refund_that_cancels_bookings(client, factory, paid_order, auth):
    pid, sid = await around_the_clock(factory)
    starts = [quarter_hour(timedelta(days=3)), quarter_hour(timedelta(days=3, hours=2))]
    paid = await paid_order(pid, sid, *starts)
    other = await paid_order(pid, sid, quarter_hour(timedelta(days=4)))
    url = REFUNDS.format(paid.order_id)
    r = await client.post(
        url,
        json={
            "amount_cents": 500,
            "to": "card",
            "reason": "service_issue",
            "cancel_booking_ids": [other.booking_ids[0]],
        },
        headers=_admin(auth),
    )
    err = assert_error(r, 422, "BOOKING_NOT_IN_ORDER")
    assert err["details"]["field"] == "cancel_booking_ids[0]"
    r = await client.post(
        url,
        json={
            "amount_cents": 5000,
            "to": "card",
            "reason": "service_issue",
            "cancel_booking_ids": [paid.booking_ids[1]],
        },
        headers=_admin(auth),
    )
    assert r.status_code == 201, r.text
    assert r.json()["canceled_booking_ids"] == [paid.booking_ids[1]]
    async with db(factory) as s:
        statuses = [(await s.get(Booking, b)).status for b in paid.booking_ids]
        canceled = await s.get(Booking, paid.booking_ids[1])
    assert statuses == ["confirmed", "canceled"] and canceled.canceled_by == "admin"
    assert [x.amount_cents for x in await refunds_of(factory, paid.order_id)] == [5000]


async def test_operator_cancel_gives_the_whole_share_whatever_the_window(client, factory, paid_order, auth):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(hours=4)))  # late for a client
    r = await client.post(
        API + f"/admin/bookings/{paid.booking_ids[0]}/cancel",
        json={"reason": "practitioner is ill"},
        headers=auth(roles=["admin"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["refund"]["card_cents"] == 10875
    async with db(factory) as s:
        booking = await s.get(Booking, paid.booking_ids[0])
    assert (booking.canceled_by, booking.cancel_reason) == ("admin", "practitioner is ill")
    assert_error(
        await client.post(
            API + f"/admin/bookings/{paid.booking_ids[0]}/cancel", json={"reason": "x"}, headers=auth()
        ),
        403,
        "FORBIDDEN",
    )
    r = await client.post(
        API + f"/admin/bookings/{paid.booking_ids[0]}/cancel", json={}, headers=auth(roles=["admin"])
    )
    assert_error(r, 422, "VALIDATION_ERROR")
    assert_error(
        await client.post(
            API + f"/admin/bookings/{2**40}/cancel", json={"reason": "x"}, headers=auth(roles=["admin"])
        ),
        404,
        "BOOKING_NOT_FOUND",
    )


async def _audit(client, auth, entity: str, entity_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    r = await client.get(
        API + "/admin/audit", params={"entity": entity, "entity_id": entity_id}, headers=auth(roles=["admin"])
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_each_operator_money_write_has_one_audit_row(client, factory, paid_order, auth):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(
        pid, sid, quarter_hour(timedelta(days=3)), quarter_hour(timedelta(days=3, hours=2))
    )
    headers = _admin(auth)
    body = {
        "amount_cents": 1500,
        "to": "card",
        "reason": "service_issue",
        "cancel_booking_ids": [paid.booking_ids[1]],
    }
    first = await client.post(REFUNDS.format(paid.order_id), json=body, headers=headers)
    assert first.status_code == 201, first.text
    await client.post(REFUNDS.format(paid.order_id), json=body, headers=headers)  # a replay writes nothing
    refused = await client.post(
        REFUNDS.format(paid.order_id), json={**body, "amount_cents": 10**7}, headers=_admin(auth)
    )
    assert refused.status_code == 422
    (row,) = await _audit(client, auth, "order", paid.order_id)
    assert row["action"] == "refund" and row["before"]["refund_from_card_cents"] == 0
    assert row["after"]["refund_from_card_cents"] == 1500 and row["after"]["canceled_booking_ids"] == [
        paid.booking_ids[1]
    ]
    assert row["after"]["refund_ids"] == [x["refund_id"] for x in first.json()["refunds"]]
    assert row["request_id"]

    r = await client.post(
        API + f"/admin/bookings/{paid.booking_ids[0]}/cancel",
        json={"reason": "room flooded"},
        headers=auth(roles=["admin"]),
    )
    assert r.status_code == 200, r.text
    (row,) = await _audit(client, auth, "booking", str(paid.booking_ids[0]))
    assert (row["action"], row["before"]["status"], row["after"]["status"]) == (
        "cancel",
        "confirmed",
        "canceled",
    )
    assert row["after"]["refund"] == r.json()["refund"]
