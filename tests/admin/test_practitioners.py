"""Admin practitioners (SPEC 10.2): create, read, list, patch, weekly availability, time off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.checkout.helpers import API, assert_error, create_ok, db, make_user, session_body

from estuary_checkout.catalog.models import AvailabilityWindow, TimeOff

P = f"{API}/admin/practitioners"


def ext() -> str:
    return f"ext-{uuid.uuid4().hex[:12]}"


async def new_practitioner(client, admin, **fields) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "Ada Rivers", "timezone": "Europe/Berlin"} | fields
    r = await client.post(P, json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def field_of(resp) -> str:  # type: ignore[no-untyped-def]
    body = assert_error(resp, 422, "VALIDATION_ERROR")
    return body["details"]["field"]  # type: ignore[no-any-return]


async def test_create_read_list_patch(client, admin):
    external_id = ext()
    created = await new_practitioner(client, admin, external_id=external_id, buffer_minutes=10)
    assert created | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "name": "Ada Rivers",
        "timezone": "Europe/Berlin",
        "external_id": external_id,
        "is_active": True,
        "buffer_minutes": 10,
        "slot_step_minutes": 15,
        "availability": [],
        "created_at": "",
        "updated_at": "",
    }
    assert created["created_at"] == created["updated_at"]
    pid = created["id"]
    assert (await client.get(f"{P}/{pid}", headers=admin)).json() == created
    # ?external_id= finds exactly that one
    found = (await client.get(P, params={"external_id": external_id}, headers=admin)).json()
    assert found == {"data": [created], "has_more": False, "next_cursor": None}
    none = (await client.get(P, params={"external_id": ext()}, headers=admin)).json()
    assert none == {"data": [], "has_more": False, "next_cursor": None}

    patched = await client.patch(
        f"{P}/{pid}", json={"name": "Ada R.", "is_active": False, "slot_step_minutes": 30}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    p = patched.json()
    assert (p["name"], p["is_active"], p["slot_step_minutes"], p["buffer_minutes"]) == (
        "Ada R.",
        False,
        30,
        10,
    )
    assert p["updated_at"] > created["updated_at"] and p["created_at"] == created["created_at"]
    # external_id can be cleared with null (it is optional), the other fields cannot
    cleared = await client.patch(f"{P}/{pid}", json={"external_id": None}, headers=admin)
    assert cleared.json()["external_id"] is None
    assert (await client.get(P, params={"external_id": external_id}, headers=admin)).json()["data"] == []


async def test_missing_practitioner_is_404(client, admin):
    for method, path, body in (
        ("GET", f"{P}/999999", None),
        ("PATCH", f"{P}/999999", {"name": "x"}),
        ("PUT", f"{P}/999999/availability", {"windows": []}),
        (
            "POST",
            f"{P}/999999/time-off",
            {"start_time": "2031-01-01T00:00:00Z", "end_time": "2031-01-02T00:00:00Z"},
        ),
        ("GET", f"{P}/999999/time-off", None),
        ("DELETE", f"{P}/999999/time-off/1", None),
    ):
        assert_error(
            await client.request(method, path, json=body, headers=admin), 404, "PRACTITIONER_NOT_FOUND"
        )


async def test_duplicate_external_id_is_409(client, admin):
    taken = ext()
    first = await new_practitioner(client, admin, external_id=taken)
    err = assert_error(
        await client.post(P, json={"name": "B", "timezone": "UTC", "external_id": taken}, headers=admin),
        409,
        "EXTERNAL_ID_TAKEN",
    )
    assert err["details"] == {"field": "external_id", "external_id": taken, "id": first["id"]}
    other = await new_practitioner(client, admin, external_id=ext())
    assert_error(
        await client.patch(f"{P}/{other['id']}", json={"external_id": taken}, headers=admin),
        409,
        "EXTERNAL_ID_TAKEN",
    )
    # keeping its own external id is no conflict
    same = await client.patch(f"{P}/{first['id']}", json={"external_id": taken, "name": "A2"}, headers=admin)
    assert same.status_code == 200, same.text


BAD_PRACTITIONERS = [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "America"}, "timezone"),  # a directory of the tz database, not a zone
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"buffer_minutes": -1}, "buffer_minutes"),
    ({"buffer_minutes": 241}, "buffer_minutes"),
    ({"slot_step_minutes": 4}, "slot_step_minutes"),
    ({"slot_step_minutes": 241}, "slot_step_minutes"),
    ({"external_id": "has space"}, "external_id"),
    ({"external_id": ""}, "external_id"),
    ({"is_active": "maybe"}, "is_active"),
    ({"id": 5}, "id"),
    ({"created_at": "2030-01-01T00:00:00Z"}, "created_at"),
]


@pytest.mark.parametrize(("change", "field"), BAD_PRACTITIONERS)
async def test_bad_practitioner_values_name_the_field(client, admin, change, field):
    body = {"name": "Bad Values", "timezone": "UTC"} | change
    assert field_of(await client.post(P, json=body, headers=admin)) == field
    pid = (await new_practitioner(client, admin))["id"]
    assert field_of(await client.patch(f"{P}/{pid}", json=change, headers=admin)) == field


@pytest.mark.parametrize("field", ["name", "timezone", "is_active", "buffer_minutes", "slot_step_minutes"])
async def test_patch_cannot_null_a_required_field(client, admin, field):
    pid = (await new_practitioner(client, admin))["id"]
    assert field_of(await client.patch(f"{P}/{pid}", json={field: None}, headers=admin)) == field


async def test_required_fields_on_create(client, admin):
    assert field_of(await client.post(P, json={"timezone": "UTC"}, headers=admin)) == "name"
    assert field_of(await client.post(P, json={"name": "No Zone"}, headers=admin)) == "timezone"


# --- availability --------------------------------------------------------------------------


def w(day: int, start: str, end: str) -> dict:
    return {"weekday": day, "start": start, "end": end}


async def test_availability_replaces_the_whole_set(client, admin, factory):
    pid = (await new_practitioner(client, admin))["id"]
    first = [w(0, "09:00", "12:00"), w(0, "12:00", "17:30"), w(6, "20:00", "24:00")]  # adjacent ones touch
    r = await client.put(f"{P}/{pid}/availability", json={"windows": first}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"windows": first}
    async with db(factory) as s:
        rows = (
            await s.execute(
                select(
                    AvailabilityWindow.weekday, AvailabilityWindow.start_minute, AvailabilityWindow.end_minute
                )
                .where(AvailabilityWindow.practitioner_id == pid)
                .order_by(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)
            )
        ).all()
    assert [tuple(x) for x in rows] == [(0, 540, 720), (0, 720, 1050), (6, 1200, 1440)]
    second = [w(2, "10:00", "11:00")]
    assert (await client.put(f"{P}/{pid}/availability", json={"windows": second}, headers=admin)).json() == {
        "windows": second
    }
    assert (await client.get(f"{P}/{pid}", headers=admin)).json()["availability"] == second
    assert (await client.put(f"{P}/{pid}/availability", json={"windows": []}, headers=admin)).json() == {
        "windows": []
    }


BAD_WINDOWS = [
    ([w(0, "09:00", "12:00"), w(1, "09:00", "12:00"), w(0, "11:00", "13:00")], "windows[2].start"),
    ([w(3, "10:00", "11:00"), w(3, "09:00", "17:00")], "windows[0].start"),  # one inside another
    ([w(4, "09:00", "10:00"), w(4, "09:00", "10:00")], "windows[1].start"),  # the same twice
    ([w(0, "09:00", "09:00")], "windows[0].end"),  # empty
    (
        [w(0, "09:00", "12:00"), w(1, "09:00", "12:00"), w(2, "09:00", "12:00"), w(0, "17:00", "16:00")],
        "windows[3].end",
    ),
    ([w(0, "09:00", "24:01")], "windows[0].end"),
    ([w(0, "24:00", "24:00")], "windows[0].start"),
    ([w(0, "9:00", "12:00")], "windows[0].start"),
    ([w(7, "09:00", "12:00")], "windows[0].weekday"),
    ([w(-1, "09:00", "12:00")], "windows[0].weekday"),
    ([w(d % 7, f"{h:02d}:00", f"{h:02d}:30") for d in range(7) for h in range(8)], "windows"),  # 56 > 50
    ([{"weekday": 0, "start": "09:00"}], "windows[0].end"),
    ([w(0, "09:00", "10:00") | {"note": "x"}], "windows[0].note"),
]


@pytest.mark.parametrize(("windows", "field"), BAD_WINDOWS)
async def test_bad_windows_name_the_field_and_change_nothing(client, admin, windows, field):
    pid = (await new_practitioner(client, admin))["id"]
    keep = [w(1, "08:00", "09:00")]
    await client.put(f"{P}/{pid}/availability", json={"windows": keep}, headers=admin)
    assert (
        field_of(await client.put(f"{P}/{pid}/availability", json={"windows": windows}, headers=admin))
        == field
    )
    assert (await client.get(f"{P}/{pid}", headers=admin)).json()["availability"] == keep


async def test_fifty_windows_are_accepted(client, admin):
    pid = (await new_practitioner(client, admin))["id"]
    fifty = [w(d, f"{h:02d}:00", f"{h:02d}:30") for d in range(5) for h in range(10)]
    r = await client.put(f"{P}/{pid}/availability", json={"windows": fifty}, headers=admin)
    assert r.status_code == 200 and len(r.json()["windows"]) == 50


# --- time off ------------------------------------------------------------------------------


async def test_time_off_lists_conflicting_bookings_and_is_accepted(client, admin, factory, make_token):
    """Pending and confirmed bookings inside the period are listed; canceled ones and bookings
    of other practitioners are not; touching is not overlapping."""
    pid = (await new_practitioner(client, admin, timezone="UTC"))["id"]
    await client.put(
        f"{P}/{pid}/availability", json={"windows": [w(d, "08:00", "20:00") for d in range(7)]}, headers=admin
    )
    sid = (
        await client.post(
            f"{API}/admin/services",
            json={
                "type": "session",
                "name": "TO",
                "practitioner_id": pid,
                "price_cents": 5000,
                "duration_minutes": 60,
            },
            headers=admin,
        )
    ).json()["id"]
    async with db(factory) as s:
        user = await make_user(s)
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    day = (datetime.now(UTC) + timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    booked = []
    for hour in (9, 12, 15):
        start = day + timedelta(hours=hour)
        created = await create_ok(
            client,
            headers,
            session_body(
                start.isoformat(),
                (start + timedelta(hours=1)).isoformat(),
                service_id=sid,
                practitioner_id=pid,
            ),
        )
        booked.append(created)
    # one booking canceled: it no longer holds time
    async with db(factory) as s:
        from estuary_checkout.bookings.models import Booking

        rows = (
            (
                await s.execute(
                    select(Booking).where(Booking.practitioner_id == pid).order_by(Booking.start_at)
                )
            )
            .scalars()
            .all()
        )
        rows[1].status = "canceled"
        ids = [r.id for r in rows]
    body = {
        "start_time": (day + timedelta(hours=10)).isoformat(),  # touches the 9:00 booking's end
        "end_time": (day + timedelta(hours=15, minutes=30)).isoformat(),
        "reason": "workshop",
    }
    r = await client.post(f"{P}/{pid}/time-off", json=body, headers=admin)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["conflicting_booking_ids"] == [ids[2]]
    assert (out["practitioner_id"], out["reason"]) == (pid, "workshop")
    assert datetime.fromisoformat(out["start_time"]) == day + timedelta(hours=10)
    # a period over two confirmed/pending bookings lists both, oldest start first
    r2 = await client.post(
        f"{P}/{pid}/time-off",
        json={"start_time": day.isoformat(), "end_time": (day + timedelta(days=1)).isoformat()},
        headers=admin,
    )
    assert r2.json()["conflicting_booking_ids"] == [ids[0], ids[2]]


async def test_time_off_list_and_delete(client, admin, factory):
    pid = (await new_practitioner(client, admin))["id"]
    other = (await new_practitioner(client, admin))["id"]
    made = []
    for i in range(3):
        r = await client.post(
            f"{P}/{pid}/time-off",
            json={
                "start_time": f"2031-0{i + 1}-01T00:00:00+02:00",
                "end_time": f"2031-0{i + 1}-03T00:00:00+02:00",
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    # stored and shown in UTC
    assert made[0]["start_time"] == "2030-12-31T22:00:00Z"
    listed = (await client.get(f"{P}/{pid}/time-off", headers=admin)).json()
    assert [t["id"] for t in listed["data"]] == [t["id"] for t in reversed(made)]  # newest first
    assert {k for k in listed["data"][0]} == {
        "id",
        "practitioner_id",
        "start_time",
        "end_time",
        "reason",
        "created_at",
    }
    # another practitioner's time off id is 404 here, and nothing is deleted
    assert_error(
        await client.delete(f"{P}/{other}/time-off/{made[0]['id']}", headers=admin), 404, "TIME_OFF_NOT_FOUND"
    )
    r = await client.delete(f"{P}/{pid}/time-off/{made[0]['id']}", headers=admin)
    assert r.status_code == 204 and r.content == b""
    assert_error(
        await client.delete(f"{P}/{pid}/time-off/{made[0]['id']}", headers=admin), 404, "TIME_OFF_NOT_FOUND"
    )
    async with db(factory) as s:
        left = (
            (await s.execute(select(TimeOff.id).where(TimeOff.practitioner_id == pid).order_by(TimeOff.id)))
            .scalars()
            .all()
        )
    assert list(left) == [made[1]["id"], made[2]["id"]]


BAD_TIME_OFF = [
    ({"start_time": "2031-01-02T00:00:00Z", "end_time": "2031-01-01T00:00:00Z"}, "end_time"),
    ({"start_time": "2031-01-01T00:00:00Z", "end_time": "2031-01-01T00:00:00Z"}, "end_time"),
    ({"start_time": "2031-01-01T00:00:00Z", "end_time": "2032-01-02T00:00:01Z"}, "end_time"),  # > 366 days
    ({"start_time": "2031-01-01T00:00:00", "end_time": "2031-01-02T00:00:00Z"}, "start_time"),  # naive
    ({"start_time": "2031-01-01T00:00:00Z", "end_time": "tomorrow"}, "end_time"),
    # past the end of datetime's range once in UTC (was an OverflowError, a 500)
    ({"start_time": "9999-12-31T23:00:00-05:00", "end_time": "9999-12-31T23:30:00-05:00"}, "start_time"),
    ({"start_time": "2031-01-01T00:00:00Z"}, "end_time"),
    (
        {"start_time": "2031-01-01T00:00:00Z", "end_time": "2031-01-02T00:00:00Z", "reason": "x" * 501},
        "reason",
    ),
    (
        {"start_time": "2031-01-01T00:00:00Z", "end_time": "2031-01-02T00:00:00Z", "practitioner_id": 1},
        "practitioner_id",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_TIME_OFF)
async def test_bad_time_off_names_the_field(client, admin, factory, body, field):
    pid = (await new_practitioner(client, admin))["id"]
    assert field_of(await client.post(f"{P}/{pid}/time-off", json=body, headers=admin)) == field
    async with db(factory) as s:
        assert (await s.execute(select(TimeOff).where(TimeOff.practitioner_id == pid))).first() is None


async def test_time_off_of_exactly_366_days_is_accepted(client, admin):
    pid = (await new_practitioner(client, admin))["id"]
    r = await client.post(
        f"{P}/{pid}/time-off",
        json={"start_time": "2031-01-01T00:00:00Z", "end_time": "2032-01-02T00:00:00Z"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
