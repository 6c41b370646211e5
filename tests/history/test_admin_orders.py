"""Operators' order search and detail (SPEC 11.4): admin role only, any user's orders, and a
timeline that tells what happened to an order from every table that recorded it, oldest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from tests.checkout.helpers import (
    API,
    assert_error,
    create_ok,
    db,
    future_slot,
    make_practitioner,
    pay_in_browser,
    session_body,
)
from tests.history.helpers import all_pages, booking_of, insert_order
from tests.webhooks.test_webhooks import deliver, stripe_event

from estuary_checkout.bookings.models import Booking, BookingEvent
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.refunds import service as refunds_service
from estuary_checkout.users.models import User
from estuary_checkout.workflows import outbox

TIMELINE_KEYS = {"at", "kind", "summary", "details"}


async def test_operator_routes_need_the_admin_role(client, new_user):
    user = await new_user()
    for path in ("/admin/orders", f"/admin/orders/{uuid.uuid4()}"):
        assert_error(await client.get(f"{API}{path}"), 401, "UNAUTHORIZED")
        assert_error(await client.get(f"{API}{path}", headers=user.headers), 403, "FORBIDDEN")


async def test_search_by_email_status_and_time(client, factory, new_user):
    admin, alice, bob = await new_user(admin=True), await new_user(), await new_user()
    base = datetime(2025, 3, 1, tzinfo=UTC)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
        alice_email = (await s.get(User, alice.id)).email  # type: ignore[union-attr]
        a1 = await insert_order(s, alice.id, service_id=sid, practitioner_id=pid, created_at=base)
        a2 = await insert_order(
            s,
            alice.id,
            service_id=sid,
            practitioner_id=pid,
            created_at=base + timedelta(days=1),
            status="failed",
        )
        a3 = await insert_order(
            s, alice.id, service_id=sid, practitioner_id=pid, created_at=base + timedelta(days=2)
        )
        b1 = await insert_order(
            s, bob.id, service_id=sid, practitioner_id=pid, created_at=base + timedelta(days=1)
        )

    async def ids(**params: str) -> list[str]:
        pages = await all_pages(client, "/admin/orders", admin.headers, limit=2, **params)
        return [o["order_id"] for page in pages for o in page]

    by_email = {"user_email": alice_email.upper()}  # any case
    assert await ids(**by_email) == [str(a3), str(a2), str(a1)]
    assert await ids(**by_email, status="failed") == [str(a2)]
    # created_from inclusive, created_to exclusive
    window = {
        "created_from": (base + timedelta(days=1)).isoformat(),
        "created_to": (base + timedelta(days=2)).isoformat(),
    }
    assert await ids(**by_email, **window) == [str(a2)]
    r = await client.get(f"{API}/admin/orders", params=by_email | {"limit": 1}, headers=admin.headers)
    [item] = r.json()["data"]
    assert item["user"] == {"id": alice.id, "email": alice_email, "external_id": alice.sub}
    assert item["lines"] == [
        {"service_id": sid, "name": "Inserted line", "quantity": 1, "line_total_cents": 1000}
    ]
    # without filters: every user's orders, newest first
    everyone = (await client.get(f"{API}/admin/orders", params={"limit": 100}, headers=admin.headers)).json()
    created = [datetime.fromisoformat(o["created_at"]) for o in everyone["data"]]
    assert created == sorted(created, reverse=True) and len(created) >= 4
    # by time alone: both users' orders of those days (other tests' orders are not from 2025)
    those_days = {"created_from": base.isoformat(), "created_to": (base + timedelta(days=3)).isoformat()}
    assert set(await ids(**those_days)) >= {str(a1), str(a2), str(a3), str(b1)}


async def test_search_refuses_bad_filters(client, new_user):
    admin = await new_user(admin=True)
    cases = [
        (
            {"created_from": "2025-03-02T00:00:00Z", "created_to": "2025-03-01T00:00:00Z"},
            "INVALID_RANGE",
            "created_to",
        ),
        ({"created_from": "2025-03-02T00:00:00"}, "VALIDATION_ERROR", "created_from"),  # no zone
        ({"status": "gone"}, "VALIDATION_ERROR", "status"),
        ({"user_email": "x"}, "VALIDATION_ERROR", "user_email"),
        ({"cursor": "%%%"}, "VALIDATION_ERROR", "cursor"),
        ({"limit": "0"}, "VALIDATION_ERROR", "limit"),
    ]
    for params, code, field in cases:
        body = assert_error(
            await client.get(f"{API}/admin/orders", params=params, headers=admin.headers), 422, code
        )
        assert body["details"]["field"] == field, params
    assert_error(
        await client.get(f"{API}/admin/orders/{uuid.uuid4()}", headers=admin.headers), 404, "ORDER_NOT_FOUND"
    )


def _kinds(timeline: list[dict]) -> list[str]:
    return [
        e["kind"] + (f":{e['details'].get('type') or e['details'].get('workflow_id') or ''}")
        for e in timeline
    ]


async def test_timeline_tells_the_story_oldest_first(client, factory, new_user, stripe_api_base, app_state):
    admin, user = await new_user(admin=True), await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot()
    created = await create_ok(
        client, user.headers, session_body(start, end, service_id=sid, practitioner_id=pid)
    )
    order_id, pi_id = created["order_id"], created["payment_intent_id"]
    # paid in the browser; Stripe's webhook tells the service (which fulfils)
    await pay_in_browser(stripe_api_base, pi_id, created["client_secret"])
    event = await stripe_event(stripe_api_base, "payment_intent.succeeded", pi_id)
    assert (await deliver(client, event)).status_code == 200
    booking = await booking_of(factory, order_id)
    # an operator's refund of 1000 to store credit (no Stripe call)
    async with db(factory) as s:
        order = await orders_repo.get(s, uuid.UUID(order_id), for_update=True)
        assert order is not None and order.status == "completed"
        [refund] = await refunds_service.give_back(
            s,
            app_state.gateway,
            order,
            key=f"test:{uuid.uuid4().hex}",
            from_card=1000,
            from_credit=0,
            card_to_credit=True,
            reason=refunds_service.Reason(code="service_issue", created_by="admin", note="room was cold"),
        )
    # the practitioner cancels afterwards: the history row and the workflow's signal
    async with db(factory) as s:
        s.add(BookingEvent(booking_id=booking.id, kind="canceled", actor="practitioner", reason="ill"))
        await s.flush()
        await outbox.signal_booking_canceled(s, booking.id, "ill")

    r = await client.get(f"{API}/admin/orders/{order_id}", headers=admin.headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["user"]["id"] == user.id and detail["user"]["external_id"] == user.sub
    client_view = (await client.get(f"{API}/orders/{order_id}", headers=user.headers)).json()
    assert {k: detail[k] for k in client_view} == client_view  # the client's detail, and more

    timeline = detail["timeline"]
    assert all(set(e) == TIMELINE_KEYS and e["summary"] for e in timeline)
    times = [datetime.fromisoformat(e["at"]) for e in timeline]
    assert times == sorted(times)
    kinds = _kinds(timeline)
    story = "\n".join(f"{e['at']} {e['kind']}" for e in timeline)
    assert kinds[:8] == [
        "order.created:",
        "payment_intent.created:",
        f"workflow.start:order-expiry-{order_id}",
        "stripe_event.received:payment_intent.succeeded",
        "order.fulfilled:",
        f"workflow.start:booking-lifecycle-{booking.id}",
        "outbound_event:order.completed",
        "outbound_event:booking.confirmed",
    ], story
    # the refund, all written in one transaction: created first; its success, the credit, the
    # notice and the order.refunded event together (a refund's status time is its row's last
    # write, in that same transaction)
    assert kinds[8] == "refund.created:", story
    assert sorted(kinds[9:13]) == [
        "credit.refund:",
        "notice:",
        "outbound_event:order.refunded",
        "refund.succeeded:",
    ], story
    assert kinds[13:] == ["booking.canceled:", f"workflow.signal:booking-lifecycle-{booking.id}"], story
    completed = next(e for e in timeline if e["details"].get("type") == "order.completed")
    assert completed["details"]["event_id"].startswith("evt_")
    by_kind = {e["kind"]: e for e in timeline}
    assert by_kind["payment_intent.created"]["details"]["payment_intent_id"] == pi_id
    assert by_kind["stripe_event.received"]["details"]["event_id"] == event["id"]
    created_details = by_kind["refund.created"]["details"]
    assert {
        k: created_details[k] for k in ("refund_id", "amount_cents", "source", "to", "reason", "note")
    } == {
        "refund_id": refund.id,
        "amount_cents": 1000,
        "source": "card",
        "to": "credit",
        "reason": "service_issue",
        "note": "room was cold",
    }
    assert by_kind["notice"]["details"]["notice_kind"] == "refund_succeeded"
    assert by_kind["booking.canceled"]["details"]["actor"] == "practitioner"
    assert by_kind["workflow.signal"]["details"]["signal"] == "cancel"


async def test_a_hold_released_by_expiry_shows_on_the_timeline(client, factory, new_user):
    """An unpaid order's booking canceled by expiry has no history row: the booking row tells it."""
    admin, user = await new_user(admin=True), await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot()
    created = await create_ok(
        client, user.headers, session_body(start, end, service_id=sid, practitioner_id=pid)
    )
    booking = await booking_of(factory, created["order_id"])
    async with db(factory) as s:
        await s.execute(
            update(Booking)
            .where(Booking.id == booking.id)
            .values(
                status="canceled",
                canceled_by="expiry",
                cancel_reason="order expired",
                canceled_at=datetime.now(UTC),
            )
        )
    timeline = (await client.get(f"{API}/admin/orders/{created['order_id']}", headers=admin.headers)).json()[
        "timeline"
    ]
    [released] = [e for e in timeline if e["kind"] == "booking.canceled"]
    assert released["details"] == {"booking_id": booking.id, "actor": "expiry", "reason": "order expired"}
    assert timeline[-1] == released  # the latest thing that happened to it
