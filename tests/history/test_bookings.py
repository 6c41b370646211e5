"""A client's bookings (SPEC 11.1): upcoming soonest first, past latest first, and for each what
canceling or rescheduling would do now, from the booking's own policy snapshot (SPEC 11.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from tests.checkout.helpers import (
    API,
    assert_error,
    db,
    make_practitioner,
)
from tests.history.helpers import (
    all_pages,
    booking_of,
    buy_bundle,
    insert_booking,
    make_bundle,
    move_booking,
    paid_session,
)

from estuary_checkout.bookings.models import Booking
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.refunds import service as refunds_service

NOTHING = {"card_cents": 0, "credit_cents": 0, "pass_session_returned": False}


async def _upcoming(client, user) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/bookings", params={"scope": "upcoming"}, headers=user.headers)
    assert r.status_code == 200, r.text
    return {b["booking_id"]: b for b in r.json()["data"]}


async def test_full_window_refunds_the_paid_share_to_what_paid_it(
    client, factory, new_user, stripe_api_base, app_state
):
    user = await new_user(credit=2000)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    created = await paid_session(
        client, stripe_api_base, user, practitioner_id=pid, service_id=sid, use_credits=True
    )
    booking = await booking_of(factory, created["order_id"])
    view = (await _upcoming(client, user))[booking.id]
    assert {k: v for k, v in view.items() if k not in ("start_time", "end_time")} == {
        "booking_id": booking.id,
        "order_id": created["order_id"],
        "service_id": sid,
        "practitioner_id": pid,
        "status": "confirmed",
        "reschedule_count": 0,
        "can_cancel": True,
        "can_reschedule": True,
        # 10000 + 875 tax, 2000 of it paid by store credit
        "refund_if_canceled_now": {"card_cents": 8875, "credit_cents": 2000, "pass_session_returned": False},
    }
    assert datetime.fromisoformat(view["start_time"]) == booking.start_at
    assert datetime.fromisoformat(view["end_time"]) == booking.end_at

    # 1500 of the credit already went back: the terms never promise more than the order has left
    async with db(factory) as s:
        order = await orders_repo.get(s, uuid.UUID(created["order_id"]), for_update=True)
        assert order is not None
        await refunds_service.give_back(
            s,
            app_state.gateway,
            order,
            key=f"test:{uuid.uuid4().hex}",
            from_card=0,
            from_credit=1500,
            card_to_credit=False,
            reason=refunds_service.Reason(code="service_issue", created_by="admin"),
        )
    view = (await _upcoming(client, user))[booking.id]
    assert view["refund_if_canceled_now"] == {
        "card_cents": 8875,
        "credit_cents": 500,
        "pass_session_returned": False,
    }


async def test_late_window_uses_the_percent_snapshotted_on_the_booking(
    client, factory, new_user, stripe_api_base, api_with
):
    user = await new_user(credit=2000)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    generous = await api_with(late_cancel_refund_percent=50)
    late = await paid_session(
        generous, stripe_api_base, user, practitioner_id=pid, service_id=sid, use_credits=True
    )
    strict = await paid_session(client, stripe_api_base, user, practitioner_id=pid, service_id=sid)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    late_booking = await booking_of(factory, late["order_id"])
    strict_booking = await booking_of(factory, strict["order_id"])
    await move_booking(factory, late_booking.id, soon)
    await move_booking(factory, strict_booking.id, soon + timedelta(hours=2))

    # read through the default API (late percent 0): the booking's own snapshot decides
    views = await _upcoming(client, user)
    late_view, strict_view = views[late_booking.id], views[strict_booking.id]
    # 50 % of 10875 = 5437.5 -> 5438, split 2000 : 8875 by largest remainder -> 1000 + 4438
    assert late_view["refund_if_canceled_now"] == {
        "card_cents": 4438,
        "credit_cents": 1000,
        "pass_session_returned": False,
    }
    assert late_view["can_cancel"] is True
    assert late_view["can_reschedule"] is False  # inside the 24 h reschedule cutoff
    # made under the default policy: a late cancel is allowed and gives nothing back
    assert strict_view["refund_if_canceled_now"] == NOTHING
    assert (strict_view["can_cancel"], strict_view["can_reschedule"]) == (True, False)


async def test_after_the_start_nothing_can_be_done(client, factory, new_user, stripe_api_base):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    created = await paid_session(client, stripe_api_base, user, practitioner_id=pid, service_id=sid)
    booking = await booking_of(factory, created["order_id"])
    await move_booking(factory, booking.id, datetime.now(UTC) - timedelta(minutes=10))
    view = (await _upcoming(client, user))[booking.id]  # started, not ended: still upcoming
    assert (view["can_cancel"], view["can_reschedule"]) == (False, False)
    assert view["refund_if_canceled_now"] == NOTHING

    await move_booking(factory, booking.id, datetime.now(UTC) - timedelta(hours=3))
    assert booking.id not in await _upcoming(client, user)
    past = (await client.get(f"{API}/bookings", params={"scope": "past"}, headers=user.headers)).json()
    [ended] = past["data"]
    assert ended["booking_id"] == booking.id and ended["status"] == "confirmed"
    assert (ended["can_cancel"], ended["can_reschedule"], ended["refund_if_canceled_now"]) == (
        False,
        False,
        NOTHING,
    )


async def test_reschedule_limit_reached(client, factory, new_user, stripe_api_base):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    created = await paid_session(client, stripe_api_base, user, practitioner_id=pid, service_id=sid)
    booking = await booking_of(factory, created["order_id"])
    async with db(factory) as s:
        await s.execute(update(Booking).where(Booking.id == booking.id).values(reschedule_count=2))
    view = (await _upcoming(client, user))[booking.id]
    assert (view["reschedule_count"], view["can_reschedule"], view["can_cancel"]) == (2, False, True)


async def test_a_pass_covered_session_gets_its_session_back_only_in_the_full_window(
    client, factory, new_user, stripe_api_base
):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
        bundle = await make_bundle(
            s, pid, sid, name="Two Sessions", price=18000, sessions_included=2, validity_days=60
        )
    await buy_bundle(client, stripe_api_base, user, bundle, pid)
    covered = await paid_session(client, stripe_api_base, user, practitioner_id=pid, service_id=sid)
    assert covered["total_cents"] == 0 and covered["payment_intent_id"] is None
    booking = await booking_of(factory, covered["order_id"])
    assert booking.pass_id is not None
    view = (await _upcoming(client, user))[booking.id]
    assert view["can_cancel"] is True
    assert view["refund_if_canceled_now"] == {
        "card_cents": 0,
        "credit_cents": 0,
        "pass_session_returned": True,
    }
    [pass_] = (await client.get(f"{API}/passes", headers=user.headers)).json()["data"]
    assert (pass_["sessions_used"], pass_["sessions_left"], pass_["status"]) == (1, 1, "active")

    await move_booking(factory, booking.id, datetime.now(UTC) + timedelta(hours=5))
    view = (await _upcoming(client, user))[booking.id]
    assert view["can_cancel"] is True
    assert view["refund_if_canceled_now"] == NOTHING  # a late cancel forfeits the session


async def test_scopes_order_and_stable_pages(client, factory, new_user):
    user = await new_user()
    now = datetime.now(UTC).replace(microsecond=0)
    day = timedelta(days=1)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)

        async def add(start: datetime, status: str = "confirmed") -> int:
            return await insert_booking(
                s, user.id, service_id=sid, practitioner_id=pid, start=start, status=status
            )

        in_5, in_2, in_10 = await add(now + 5 * day), await add(now + 2 * day), await add(now + 10 * day)
        pending_in_4 = await add(now + 4 * day, "pending_payment")
        ended = await add(now - 2 * day)
        completed = await add(now - 5 * day, "completed")
        canceled_in_3 = await add(now + 3 * day, "canceled")
        never_confirmed = await add(now + 6 * day, "canceled")
        await s.execute(update(Booking).where(Booking.id == never_confirmed).values(confirmed_at=None))

    async def ids(scope: str, limit: int = 2) -> list[int]:
        pages = await all_pages(client, "/bookings", user.headers, limit=limit, scope=scope)
        return [b["booking_id"] for page in pages for b in page]

    # upcoming: not ended and holding the slot, soonest first; past: the rest, latest start first;
    # a hold canceled before it was ever confirmed (an abandoned checkout) is in neither
    assert await ids("upcoming") == [in_2, pending_in_4, in_5, in_10]
    assert await ids("past", limit=1) == [canceled_in_3, ended, completed]
    default = (await client.get(f"{API}/bookings", headers=user.headers)).json()
    assert [b["booking_id"] for b in default["data"]] == [in_2, pending_in_4, in_5, in_10]

    # between two page reads: a booking sooner than the cursor lands on an earlier page, one
    # later than it on a later page; nothing repeats or goes missing
    first = (await client.get(f"{API}/bookings", params={"limit": 2}, headers=user.headers)).json()
    assert [b["booking_id"] for b in first["data"]] == [in_2, pending_in_4]
    async with db(factory) as s:
        sooner = await insert_booking(s, user.id, service_id=sid, practitioner_id=pid, start=now + 1 * day)
        later = await insert_booking(s, user.id, service_id=sid, practitioner_id=pid, start=now + 20 * day)
    second = (
        await client.get(
            f"{API}/bookings", params={"limit": 5, "cursor": first["next_cursor"]}, headers=user.headers
        )
    ).json()
    assert [b["booking_id"] for b in second["data"]] == [in_5, in_10, later]
    assert second["has_more"] is False
    assert (await ids("upcoming"))[0] == sooner


async def test_scope_must_be_upcoming_or_past(client, new_user):
    user = await new_user()
    body = assert_error(
        await client.get(f"{API}/bookings", params={"scope": "canceled"}, headers=user.headers),
        422,
        "VALIDATION_ERROR",
    )
    assert body["details"]["field"] == "scope"
