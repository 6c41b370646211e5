"""The audit log (SPEC 10.4): one row per admin write in the write's transaction, none for a
write that fails, never updated or deleted (the database refuses), readable by filter."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.admin.test_coupons_admin import new_coupon
from tests.admin.test_practitioners import P, ext, new_practitioner, w
from tests.admin.test_services import S, new_service, session_fields
from tests.checkout.helpers import API, assert_error, db

from estuary_checkout.audit.models import AuditLog

AUDIT = f"{API}/admin/audit"


async def _rows(factory, actor: str) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        return list(
            (
                await s.execute(select(AuditLog).where(AuditLog.actor_sub == actor).order_by(AuditLog.id))
            ).scalars()
        )


async def test_one_row_per_write_with_before_after_and_request_id(client, admin, admin_sub, factory):
    """Each admin write route once; the rows, in order, with what they changed."""
    writes = []

    async def call(method: str, path: str, body: object = None) -> dict:
        r = await client.request(
            method, path, json=body, headers=admin | {"X-Request-Id": f"req-{len(writes)}"}
        )
        assert r.status_code in (200, 201, 204), r.text
        writes.append((method, path))
        return r.json() if r.content else {}

    p = await call("POST", P, {"name": "Audited", "timezone": "UTC"})
    await call("PATCH", f"{P}/{p['id']}", {"buffer_minutes": 5})
    await call("PUT", f"{P}/{p['id']}/availability", {"windows": [w(0, "09:00", "10:00")]})
    t = await call(
        "POST",
        f"{P}/{p['id']}/time-off",
        {"start_time": "2031-05-01T00:00:00Z", "end_time": "2031-05-02T00:00:00Z"},
    )
    await call("DELETE", f"{P}/{p['id']}/time-off/{t['id']}")
    s = await call("POST", S, session_fields(p["id"]))
    await call("PATCH", f"{S}/{s['id']}", {"price_cents": 7500})
    c = await call("POST", f"{API}/admin/coupons", {"code": ext().replace("-", "_")[:30], "percent_off": 5})
    await call("PATCH", f"{API}/admin/coupons/{c['code']}", {"percent_off": 6})

    rows = await _rows(factory, admin_sub)
    assert [(r.action, r.entity, r.entity_id, r.request_id) for r in rows] == [
        ("create", "practitioner", str(p["id"]), "req-0"),
        ("update", "practitioner", str(p["id"]), "req-1"),
        ("set_availability", "practitioner", str(p["id"]), "req-2"),
        ("create", "time_off", str(t["id"]), "req-3"),
        ("delete", "time_off", str(t["id"]), "req-4"),
        ("create", "service", str(s["id"]), "req-5"),
        ("update", "service", str(s["id"]), "req-6"),
        ("create", "coupon", c["code"], "req-7"),
        ("update", "coupon", c["code"], "req-8"),
    ]
    assert len(rows) == len(writes)
    create, update, windows, time_off, deleted = rows[:5]
    assert create.before is None and create.after["name"] == "Audited"
    assert (update.before["buffer_minutes"], update.after["buffer_minutes"]) == (0, 5)
    assert (windows.before["availability"], windows.after["availability"]) == ([], [w(0, "09:00", "10:00")])
    assert time_off.before is None and time_off.after["start_time"] == "2031-05-01T00:00:00Z"
    assert deleted.before == time_off.after and deleted.after is None
    assert (rows[6].before["price_cents"], rows[6].after["price_cents"]) == (7000, 7500)
    assert (rows[8].before["percent_off"], rows[8].after["percent_off"]) == (5, 6)

    # the API shows the same rows, newest first, filtered
    listed = (await client.get(AUDIT, params={"actor": admin_sub, "limit": 100}, headers=admin)).json()
    assert [e["id"] for e in listed["data"]] == [r.id for r in reversed(rows)]
    first = listed["data"][-1]
    assert set(first) == {
        "id",
        "at",
        "actor_sub",
        "action",
        "entity",
        "entity_id",
        "before",
        "after",
        "request_id",
    }
    assert (first["actor_sub"], first["request_id"], first["before"]) == (admin_sub, "req-0", None)
    by_entity = (
        await client.get(AUDIT, params={"entity": "practitioner", "entity_id": str(p["id"])}, headers=admin)
    ).json()
    assert [e["action"] for e in by_entity["data"]] == ["set_availability", "update", "create"]
    coupon_rows = (
        await client.get(AUDIT, params={"entity": "coupon", "actor": admin_sub}, headers=admin)
    ).json()
    assert [e["entity_id"] for e in coupon_rows["data"]] == [c["code"], c["code"]]


async def test_request_id_is_the_middlewares_when_the_client_sends_none(client, admin, admin_sub, factory):
    r = await client.post(P, json={"name": "No Header", "timezone": "UTC"}, headers=admin)
    (row,) = await _rows(factory, admin_sub)
    assert row.request_id and row.request_id == r.headers["x-request-id"]


async def test_reads_and_failed_writes_leave_no_row(client, admin, admin_sub, factory):
    p = await new_practitioner(client, admin, external_id=ext())
    s = await new_service(client, admin, **session_fields(p["id"]))
    c = await new_coupon(client, admin)
    count = len(await _rows(factory, admin_sub))
    assert count == 3
    await client.get(f"{P}/{p['id']}", headers=admin)
    await client.get(P, headers=admin)
    await client.get(f"{S}/{s['id']}", headers=admin)
    await client.get(AUDIT, headers=admin)
    failing = [
        ("POST", P, {"name": "Dup", "timezone": "UTC", "external_id": p["external_id"]}, 409),
        ("POST", P, {"name": "Bad", "timezone": "Nowhere/Land"}, 422),
        ("PATCH", f"{P}/{p['id']}", {"buffer_minutes": 999}, 422),
        ("PATCH", f"{P}/999999", {"name": "x"}, 404),
        (
            "PUT",
            f"{P}/{p['id']}/availability",
            {"windows": [w(0, "09:00", "11:00"), w(0, "10:00", "12:00")]},
            422,
        ),
        (
            "POST",
            f"{P}/{p['id']}/time-off",
            {"start_time": "2031-01-02T00:00:00Z", "end_time": "2031-01-01T00:00:00Z"},
            422,
        ),
        ("DELETE", f"{P}/{p['id']}/time-off/999999", None, 404),
        ("POST", S, session_fields(p["id"], price_cents=-1), 422),
        ("PATCH", f"{S}/{s['id']}", {"type": "bundle"}, 422),
        ("POST", f"{API}/admin/coupons", {"code": c["code"], "percent_off": 5}, 409),
        ("PATCH", f"{API}/admin/coupons/{c['code']}", {"percent_off": 500}, 422),
    ]
    for method, path, body, status in failing:
        r = await client.request(method, path, json=body, headers=admin)
        assert r.status_code == status, (path, r.text)
    assert len(await _rows(factory, admin_sub)) == count


async def test_the_row_shares_the_writes_transaction(client, admin, admin_sub, factory):
    """Written and rolled back together: a write whose transaction fails after the row was
    added leaves neither; a write the database refuses (an external id taken behind the API's
    back, past its own check) leaves no row either."""
    from estuary_checkout.audit.service import Actor
    from estuary_checkout.catalog import admin_service
    from estuary_checkout.catalog.admin_schemas import PractitionerCreate
    from estuary_checkout.catalog.errors import ExternalIdTaken
    from estuary_checkout.catalog.models import Practitioner

    actor = Actor(sub=admin_sub, request_id="direct")
    fresh = ext()
    with pytest.raises(RuntimeError, match="commit fails"):
        async with db(factory) as s:
            await admin_service.create_practitioner(
                s, actor, PractitionerCreate(name="Gone", timezone="UTC", external_id=fresh)
            )
            inside = (
                (await s.execute(select(AuditLog).where(AuditLog.actor_sub == admin_sub))).scalars().all()
            )
            assert [r.entity for r in inside] == ["practitioner"]  # the row was there, in this transaction
            raise RuntimeError("the commit fails")
    assert await _rows(factory, admin_sub) == []
    async with db(factory) as s:
        assert (
            await s.execute(select(Practitioner).where(Practitioner.external_id == fresh))
        ).first() is None

    taken = (await new_practitioner(client, admin, external_id=ext()))["external_id"]
    with pytest.raises(ExternalIdTaken):
        async with db(factory) as s:
            await admin_service.write_practitioner(
                s,
                actor,
                None,
                PractitionerCreate(name="Late", timezone="UTC", external_id=taken).model_dump(),
            )
    (api_create,) = await _rows(factory, admin_sub)  # the API's create only
    assert api_create.request_id != "direct"


async def test_rows_cannot_be_updated_or_deleted_in_the_database(
    client, admin, admin_sub, factory, is_postgres
):
    await new_practitioner(client, admin)
    (row,) = await _rows(factory, admin_sub)
    for sql in (
        f"UPDATE audit_log SET action = 'forged' WHERE id = {row.id}",
        f"UPDATE audit_log SET after = NULL WHERE id = {row.id}",
        f"DELETE FROM audit_log WHERE id = {row.id}",
        "DELETE FROM audit_log",
        *(["TRUNCATE audit_log"] if is_postgres else []),
    ):
        with pytest.raises((IntegrityError, DBAPIError)) as caught:
            async with db(factory) as s:
                await s.execute(text(sql))
        assert "append-only" in str(caught.value), sql
    (again,) = await _rows(factory, admin_sub)
    assert (again.id, again.action, again.after) == (row.id, row.action, row.after)
    async with db(factory) as s:
        assert (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one() >= 1


async def test_audit_list_validates_its_filters(client, admin):
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"entity": ""}, "entity"),
        ({"cursor": "not a cursor!"}, "cursor"),
    ):
        body = assert_error(await client.get(AUDIT, params=params, headers=admin), 422, "VALIDATION_ERROR")
        assert body["details"]["field"] == field
    assert_error(await client.get(AUDIT, params={"cursor": "WzEsMl0"}, headers=admin), 422, "INVALID_CURSOR")
