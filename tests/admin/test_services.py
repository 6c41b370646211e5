"""Admin services (SPEC 10.2): sessions, bundles and packages, their prices per currency, and a
422 naming the field for every value the catalog cannot hold."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.admin.test_practitioners import ext, field_of, new_practitioner
from tests.checkout.helpers import API, assert_error, db

from estuary_checkout.catalog.models import PackageChild, Service, ServicePrice

S = f"{API}/admin/services"


async def new_service(client, admin, **fields) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post(S, json=fields, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def session_fields(pid: int, **kw: object) -> dict:
    return {
        "type": "session",
        "name": "Yin Yoga",
        "practitioner_id": pid,
        "price_cents": 7000,
        "duration_minutes": 60,
    } | kw


@pytest.fixture
async def shop(client, admin):  # type: ignore[no-untyped-def]
    """A practitioner with two sessions, a bundle and a package of their own; another
    practitioner with a session."""
    pid = (await new_practitioner(client, admin, timezone="UTC"))["id"]
    other = (await new_practitioner(client, admin, timezone="UTC"))["id"]
    a = await new_service(client, admin, **session_fields(pid, name="A"))
    b = await new_service(
        client, admin, **session_fields(pid, name="B", price_cents=5000, duration_minutes=45)
    )
    foreign = await new_service(client, admin, **session_fields(other, name="Elsewhere"))
    eur = await new_service(client, admin, **session_fields(pid, name="In euros", currency="eur"))
    bundle = await new_service(
        client,
        admin,
        type="bundle",
        name="A x5",
        practitioner_id=pid,
        price_cents=30000,
        bundle={"child_service_id": a["id"], "sessions_included": 5},
    )
    package = await new_service(
        client,
        admin,
        type="package",
        name="A+B",
        practitioner_id=pid,
        package={
            "children": [
                {"service_id": a["id"]},
                {"service_id": b["id"], "is_required": False, "discount_percentage": 20},
            ]
        },
    )
    return {
        "pid": pid,
        "other": other,
        "a": a,
        "b": b,
        "foreign": foreign,
        "eur": eur,
        "bundle": bundle,
        "package": package,
    }


async def test_create_each_type_and_read_it_back(client, admin, shop):
    a, bundle, package = shop["a"], shop["bundle"], shop["package"]
    assert a | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "type": "session",
        "name": "A",
        "description": None,
        "practitioner_id": shop["pid"],
        "price_cents": 7000,
        "currency": "usd",
        "prices": [{"currency": "usd", "amount_cents": 7000}],
        "duration_minutes": 60,
        "bundle": None,
        "package": None,
        "is_active": True,
        "available_from": None,
        "available_until": None,
        "max_per_customer": 5,
        "external_id": None,
        "created_at": "",
        "updated_at": "",
    }
    assert bundle["bundle"] == {
        "child_service_id": a["id"],
        "sessions_included": 5,
        "bonus_sessions": 0,
        "validity_days": None,
    }
    assert bundle["duration_minutes"] is None and bundle["package"] is None
    assert package["price_cents"] is None and package["prices"] == []
    assert package["package"] == {
        "children": [
            {"service_id": a["id"], "quantity": 1, "is_required": True, "discount_percentage": 0},
            {"service_id": shop["b"]["id"], "quantity": 1, "is_required": False, "discount_percentage": 20},
        ]
    }
    for s in (a, bundle, package):
        assert (await client.get(f"{S}/{s['id']}", headers=admin)).json() == s
    assert_error(await client.get(f"{S}/999999", headers=admin), 404, "SERVICE_NOT_FOUND")
    assert_error(
        await client.patch(f"{S}/999999", json={"name": "x"}, headers=admin), 404, "SERVICE_NOT_FOUND"
    )


async def test_the_admin_view_is_the_public_view_plus_admin_fields(client, admin, shop):
    from estuary_checkout.catalog.admin_schemas import ServiceAdmin
    from estuary_checkout.catalog.schemas import ServicePublic

    extra = set(ServiceAdmin.model_fields) - set(ServicePublic.model_fields)
    assert extra == {
        "is_active",
        "available_from",
        "available_until",
        "max_per_customer",
        "external_id",
        "created_at",
        "updated_at",
    }
    assert set(shop["package"]) == set(ServiceAdmin.model_fields)


async def test_prices_in_other_currencies(client, admin, factory, shop):
    pid = shop["pid"]
    s = await new_service(
        client,
        admin,
        **session_fields(
            pid,
            prices=[
                {"currency": "jpy", "amount_cents": 15000},
                {"currency": "usd", "amount_cents": 7000},
                {"currency": "eur", "amount_cents": 6500},
            ],
        ),
    )
    # the default currency first, then the others by code; only the others are ServicePrice rows
    assert s["prices"] == [
        {"currency": "usd", "amount_cents": 7000},
        {"currency": "eur", "amount_cents": 6500},
        {"currency": "jpy", "amount_cents": 15000},
    ]
    # prices may set the default price when price_cents is left out
    t = await new_service(
        client,
        admin,
        **{k: v for k, v in session_fields(pid).items() if k != "price_cents"},
        prices=[{"currency": "usd", "amount_cents": 4100}],
    )
    assert t["price_cents"] == 4100
    # PATCH prices replaces the other currencies (and keeps the default)
    patched = await client.patch(
        f"{S}/{s['id']}", json={"prices": [{"currency": "gbp", "amount_cents": 6000}]}, headers=admin
    )
    assert patched.json()["prices"] == [
        {"currency": "usd", "amount_cents": 7000},
        {"currency": "gbp", "amount_cents": 6000},
    ]
    async with db(factory) as session:
        rows = (
            await session.execute(
                select(ServicePrice.currency, ServicePrice.amount_cents).where(
                    ServicePrice.service_id == s["id"]
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [("gbp", 6000)]
    # a PATCH of price_cents alone keeps the other currencies
    again = await client.patch(f"{S}/{s['id']}", json={"price_cents": 7100}, headers=admin)
    assert again.json()["prices"] == [
        {"currency": "usd", "amount_cents": 7100},
        {"currency": "gbp", "amount_cents": 6000},
    ]


async def test_patch_fields_and_children(client, admin, factory, shop):
    package = shop["package"]
    r = await client.patch(
        f"{S}/{package['id']}",
        json={
            "description": "Body and mind",
            "price_cents": 11000,
            "max_per_customer": 2,
            "available_from": "2030-01-01T00:00:00+01:00",
            "package": {
                "children": [{"service_id": shop["b"]["id"], "quantity": 2, "discount_percentage": 5}]
            },
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["description"], p["price_cents"], p["max_per_customer"], p["available_from"]) == (
        "Body and mind",
        11000,
        2,
        "2029-12-31T23:00:00Z",
    )
    assert p["package"]["children"] == [
        {"service_id": shop["b"]["id"], "quantity": 2, "is_required": True, "discount_percentage": 5}
    ]
    async with db(factory) as s:
        kids = (
            (
                await s.execute(
                    select(PackageChild.child_service_id).where(PackageChild.package_id == package["id"])
                )
            )
            .scalars()
            .all()
        )
    assert list(kids) == [shop["b"]["id"]]
    # a package's price can go back to computed, a description can be cleared
    back = await client.patch(
        f"{S}/{package['id']}", json={"price_cents": None, "description": None}, headers=admin
    )
    assert (back.json()["price_cents"], back.json()["description"]) == (None, None)
    # retire (no hard delete): still readable
    off = await client.patch(f"{S}/{package['id']}", json={"is_active": False}, headers=admin)
    assert off.json()["is_active"] is False
    assert (await client.get(f"{S}/{package['id']}", headers=admin)).json()["is_active"] is False
    # bundle terms are replaced as a whole
    bundle = shop["bundle"]
    r = await client.patch(
        f"{S}/{bundle['id']}",
        json={
            "bundle": {
                "child_service_id": shop["b"]["id"],
                "sessions_included": 3,
                "bonus_sessions": 1,
                "validity_days": 90,
            }
        },
        headers=admin,
    )
    assert r.json()["bundle"] == {
        "child_service_id": shop["b"]["id"],
        "sessions_included": 3,
        "bonus_sessions": 1,
        "validity_days": 90,
    }


async def test_external_id_lookup_and_conflicts(client, admin, shop):
    taken = ext()
    s = await new_service(client, admin, **session_fields(shop["pid"], external_id=taken))
    found = (await client.get(S, params={"external_id": taken}, headers=admin)).json()
    assert found == {"data": [s], "has_more": False, "next_cursor": None}
    assert_error(
        await client.post(S, json=session_fields(shop["pid"], external_id=taken), headers=admin),
        409,
        "EXTERNAL_ID_TAKEN",
    )
    assert_error(
        await client.patch(f"{S}/{shop['a']['id']}", json={"external_id": taken}, headers=admin),
        409,
        "EXTERNAL_ID_TAKEN",
    )
    # the same external id may name a practitioner and a service (unique per entity type)
    await new_practitioner(client, admin, external_id=taken)


def _bad_cases(shop: dict) -> list[tuple[str, dict, str]]:
    """(what, body, field): each a create body that must be refused naming `field`."""
    pid, a, b = shop["pid"], shop["a"]["id"], shop["b"]["id"]
    ok = session_fields(pid)
    bundle = {
        "type": "bundle",
        "name": "Bx",
        "practitioner_id": pid,
        "price_cents": 100,
        "bundle": {"child_service_id": a, "sessions_included": 2},
    }
    package = {
        "type": "package",
        "name": "Px",
        "practitioner_id": pid,
        "package": {"children": [{"service_id": a}]},
    }
    return [
        ("negative price", ok | {"price_cents": -1}, "price_cents"),
        ("price over 8 digits", ok | {"price_cents": 100_000_000}, "price_cents"),
        (
            "negative other price",
            ok | {"prices": [{"currency": "eur", "amount_cents": -5}]},
            "prices[0].amount_cents",
        ),
        ("currency upper-case", ok | {"currency": "USD"}, "currency"),
        ("currency 4 letters", ok | {"currency": "usdt"}, "currency"),
        (
            "price currency not 3 letters",
            ok | {"prices": [{"currency": "eu", "amount_cents": 5}]},
            "prices[0].currency",
        ),
        (
            "duplicate currencies",
            ok
            | {
                "prices": [
                    {"currency": "eur", "amount_cents": 5},
                    {"currency": "gbp", "amount_cents": 5},
                    {"currency": "eur", "amount_cents": 6},
                ]
            },
            "prices[2].currency",
        ),
        (
            "default price disagrees",
            ok | {"prices": [{"currency": "usd", "amount_cents": 1}]},
            "prices[0].amount_cents",
        ),
        (
            "session without duration",
            {k: v for k, v in ok.items() if k != "duration_minutes"},
            "duration_minutes",
        ),
        ("session without price", {k: v for k, v in ok.items() if k != "price_cents"}, "price_cents"),
        ("bundle with a duration", bundle | {"duration_minutes": 30}, "duration_minutes"),
        ("unknown type", ok | {"type": "course"}, "type"),
        ("unknown practitioner", ok | {"practitioner_id": 999999}, "practitioner_id"),
        ("practitioner id past 32 bits", ok | {"practitioner_id": 2**63}, "practitioner_id"),
        ("bundle without terms", {k: v for k, v in bundle.items() if k != "bundle"}, "bundle"),
        ("bundle without price", {k: v for k, v in bundle.items() if k != "price_cents"}, "price_cents"),
        (
            "bundle of a bundle",
            bundle | {"bundle": {"child_service_id": shop["bundle"]["id"], "sessions_included": 2}},
            "bundle.child_service_id",
        ),
        (
            "bundle of a package",
            bundle | {"bundle": {"child_service_id": shop["package"]["id"], "sessions_included": 2}},
            "bundle.child_service_id",
        ),
        (
            "bundle of an unknown child",
            bundle | {"bundle": {"child_service_id": 999999, "sessions_included": 2}},
            "bundle.child_service_id",
        ),
        (
            "bundle of another practitioner's session",
            bundle | {"bundle": {"child_service_id": shop["foreign"]["id"], "sessions_included": 2}},
            "bundle.child_service_id",
        ),
        (
            "bundle of 0 sessions",
            bundle | {"bundle": {"child_service_id": a, "sessions_included": 0}},
            "bundle.sessions_included",
        ),
        (
            "bundle with negative bonus",
            bundle | {"bundle": {"child_service_id": a, "sessions_included": 1, "bonus_sessions": -1}},
            "bundle.bonus_sessions",
        ),
        ("package terms on a session", ok | {"package": {"children": [{"service_id": b}]}}, "package"),
        (
            "bundle terms on a session",
            ok | {"bundle": {"child_service_id": b, "sessions_included": 1}},
            "bundle",
        ),
        (
            "bundle terms on a package",
            package | {"bundle": {"child_service_id": b, "sessions_included": 1}},
            "bundle",
        ),
        ("package without children", {k: v for k, v in package.items() if k != "package"}, "package"),
        ("package with an empty list", package | {"package": {"children": []}}, "package.children"),
        (
            "package holding a bundle",
            package | {"package": {"children": [{"service_id": a}, {"service_id": shop["bundle"]["id"]}]}},
            "package.children[1].service_id",
        ),
        (
            "package holding a package",
            package | {"package": {"children": [{"service_id": shop["package"]["id"]}]}},
            "package.children[0].service_id",
        ),
        (
            "package holding an unknown child",
            package | {"package": {"children": [{"service_id": 999999}]}},
            "package.children[0].service_id",
        ),
        (
            "package holding one child twice",
            package | {"package": {"children": [{"service_id": a}, {"service_id": a}]}},
            "package.children[1].service_id",
        ),
        (
            "package child of another practitioner",
            package | {"package": {"children": [{"service_id": shop["foreign"]["id"]}]}},
            "package.children[0].service_id",
        ),
        (
            "package child in another currency",
            package | {"package": {"children": [{"service_id": shop["eur"]["id"]}]}},
            "package.children[0].service_id",
        ),
        (
            "package child quantity 11",
            package | {"package": {"children": [{"service_id": a, "quantity": 11}]}},
            "package.children[0].quantity",
        ),
        (
            "package child discount 101",
            package | {"package": {"children": [{"service_id": a, "discount_percentage": 101}]}},
            "package.children[0].discount_percentage",
        ),
        (
            "computed package with prices",
            package | {"prices": [{"currency": "eur", "amount_cents": 5}]},
            "prices",
        ),
        (
            "sales window backwards",
            ok | {"available_from": "2031-01-02T00:00:00Z", "available_until": "2031-01-01T00:00:00Z"},
            "available_until",
        ),
        ("naive sales window", ok | {"available_from": "2031-01-02T00:00:00"}, "available_from"),
        ("max_per_customer 0", ok | {"max_per_customer": 0}, "max_per_customer"),
        ("empty name", ok | {"name": ""}, "name"),
        ("read-only id", ok | {"id": 5}, "id"),
        ("read-only created_at", ok | {"created_at": "2031-01-01T00:00:00Z"}, "created_at"),
    ]


async def test_every_bad_value_is_422_naming_the_field_and_writes_nothing(client, admin, factory, shop):
    async with db(factory) as s:
        before = (await s.execute(select(Service.id).order_by(Service.id.desc()).limit(1))).scalar_one()
    for what, body, field in _bad_cases(shop):
        got = field_of(await client.post(S, json=body, headers=admin))
        assert got == field, (what, got)
    async with db(factory) as s:
        after = (await s.execute(select(Service.id).order_by(Service.id.desc()).limit(1))).scalar_one()
    assert after == before


async def test_bad_patches_name_the_field_and_change_nothing(client, admin, shop):
    a, bundle, package = shop["a"], shop["bundle"], shop["package"]
    cases = [
        (a, {"type": "bundle"}, "type"),
        (package, {"type": "session"}, "type"),
        (a, {"duration_minutes": None}, "duration_minutes"),
        (a, {"price_cents": None}, "price_cents"),
        (a, {"name": None}, "name"),
        (a, {"currency": None}, "currency"),
        (a, {"prices": None}, "prices"),
        (a, {"is_active": None}, "is_active"),
        (a, {"practitioner_id": 999999}, "practitioner_id"),
        (a, {"package": {"children": [{"service_id": shop["b"]["id"]}]}}, "package"),
        (bundle, {"bundle": None}, "bundle"),
        (
            bundle,
            {"bundle": {"child_service_id": bundle["id"], "sessions_included": 1}},
            "bundle.child_service_id",
        ),
        (
            package,
            {"package": {"children": [{"service_id": package["id"]}]}},
            "package.children[0].service_id",
        ),
        (package, {"package": None}, "package"),
        # a session that a bundle and a package hold stays with their practitioner and currency
        (a, {"practitioner_id": shop["other"]}, "practitioner_id"),
        (a, {"currency": "eur", "price_cents": 100}, "currency"),
        # moving the package to another practitioner: its children are not theirs
        (package, {"practitioner_id": shop["other"]}, "package.children[0].service_id"),
    ]
    for target, patch, field in cases:
        got = field_of(await client.patch(f"{S}/{target['id']}", json=patch, headers=admin))
        assert got == field, (patch, got)
        assert (await client.get(f"{S}/{target['id']}", headers=admin)).json() == target, patch
    # the same type is not a change
    same = await client.patch(f"{S}/{a['id']}", json={"type": "session", "name": "A again"}, headers=admin)
    assert same.status_code == 200 and same.json()["name"] == "A again"


async def test_list_is_newest_first_with_inactive_ones(client, admin, shop):
    listed = (await client.get(S, params={"limit": 6}, headers=admin)).json()
    ids = [s["id"] for s in listed["data"]]
    mine = [shop[k]["id"] for k in ("package", "bundle", "eur", "foreign", "b", "a")]
    assert ids == mine, (ids, mine)
    assert listed["has_more"] is True and listed["next_cursor"]


async def test_unknown_field_names_the_field(client, admin, shop):
    assert (
        field_of(await client.post(S, json=session_fields(shop["pid"], colour="red"), headers=admin))
        == "colour"
    )
    assert (
        field_of(await client.patch(f"{S}/{shop['a']['id']}", json={"redeemed_count": 1}, headers=admin))
        == "redeemed_count"
    )
