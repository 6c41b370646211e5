"""Lists (SPEC part two): limit 1..100 (default 20), an opaque cursor, newest first, and no
duplicates or gaps when rows are added between two page reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from tests.admin.test_coupons_admin import new_coupon
from tests.admin.test_practitioners import P, new_practitioner
from tests.checkout.helpers import API, assert_error

from estuary_checkout.pagination import encode_cursor


async def _walk(client, admin, path: str, limit: int, between=None) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every item of a list, page by page; `between()` runs after each page."""
    items: list[dict] = []
    cursor = None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await client.get(path, params=params, headers=admin)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"data", "has_more", "next_cursor"}
        assert len(page["data"]) <= limit
        items += page["data"]
        assert page["has_more"] == (page["next_cursor"] is not None)
        if not page["has_more"]:
            return items
        cursor = page["next_cursor"]
        if between is not None:
            await between()


async def test_rows_added_between_pages_cause_no_duplicates_or_gaps(client, admin):
    """Walk the practitioners 3 at a time while two more are created after every page: the walk
    returns exactly the rows that existed when it began, each once, newest first."""
    for _ in range(7):
        await new_practitioner(client, admin)
    before = await _walk(client, admin, P, 100)
    added: list[int] = []

    async def add() -> None:
        for _ in range(2):
            added.append((await new_practitioner(client, admin))["id"])

    walked = await _walk(client, admin, P, 3, between=add)
    ids = [p["id"] for p in walked]
    assert len(ids) == len(set(ids)), "duplicates"
    assert ids == [p["id"] for p in before], "gaps or another order"
    assert added and not set(added) & set(ids)  # the new ones are on a page before the cursor
    after = await _walk(client, admin, P, 100)
    assert [p["id"] for p in after] == list(reversed(added)) + ids


async def test_newest_first_and_default_limit(client, admin):
    made = [(await new_coupon(client, admin))["code"] for _ in range(3)]
    page = (await client.get(f"{API}/admin/coupons", headers=admin)).json()
    assert [c["code"] for c in page["data"][:3]] == list(reversed(made))
    assert len(page["data"]) <= 20
    for _ in range(21 - len(page["data"])):
        await new_coupon(client, admin)
    page = (await client.get(f"{API}/admin/coupons", headers=admin)).json()
    assert len(page["data"]) == 20 and page["has_more"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/admin/practitioners",
        "/admin/services",
        "/admin/coupons",
        "/admin/audit",
    ],
)
async def test_every_list_walks_to_the_end_and_checks_its_parameters(client, admin, path):
    items = await _walk(client, admin, f"{API}{path}", 7)
    keys = [(i.get("id") or i.get("code")) for i in items]
    assert len(keys) == len(set(keys))
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "!"}, "cursor"),
    ):
        body = assert_error(
            await client.get(f"{API}{path}", params=params, headers=admin), 422, "VALIDATION_ERROR"
        )
        assert body["details"]["field"] == field
    # a cursor of another shape or with values of other types (another list's, or made up) is
    # refused, not a comparison the database fails on
    for forged in (["x"], ["x", "y"], [datetime(2030, 1, 1, tzinfo=UTC), "x"], [1, 2], [uuid.uuid4(), 1]):
        r = await client.get(f"{API}{path}", params={"cursor": encode_cursor(forged)}, headers=admin)
        assert_error(r, 422, "INVALID_CURSOR")


async def test_time_off_list_pages(client, admin):
    pid = (await new_practitioner(client, admin))["id"]
    made = []
    for day in range(1, 6):
        r = await client.post(
            f"{P}/{pid}/time-off",
            json={"start_time": f"2031-02-0{day}T00:00:00Z", "end_time": f"2031-02-0{day}T12:00:00Z"},
            headers=admin,
        )
        made.append(r.json()["id"])
    walked = await _walk(client, admin, f"{P}/{pid}/time-off", 2)
    assert [t["id"] for t in walked] == list(reversed(made))
