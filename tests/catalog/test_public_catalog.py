"""The public catalog routes (SPEC 10.1): views, filters, pagination, errors, and the demo
practitioner in New York time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.checkout.helpers import API, make_practitioner

from estuary_checkout.catalog.models import Service, ServicePrice
from estuary_checkout.db.session import session_scope


def _monday_after(days: int) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=days)).date()
    day += timedelta(days=(7 - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def test_service_views(client, auth):
    h = auth()
    bundle = (await client.get(f"{API}/catalog/services/789", headers=h)).json()
    assert bundle == {
        "id": 789,
        "type": "bundle",
        "name": "Yoga Bundle",
        "description": None,
        "practitioner_id": 456,
        "price_cents": 45000,
        "currency": "usd",
        "prices": [{"currency": "usd", "amount_cents": 45000}],
        "duration_minutes": None,
        "bundle": {
            "child_service_id": 123,
            "sessions_included": 5,
            "bonus_sessions": 1,
            "validity_days": 180,
        },
        "package": None,
    }
    package = (await client.get(f"{API}/catalog/services/999", headers=h)).json()
    assert package["price_cents"] is None and package["prices"] == []
    assert package["package"] == {
        "children": [
            {"service_id": 101, "quantity": 1, "is_required": True, "discount_percentage": 10},
            {"service_id": 102, "quantity": 1, "is_required": False, "discount_percentage": 10},
        ]
    }
    reiki = (await client.get(f"{API}/catalog/services/124", headers=h)).json()
    assert (reiki["practitioner_id"], reiki["duration_minutes"], reiki["price_cents"]) == (457, 90, 12000)


async def test_other_currency_prices_are_listed(client, auth, app_state):
    async for s in session_scope(app_state.session_factory):
        _pid, sid = await make_practitioner(s)
        s.add_all(
            [
                ServicePrice(service_id=sid, currency="jpy", amount_cents=15000),
                ServicePrice(service_id=sid, currency="eur", amount_cents=9000),
            ]
        )
    r = await client.get(f"{API}/catalog/services/{sid}", headers=auth())
    assert r.json()["prices"] == [
        {"currency": "usd", "amount_cents": 10000},
        {"currency": "eur", "amount_cents": 9000},
        {"currency": "jpy", "amount_cents": 15000},
    ]


async def test_inactive_or_missing_service_is_404(client, auth, app_state):
    async for s in session_scope(app_state.session_factory):
        pid, sid = await make_practitioner(s)
        later = Service(
            type="session",
            name="Later",
            practitioner_id=pid,
            price_cents=100,
            duration_minutes=30,
            available_from=datetime.now(UTC) + timedelta(days=3),
        )
        s.add(later)
        await s.flush()
        (await s.get(Service, sid)).is_active = False
        later_id = later.id
    h = auth()
    for service_id in (sid, later_id, 2_000_000_000):
        r = await client.get(f"{API}/catalog/services/{service_id}", headers=h)
        assert r.status_code == 404 and r.json()["code"] == "SERVICE_NOT_FOUND", r.text
    listed = (await client.get(f"{API}/catalog/services", params={"practitioner_id": pid}, headers=h)).json()
    assert listed == {"data": [], "has_more": False, "next_cursor": None}
    assert (await client.get(f"{API}/catalog/services/{sid}")).status_code == 401


async def test_list_filters_and_pages(client, auth, app_state):
    async for s in session_scope(app_state.session_factory):
        pid, first = await make_practitioner(s)
        ids = [first]
        for n in range(4):
            svc = Service(
                type="session", name=f"S{n}", practitioner_id=pid, price_cents=100, duration_minutes=30
            )
            s.add(svc)
            await s.flush()
            ids.append(svc.id)
    h = auth()
    seen, cursor = [], None
    while True:
        params = {"practitioner_id": pid, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/catalog/services", params=params, headers=h)).json()
        seen += [svc["id"] for svc in page["data"]]
        assert len(page["data"]) <= 2
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == sorted(ids, reverse=True)  # newest first, each once
    sessions = (
        await client.get(f"{API}/catalog/services", params={"type": "bundle", "limit": 100}, headers=h)
    ).json()
    assert {svc["type"] for svc in sessions["data"]} == {"bundle"}
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"type": "gift"}, "type"),
        ({"cursor": "not a cursor!"}, "cursor"),
    ):
        r = await client.get(f"{API}/catalog/services", params=params, headers=h)
        assert r.status_code == 422 and r.json()["details"]["field"] == field, r.text
    forged = await client.get(f"{API}/catalog/services", params={"cursor": "bm90LWpzb24"}, headers=h)
    assert forged.status_code == 422 and forged.json()["code"] == "INVALID_CURSOR"


async def test_practitioner_view(client, auth):
    h = auth()
    leo = (await client.get(f"{API}/catalog/practitioners/457", headers=h)).json()
    assert leo == {"id": 457, "name": "Leo Park", "timezone": "America/New_York", "service_ids": [124]}
    maya = (await client.get(f"{API}/catalog/practitioners/456", headers=h)).json()
    assert maya["service_ids"] == [101, 102, 123, 789, 999]
    r = await client.get(f"{API}/catalog/practitioners/999999", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "PRACTITIONER_NOT_FOUND"


async def test_demo_new_york_practitioner_slots(client, auth):
    """Leo Park: Monday–Friday 09:00–17:00 New York time, 90-minute Reiki, 15-minute steps and a
    15-minute buffer after each session."""
    h = auth()
    monday = _monday_after(10)
    r = await client.get(
        f"{API}/catalog/availability",
        params={
            "service_id": 124,
            "from": monday.isoformat(),
            "to": (monday + timedelta(days=7)).isoformat(),
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "America/New_York" and body["practitioner_id"] == 457
    starts = [datetime.fromisoformat(s["start_time"]) for s in body["slots"]]
    assert {s.weekday() for s in starts} == {0, 1, 2, 3, 4}
    first_local = starts[0].astimezone(ZoneInfo("America/New_York"))
    assert (first_local.hour, first_local.minute) == (9, 0)
    per_day = (8 * 60 - 90) // 15 + 1
    assert len(starts) == 5 * per_day
    # book Monday's 10:00 local and the slots that would end inside its buffer disappear
    ten = starts[4]  # 09:00, 09:15, 09:30, 09:45, 10:00
    body = {
        "checkout_type": "single_session",
        "items": [
            {
                "service_id": 124,
                "practitioner_id": 457,
                "start_time": ten.isoformat(),
                "end_time": (ten + timedelta(minutes=90)).isoformat(),
            }
        ],
    }
    created = await client.post(f"{API}/checkout/create", json=body, headers=h)
    assert created.status_code == 201, created.text
    after = (
        await client.get(
            f"{API}/catalog/availability",
            params={
                "service_id": 124,
                "practitioner_id": 457,
                "from": monday.isoformat(),
                "to": (monday + timedelta(days=1)).isoformat(),
            },
            headers=h,
        )
    ).json()
    left = {datetime.fromisoformat(s["start_time"]) for s in after["slots"]}
    # before it, a session plus its 15-minute buffer must end by 10:00: none of Monday's starts
    # before 10:00 qualifies any more (09:00–10:30 overlaps, and the window opens at 09:00)
    # after: the next may start at 11:30 + 15 min = 11:45 local
    assert ten + timedelta(minutes=105) in left and ten + timedelta(minutes=90) not in left
    assert not any(ten - timedelta(minutes=90) < s < ten + timedelta(minutes=105) for s in left)


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"from": "2027-01-04T00:00:00"}, 422, "VALIDATION_ERROR", "from"),  # naive
        ({"to": "2027-02-10T00:00:00Z"}, 422, "RANGE_TOO_LARGE", "to"),
        ({"to": "2027-01-03T00:00:00Z"}, 422, "INVALID_RANGE", "to"),
        ({"service_id": 789}, 422, "NOT_A_SESSION", "service_id"),
        ({"practitioner_id": 457}, 422, "PRACTITIONER_MISMATCH", "practitioner_id"),
        ({"service_id": 0}, 422, "VALIDATION_ERROR", "service_id"),
    ],
)
async def test_availability_errors(client, auth, params, status, code, field):
    base = {"service_id": 123, "from": "2027-01-04T00:00:00Z", "to": "2027-01-05T00:00:00Z"}
    r = await client.get(f"{API}/catalog/availability", params={**base, **params}, headers=auth())
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert r.json()["details"]["field"] == field


async def test_availability_of_unknown_service_is_404(client, auth):
    params = {"service_id": 123456, "from": "2027-01-04T00:00:00Z", "to": "2027-01-05T00:00:00Z"}
    r = await client.get(f"{API}/catalog/availability", params=params, headers=auth())
    assert r.status_code == 404 and r.json()["code"] == "SERVICE_NOT_FOUND"


async def test_exactly_31_days_is_allowed(client, auth):
    params = {"service_id": 123, "from": "2027-01-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"}
    r = await client.get(f"{API}/catalog/availability", params=params, headers=auth())
    assert r.status_code == 200 and len(r.json()["slots"]) == 31 * ((12 * 60 - 60) // 15 + 1)
