"""A client's orders (SPEC 11.1): the list and the detail show the caller's own rows only, newest
first, in pages that neither repeat nor skip rows when orders are added between two reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.checkout.helpers import (
    API,
    assert_error,
    create_ok,
    db,
    future_slot,
    make_practitioner,
    session_body,
)
from tests.history.helpers import all_pages, buy_bundle, insert_order, make_bundle, paid_session

from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.orders.history_schemas import OrderStatusName
from estuary_checkout.orders.models import ORDER_STATUSES
from estuary_checkout.pagination import encode_cursor
from estuary_checkout.refunds import service as refunds_service

SUMMARY_FIELDS = {
    "order_id",
    "status",
    "payment_status",
    "checkout_type",
    "currency",
    "total_cents",
    "refunded_cents",
    "created_at",
    "completed_at",
    "lines",
}


async def _practitioner(factory) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return await make_practitioner(s)


async def _give_back(app_state, order_id: str, *, from_card: int = 0, from_credit: int = 0):  # type: ignore[no-untyped-def]
    """A refund to store credit, as an operator's refund would make it (no Stripe call)."""
    async with db(app_state.session_factory) as s:
        order = await orders_repo.get(s, uuid.UUID(order_id), for_update=True)
        assert order is not None
        return await refunds_service.give_back(
            s,
            app_state.gateway,
            order,
            key=f"test:{uuid.uuid4().hex}",
            from_card=from_card,
            from_credit=from_credit,
            card_to_credit=True,
            reason=refunds_service.Reason(code="requested_by_customer", created_by="admin"),
        )


def test_the_status_filter_names_every_order_status():
    assert set(OrderStatusName.__args__) == set(ORDER_STATUSES)  # type: ignore[attr-defined]


async def test_a_paid_order_in_the_list_and_in_detail(client, factory, new_user, stripe_api_base):
    user = await new_user(credit=2000)
    pid, sid = await _practitioner(factory)
    created = await paid_session(
        client, stripe_api_base, user, practitioner_id=pid, service_id=sid, use_credits=True
    )
    order_id = created["order_id"]

    listed = await client.get(f"{API}/orders", headers=user.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["has_more"] is False and body["next_cursor"] is None
    [item] = body["data"]
    assert set(item) == SUMMARY_FIELDS
    assert item["order_id"] == order_id
    assert (item["status"], item["payment_status"], item["checkout_type"]) == (
        "completed",
        "paid",
        "single_session",
    )
    assert (item["currency"], item["total_cents"], item["refunded_cents"]) == ("usd", 8875, 0)
    assert item["completed_at"] is not None
    assert item["lines"] == [
        {"service_id": sid, "name": "Test Session", "quantity": 1, "line_total_cents": 10000}
    ]

    r = await client.get(f"{API}/orders/{order_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert {k: detail[k] for k in SUMMARY_FIELDS} == item
    assert (
        detail["subtotal_cents"],
        detail["discount_cents"],
        detail["tax_cents"],
        detail["credits_applied_cents"],
    ) == (10000, 0, 875, 2000)
    [booking] = detail["bookings"]
    assert booking["order_id"] == order_id and booking["status"] == "confirmed"
    assert (booking["service_id"], booking["practitioner_id"]) == (sid, pid)
    assert booking["can_cancel"] is True and booking["can_reschedule"] is True
    # days ahead: the whole paid share back, each part to what paid it
    assert booking["refund_if_canceled_now"] == {
        "card_cents": 8875,
        "credit_cents": 2000,
        "pass_session_returned": False,
    }
    assert detail["passes"] == []
    assert detail["payments"] == [
        {"payment_intent_id": created["payment_intent_id"], "amount_cents": 8875, "status": "paid"}
    ]
    assert detail["refunds"] == []
    moves = [(m["kind"], m["amount_cents"], m["balance_delta_cents"]) for m in detail["credit_movements"]]
    assert moves == [("hold", 2000, -2000), ("capture", 2000, 0)]


async def test_refunds_show_in_the_detail_with_where_they_went(
    client, factory, new_user, stripe_api_base, app_state
):
    user = await new_user(credit=2000)
    pid, sid = await _practitioner(factory)
    created = await paid_session(
        client, stripe_api_base, user, practitioner_id=pid, service_id=sid, use_credits=True
    )
    [card_part, credit_part] = await _give_back(
        app_state, created["order_id"], from_card=1000, from_credit=500
    )

    detail = (await client.get(f"{API}/orders/{created['order_id']}", headers=user.headers)).json()
    assert (detail["status"], detail["payment_status"], detail["refunded_cents"]) == (
        "partially_refunded",
        "partially_refunded",
        1500,
    )
    refunds = sorted(detail["refunds"], key=lambda r: r["refund_id"])
    assert [(r["refund_id"], r["amount_cents"], r["to"], r["status"], r["reason"]) for r in refunds] == [
        (card_part.id, 1000, "credit", "succeeded", "requested_by_customer"),
        (credit_part.id, 500, "credit", "succeeded", "requested_by_customer"),
    ]
    assert all(r["created_at"] for r in refunds)
    kinds = [(m["kind"], m["amount_cents"]) for m in detail["credit_movements"]]
    assert kinds[:2] == [("hold", 2000), ("capture", 2000)]
    assert sorted(kinds[2:]) == [("refund", 500), ("refund", 1000)]
    # what is left to refund shrank: canceling now gives back at most what is left
    assert detail["bookings"][0]["refund_if_canceled_now"] == {
        "card_cents": 8875 - 1000,
        "credit_cents": 2000 - 500,
        "pass_session_returned": False,
    }


async def test_a_bundle_order_lists_the_pass_it_granted(client, factory, new_user, stripe_api_base):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
        bundle = await make_bundle(
            s,
            pid,
            sid,
            name="Three Sessions",
            price=25000,
            sessions_included=3,
            bonus_sessions=1,
            validity_days=30,
        )
    created = await buy_bundle(client, stripe_api_base, user, bundle, pid)
    detail = (await client.get(f"{API}/orders/{created['order_id']}", headers=user.headers)).json()
    assert detail["bookings"] == []
    [granted] = detail["passes"]
    assert {k: v for k, v in granted.items() if k not in ("pass_id", "expires_at")} == {
        "service_id": sid,
        "practitioner_id": pid,
        "sessions_total": 4,
        "sessions_used": 0,
        "sessions_left": 4,
        "source_order_id": created["order_id"],
        "status": "active",
        "membership_id": None,
        "eligible_service_ids": None,
    }
    expires = datetime.fromisoformat(granted["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert detail["lines"] == [
        {"service_id": bundle, "name": "Three Sessions", "quantity": 1, "line_total_cents": 25000}
    ]
    passes = (await client.get(f"{API}/passes", headers=user.headers)).json()
    assert passes["data"] == [granted]


async def test_status_filter(client, factory, new_user, stripe_api_base):
    user = await new_user()
    pid, sid = await _practitioner(factory)
    paid = await paid_session(client, stripe_api_base, user, practitioner_id=pid, service_id=sid)
    start, end = future_slot()
    unpaid = await create_ok(
        client, user.headers, session_body(start, end, service_id=sid, practitioner_id=pid)
    )

    async def ids(status: str | None) -> list[str]:
        params = {"status": status} if status else {}
        r = await client.get(f"{API}/orders", params=params, headers=user.headers)
        assert r.status_code == 200, r.text
        return [o["order_id"] for o in r.json()["data"]]

    assert await ids(None) == [unpaid["order_id"], paid["order_id"]]  # newest first
    assert await ids("pending_payment") == [unpaid["order_id"]]
    assert await ids("completed") == [paid["order_id"]]
    assert await ids("refunded") == []
    body = assert_error(
        await client.get(f"{API}/orders", params={"status": "paid"}, headers=user.headers),
        422,
        "VALIDATION_ERROR",
    )
    assert body["details"]["field"] == "status"


async def test_pages_are_newest_first_and_stable_when_orders_arrive(client, factory, new_user):
    user = await new_user()
    pid, sid = await _practitioner(factory)
    base = datetime(2026, 1, 5, 12, tzinfo=UTC)
    # three orders share one instant: the id orders them, so no cursor can split the tie wrongly
    times = [base, base + timedelta(hours=1), base + timedelta(hours=1), base + timedelta(hours=1)]
    times += [base + timedelta(hours=h) for h in (2, 3, 4)]
    async with db(factory) as s:
        made = [
            (at, await insert_order(s, user.id, service_id=sid, practitioner_id=pid, created_at=at))
            for at in times
        ]
    expected = [str(oid) for _, oid in sorted(made, key=lambda m: (m[0], m[1]), reverse=True)]

    pages = await all_pages(client, "/orders", user.headers, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [o["order_id"] for p in pages for o in p] == expected

    # an order placed between two page reads is newer than the cursor: it is on no later page
    first = (await client.get(f"{API}/orders", params={"limit": 3}, headers=user.headers)).json()
    async with db(factory) as s:
        newest = await insert_order(
            s, user.id, service_id=sid, practitioner_id=pid, created_at=datetime.now(UTC)
        )
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = (
            await client.get(f"{API}/orders", params={"limit": 3, "cursor": cursor}, headers=user.headers)
        ).json()
        rest += [o["order_id"] for o in page["data"]]
        cursor = page["next_cursor"]
    assert [o["order_id"] for o in first["data"]] + rest == expected
    fresh = (await client.get(f"{API}/orders", params={"limit": 1}, headers=user.headers)).json()
    assert fresh["data"][0]["order_id"] == str(newest)


async def test_another_users_order_is_404_like_a_missing_one(client, factory, new_user, stripe_api_base):
    owner, other = await new_user(), await new_user()
    pid, sid = await _practitioner(factory)
    created = await paid_session(client, stripe_api_base, owner, practitioner_id=pid, service_id=sid)
    missing = await client.get(f"{API}/orders/{uuid.uuid4()}", headers=other.headers)
    body = assert_error(missing, 404, "ORDER_NOT_FOUND")
    theirs = await client.get(f"{API}/orders/{created['order_id']}", headers=other.headers)
    assert (theirs.status_code, theirs.json()) == (404, body)
    # lists show only the caller's own rows
    for path in ("/orders", "/bookings", "/passes"):
        r = await client.get(f"{API}{path}", headers=other.headers)
        assert r.status_code == 200 and r.json()["data"] == [], (path, r.text)
    assert [
        o["order_id"] for o in (await client.get(f"{API}/orders", headers=owner.headers)).json()["data"]
    ] == [created["order_id"]]


async def test_bad_requests_are_envelopes(client, new_user):
    user = await new_user()
    for path in ("/orders", f"/orders/{uuid.uuid4()}", "/bookings", "/passes"):
        assert_error(await client.get(f"{API}{path}"), 401, "UNAUTHORIZED")
    for path in ("/orders", "/bookings", "/passes"):
        for cursor in ("not-a-cursor", encode_cursor([1, 2]), encode_cursor(["x"])):
            body = assert_error(
                await client.get(f"{API}{path}", params={"cursor": cursor}, headers=user.headers),
                422,
                "INVALID_CURSOR",
            )
            assert body["details"]["field"] == "cursor"
        for limit in (0, 101):
            body = assert_error(
                await client.get(f"{API}{path}", params={"limit": limit}, headers=user.headers),
                422,
                "VALIDATION_ERROR",
            )
            assert body["details"]["field"] == "limit"
    body = assert_error(
        await client.get(f"{API}/orders/not-a-uuid", headers=user.headers), 422, "VALIDATION_ERROR"
    )
    assert body["details"]["field"] == "order_id"
