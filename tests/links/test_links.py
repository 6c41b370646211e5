"""Payment links (SPEC 13.1): the admin API, the public offer, checkout from a link with its limits
held by the database, the use given back when an order expires, and the funnel stats."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.aftersale.helpers import around_the_clock, quarter_hour
from tests.checkout.helpers import API, assert_error, db, make_coupon, order_count, pay_and_confirm

from estuary_checkout.audit.models import AuditLog
from estuary_checkout.events.models import OutboundEvent
from estuary_checkout.links.models import PaymentLink, PaymentLinkUse
from estuary_checkout.orders import service as orders_service
from estuary_checkout.orders.models import Order

LINKS = f"{API}/admin/payment-links"


@pytest.fixture
def make_link(client, admin, factory):  # type: ignore[no-untyped-def]
    async def _make(**body: Any) -> dict[str, Any]:
        if "service_id" not in body:
            pid, sid = await around_the_clock(factory)
            body = {"service_id": sid, "practitioner_id": pid, **body}
        r = await client.post(LINKS, json=body, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    return _make


def times(start: datetime) -> dict[str, str]:
    return {"start_time": start.isoformat(), "end_time": (start + timedelta(minutes=60)).isoformat()}


async def link_row(factory, link_id: int) -> PaymentLink:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        row = await s.get(PaymentLink, link_id)
        assert row is not None
        return row


# --- admin ------------------------------------------------------------------------------------


async def test_create_get_list_update_and_audit(client, admin, make_link, factory):
    link = await make_link(
        max_completed=3, inactive_message="Sold out, sorry", metadata={"campaign": "winter"}
    )
    assert len(link["slug"]) >= 32 and link["url"].endswith(f"/stripe/fastapi/pay/{link['slug']}")
    assert (link["active"], link["completed_count"], link["reserved_count"]) == (True, 0, 0)
    assert link["after_completion"] == {"type": "confirmation", "message": None}
    got = (await client.get(f"{LINKS}/{link['id']}", headers=admin)).json()
    assert got == link
    listed = (await client.get(LINKS, params={"active": "true", "limit": 100}, headers=admin)).json()
    assert link["id"] in [x["id"] for x in listed["data"]]

    r = await client.patch(
        f"{LINKS}/{link['id']}",
        json={
            "active": False,
            "after_completion": {"type": "redirect", "url": "https://host.example/thanks"},
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["active"] is False and r.json()["after_completion"]["url"] == "https://host.example/thanks"
    )
    assert r.json()["service_id"] == link["service_id"]
    async with db(factory) as s:
        actions = list(
            (
                await s.execute(
                    select(AuditLog.action).where(
                        AuditLog.entity == "payment_link", AuditLog.entity_id == str(link["id"])
                    )
                )
            ).scalars()
        )
    assert actions == ["create", "update"]
    assert_error(await client.get(f"{LINKS}/999999999", headers=admin), 404, "LINK_NOT_FOUND")


def test_slugs_are_random_and_url_safe():
    from estuary_checkout.links.service import new_slug

    slugs = {new_slug() for _ in range(1000)}
    assert len(slugs) == 1000
    assert all(len(s) == 32 and s.replace("-", "").replace("_", "").isalnum() for s in slugs)


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        (
            {"after_completion": {"type": "redirect", "url": "http://evil.example/"}},
            422,
            "REDIRECT_NOT_ALLOWED",
            "after_completion.url",
        ),
        (
            {"after_completion": {"type": "redirect", "url": "javascript:alert(1)//x"}},
            422,
            "VALIDATION_ERROR",
            "after_completion.redirect.url",
        ),
        (
            {"after_completion": {"type": "redirect"}},
            422,
            "VALIDATION_ERROR",
            "after_completion.redirect.url",
        ),
        (
            {"after_completion": {"type": "confirmation", "url": "https://x.example/"}},
            422,
            "VALIDATION_ERROR",
            "after_completion.confirmation.url",
        ),
        ({"currency": "eur"}, 422, "CURRENCY_NOT_OFFERED", "currency"),
        ({"quantity": 2}, 422, "SERVICE_NOT_PURCHASABLE", "quantity"),
        ({"practitioner_id": 457}, 422, "PRACTITIONER_MISMATCH", "practitioner_id"),
        ({"max_completed": 0}, 422, "VALIDATION_ERROR", "max_completed"),
        ({"slug": "mine"}, 422, "VALIDATION_ERROR", "slug"),
    ],
)
async def test_bad_links_are_refused(client, admin, factory, change, status, code, field):
    pid, sid = await around_the_clock(factory)
    r = await client.post(LINKS, json={"service_id": sid, "practitioner_id": pid, **change}, headers=admin)
    body = assert_error(r, status, code)
    assert body["details"]["field"] == field


async def test_http_redirect_to_localhost_is_fine_in_dev(make_link):
    link = await make_link(after_completion={"type": "redirect", "url": "http://localhost:8001/thanks"})
    assert link["after_completion"]["type"] == "redirect"


# --- the public offer ---------------------------------------------------------------------------


async def test_the_offer_needs_no_sign_in_and_shows_no_operator_data(client, make_link, factory):
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=10)
    link = await make_link(coupon_code=code, restricted_to_email="vip@example.com", metadata={"secret": "x"})
    r = await client.get(f"{API}/links/{link['slug']}")
    assert r.status_code == 200, r.text
    offer = r.json()
    assert offer["quote"] == {
        "subtotal_cents": 10000,
        "discount_cents": 1000,
        "tax_cents": 788,
        "total_cents": 9788,
        "currency": "usd",
    }
    assert offer["service"]["name"] == "Anytime" and offer["practitioner"]["timezone"] == "UTC"
    text = r.text
    for hidden in ("vip@example.com", "secret", "completed_count", "reserved_count", code):
        assert hidden not in text


@pytest.mark.parametrize("slug", ["nope", "x" * 10_000, "%2e%2e", "' OR 1=1 --"])
async def test_unknown_slugs_are_404(client, slug):
    assert_error(await client.get(f"{API}/links/{slug}"), 404, "LINK_NOT_FOUND")


async def test_inactive_expired_and_used_up_links_are_410_with_their_message(
    client, admin, make_link, factory
):
    inactive = await make_link(inactive_message="Back in spring")
    await client.patch(f"{LINKS}/{inactive['id']}", json={"active": False}, headers=admin)
    r = await client.get(f"{API}/links/{inactive['slug']}")
    assert assert_error(r, 410, "LINK_UNAVAILABLE")["error"] == "Back in spring"

    expired = await make_link(expires_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat())
    await asyncio.sleep(1.1)
    assert_error(await client.get(f"{API}/links/{expired['slug']}"), 410, "LINK_UNAVAILABLE")

    used = await make_link(max_completed=1)
    async with db(factory) as s:
        row = await s.get(PaymentLink, used["id"])
        assert row is not None
        row.completed_count = 1
    assert_error(await client.get(f"{API}/links/{used['slug']}"), 410, "LINK_UNAVAILABLE")


async def test_the_offer_is_rate_limited_per_client_address(client, app_state, make_link):
    link = await make_link()
    limiter = app_state.public_limiter
    before = limiter.per_minute
    limiter._hits.clear()  # earlier tests read offers from this client address too
    limiter.per_minute = 3
    try:
        codes = [(await client.get(f"{API}/links/{link['slug']}")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # another address is counted on its own
        assert limiter.hit("link_offer", "203.0.113.7") is None
    finally:
        limiter.per_minute = before
        limiter._hits.clear()


# --- checkout from a link ---------------------------------------------------------------------


async def test_checkout_pay_and_stats(client, admin, make_link, new_user, factory, stripe_api_base):
    link = await make_link(metadata={"campaign": "winter"})
    buyer = await new_user()
    for _ in range(2):
        await client.get(f"{API}/links/{link['slug']}")
    r = await client.post(
        f"{API}/links/{link['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=3))),
        headers={**buyer.headers, "Idempotency-Key": "link-1"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["total_cents"] == 10875 and created["status"] == "pending_payment"
    again = await client.post(
        f"{API}/links/{link['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=3))),
        headers={**buyer.headers, "Idempotency-Key": "link-1"},
    )
    assert again.json() == created  # replayed, not a second order
    row = await link_row(factory, link["id"])
    assert (row.reserved_count, row.completed_count) == (1, 0)
    async with db(factory) as s:
        order = await s.get(Order, uuid.UUID(created["order_id"]))
        assert order is not None and order.payment_link_id == link["id"]
        assert order.metadata_ == {"campaign": "winter", "payment_link_id": str(link["id"])}

    await pay_and_confirm(client, buyer.headers, created, stripe_api_base)
    row = await link_row(factory, link["id"])
    assert (row.reserved_count, row.completed_count) == (0, 1)
    async with db(factory) as s:
        events = list(
            (
                await s.execute(
                    select(OutboundEvent).where(
                        OutboundEvent.type == "payment_link.completed",
                        OutboundEvent.order_id == uuid.UUID(created["order_id"]),
                    )
                )
            ).scalars()
        )
    assert len(events) == 1 and events[0].data["completed_count"] == 1

    stats = (await client.get(f"{LINKS}/{link['id']}/stats", headers=admin)).json()
    assert stats == {
        "views": 2,
        "checkouts_started": 1,
        "completed": 1,
        "revenue_cents": 10875,
        "currency": "usd",
    }


async def test_a_use_is_released_when_the_order_expires(client, make_link, new_user, factory, app_state):
    link = await make_link(max_completed=1, inactive_message="All taken")
    first, second = await new_user(), await new_user()
    r = await client.post(
        f"{API}/links/{link['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=3))),
        headers=first.headers,
    )
    assert r.status_code == 201, r.text
    # the only use is held by an unpaid order: the link is unavailable meanwhile
    body = assert_error(
        await client.post(
            f"{API}/links/{link['slug']}/checkout",
            json=times(quarter_hour(timedelta(days=4))),
            headers=second.headers,
        ),
        410,
        "LINK_UNAVAILABLE",
    )
    assert body["error"] == "All taken"
    async with db(factory) as s:
        assert (
            await orders_service.expire_order(
                s, app_state.gateway, uuid.UUID(r.json()["order_id"]), force=True
            )
            == "expired"
        )
    row = await link_row(factory, link["id"])
    assert (row.reserved_count, row.completed_count) == (0, 0)
    async with db(factory) as s:
        use = await s.scalar(
            select(PaymentLinkUse).where(PaymentLinkUse.order_id == uuid.UUID(r.json()["order_id"]))
        )
        assert use is not None and use.status == "released"
    ok = await client.post(
        f"{API}/links/{link['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=4))),
        headers=second.headers,
    )
    assert ok.status_code == 201, ok.text


async def test_limits_per_customer_email_and_coupon_codes(client, make_link, new_user, factory, make_token):
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=50)
    per_customer = await make_link(max_per_customer=1, allow_coupon_codes=False)
    buyer = await new_user()
    slot = iter(range(3, 30))
    r = await client.post(
        f"{API}/links/{per_customer['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=next(slot)))),
        headers=buyer.headers,
    )
    assert r.status_code == 201, r.text
    assert_error(
        await client.post(
            f"{API}/links/{per_customer['slug']}/checkout",
            json=times(quarter_hour(timedelta(days=next(slot)))),
            headers=buyer.headers,
        ),
        409,
        "LINK_LIMIT_REACHED",
    )
    other = await new_user()
    body = assert_error(
        await client.post(
            f"{API}/links/{per_customer['slug']}/checkout",
            json={**times(quarter_hour(timedelta(days=next(slot)))), "coupon_code": code},
            headers=other.headers,
        ),
        422,
        "COUPON_CODES_NOT_ALLOWED",
    )
    assert body["details"]["field"] == "coupon_code"

    restricted = await make_link(restricted_to_email="Vip@Example.com")
    assert_error(
        await client.post(
            f"{API}/links/{restricted['slug']}/checkout",
            json=times(quarter_hour(timedelta(days=next(slot)))),
            headers=other.headers,
        ),
        403,
        "LINK_RESTRICTED",
    )
    vip = {"Authorization": f"Bearer {make_token(f'vip|{uuid.uuid4().hex}', email='vip@example.com')}"}
    r = await client.post(
        f"{API}/links/{restricted['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=next(slot)))),
        headers=vip,
    )
    assert r.status_code == 201, r.text

    with_coupon = await make_link(coupon_code=code)
    r = await client.post(
        f"{API}/links/{with_coupon['slug']}/checkout",
        json=times(quarter_hour(timedelta(days=next(slot)))),
        headers=(await new_user()).headers,
    )
    assert r.status_code == 201 and r.json()["discount_cents"] == 5000  # the link's coupon, applied


async def test_a_failed_checkout_takes_no_use(client, make_link, new_user, factory):
    link = await make_link(max_completed=1)
    r = await client.post(
        f"{API}/links/{link['slug']}/checkout",
        json=times(datetime.now(UTC) - timedelta(days=1)),  # a start in the past
        headers=(await new_user()).headers,
    )
    assert r.status_code == 422
    row = await link_row(factory, link["id"])
    assert (row.reserved_count, row.completed_count) == (0, 0)


async def test_ten_racers_for_the_last_use_make_one_order(client, replicas, make_link, new_user, factory):
    """Ten customers at once, three API instances, one use left: exactly one order is made."""
    link = await make_link(max_completed=1)
    users = [await new_user() for _ in range(10)]
    clients = [client, *replicas]
    gate = asyncio.Event()

    async def one(i: int):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await clients[i % 3].post(
            f"{API}/links/{link['slug']}/checkout",
            json=times(quarter_hour(timedelta(days=3 + i))),
            headers=users[i].headers,
        )

    tasks = [asyncio.create_task(one(i)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    responses = await asyncio.gather(*tasks)
    counts = Counter(r.status_code for r in responses)
    assert counts == Counter({201: 1, 410: 9}), [r.text for r in responses]
    assert sum([await order_count(factory, u.id) for u in users]) == 1
    row = await link_row(factory, link["id"])
    assert (row.reserved_count, row.completed_count) == (1, 0)
