"""Admin coupons (SPEC 10.2, amounts per currency as in 14): create, read, list, patch; fixed
amounts apply only in their currencies at checkout."""

from __future__ import annotations

import uuid

import pytest
from tests.admin.test_practitioners import field_of, new_practitioner, w
from tests.admin.test_services import new_service, session_fields
from tests.checkout.helpers import API, assert_error, db, figures, future_slot, make_user, session_body

C = f"{API}/admin/coupons"


def code() -> str:
    return f"Adm{uuid.uuid4().hex[:10]}"


async def new_coupon(client, admin, **fields) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post(C, json={"code": code(), "percent_off": 15} | fields, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_create_read_patch(client, admin):
    raw = code()
    created = await new_coupon(
        client,
        admin,
        code=raw,
        percent_off=None,
        amount_off={"usd": 500, "eur": 450},
        starts_at="2030-01-01T00:00:00+01:00",
        max_redemptions=10,
        max_per_user=1,
        min_subtotal_cents=2000,
        allowed_checkout_types=["single_session"],
        allowed_service_ids=[123, 101],
    )
    assert created | {"created_at": ""} == {
        "code": raw.upper(),
        "percent_off": None,
        "amount_off": {"usd": 500, "eur": 450},
        "starts_at": "2029-12-31T23:00:00Z",
        "ends_at": None,
        "max_redemptions": 10,
        "max_per_user": 1,
        "min_subtotal_cents": 2000,
        "allowed_checkout_types": ["single_session"],
        "allowed_service_ids": [123, 101],
        "is_active": True,
        "redeemed_count": 0,
        "created_at": "",
    }
    # the code is case-insensitive in the path
    assert (await client.get(f"{C}/{raw.lower()}", headers=admin)).json() == created
    # sending percent_off switches the kind (amount_off cleared)
    r = await client.patch(
        f"{C}/{raw.lower()}", json={"percent_off": 20, "allowed_service_ids": None}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert (r.json()["percent_off"], r.json()["amount_off"], r.json()["allowed_service_ids"]) == (
        20,
        None,
        None,
    )
    # and back
    r = await client.patch(f"{C}/{raw}", json={"amount_off": {"gbp": 300}}, headers=admin)
    assert (r.json()["percent_off"], r.json()["amount_off"]) == (None, {"gbp": 300})
    r = await client.patch(f"{C}/{raw}", json={"is_active": False}, headers=admin)
    assert r.json()["is_active"] is False and r.json()["amount_off"] == {"gbp": 300}
    assert_error(await client.get(f"{C}/NOPE{uuid.uuid4().hex[:6]}", headers=admin), 404, "COUPON_NOT_FOUND")
    assert_error(
        await client.patch(f"{C}/NOPE{uuid.uuid4().hex[:6]}", json={"is_active": False}, headers=admin),
        404,
        "COUPON_NOT_FOUND",
    )


async def test_code_is_unique_whatever_its_case(client, admin):
    raw = code()
    await new_coupon(client, admin, code=raw.lower())
    err = assert_error(
        await client.post(C, json={"code": raw.upper(), "percent_off": 5}, headers=admin),
        409,
        "COUPON_CODE_TAKEN",
    )
    assert err["details"] == {"field": "code", "code": raw.upper()}


BAD_COUPONS = [
    ({"percent_off": None}, "percent_off"),  # neither
    ({"amount_off": {"usd": 100}}, "amount_off"),  # both
    ({"percent_off": 0}, "percent_off"),
    ({"percent_off": 101}, "percent_off"),
    ({"percent_off": None, "amount_off": {}}, "amount_off"),
    ({"percent_off": None, "amount_off": {"usd": 0}}, "amount_off.usd"),
    ({"percent_off": None, "amount_off": {"usd": -5}}, "amount_off.usd"),
    ({"percent_off": None, "amount_off": {"USD": 5}}, "amount_off.USD"),
    ({"percent_off": None, "amount_off": {"usd": "five"}}, "amount_off.usd"),
    ({"code": "has space"}, "code"),
    ({"code": "x"}, "code"),
    ({"starts_at": "2031-01-02T00:00:00Z", "ends_at": "2031-01-01T00:00:00Z"}, "ends_at"),
    ({"ends_at": "2031-01-01T00:00:00"}, "ends_at"),
    ({"max_redemptions": 0}, "max_redemptions"),
    ({"max_per_user": 0}, "max_per_user"),
    ({"min_subtotal_cents": -1}, "min_subtotal_cents"),
    ({"allowed_checkout_types": ["membership"]}, "allowed_checkout_types[0]"),
    ({"allowed_checkout_types": ["bundle", "bundle"]}, "allowed_checkout_types[1]"),
    ({"allowed_checkout_types": []}, "allowed_checkout_types"),
    ({"allowed_service_ids": [123, 999999]}, "allowed_service_ids[1]"),
    ({"allowed_service_ids": [123, 123]}, "allowed_service_ids[1]"),
    ({"redeemed_count": 5}, "redeemed_count"),
    ({"kind": "percent"}, "kind"),
]


@pytest.mark.parametrize(("change", "field"), BAD_COUPONS)
async def test_bad_coupons_name_the_field(client, admin, change, field):
    body = {"code": code(), "percent_off": 10} | change
    assert field_of(await client.post(C, json=body, headers=admin)) == field
    if "code" not in change:  # a valid code: nothing was created under it
        assert_error(await client.get(f"{C}/{body['code']}", headers=admin), 404, "COUPON_NOT_FOUND")


async def test_bad_patches(client, admin, factory):
    from sqlalchemy import update

    from estuary_checkout.coupons.models import Coupon

    c = await new_coupon(client, admin, max_redemptions=10)
    async with db(factory) as s:
        await s.execute(update(Coupon).where(Coupon.code == c["code"]).values(redeemed_count=4))
    for patch, field in (
        ({"max_redemptions": 3}, "max_redemptions"),  # below what is already redeemed
        ({"percent_off": 10, "amount_off": {"usd": 5}}, "amount_off"),
        ({"percent_off": None}, "percent_off"),  # neither left
        ({"is_active": None}, "is_active"),
        ({"min_subtotal_cents": None}, "min_subtotal_cents"),
        ({"code": "RENAMED"}, "code"),  # the code is the coupon's name, not a field
        ({"redeemed_count": 0}, "redeemed_count"),
    ):
        assert field_of(await client.patch(f"{C}/{c['code']}", json=patch, headers=admin)) == field, patch
    ok = await client.patch(f"{C}/{c['code']}", json={"max_redemptions": 4}, headers=admin)
    assert ok.status_code == 200 and ok.json()["redeemed_count"] == 4


async def test_fixed_amount_applies_only_in_its_currencies(client, admin, factory, make_token):
    """A euro session: a usd-only coupon is refused (COUPON_NOT_APPLICABLE), one with a euro
    amount takes that amount off; a percent coupon works in any currency."""
    pid = (await new_practitioner(client, admin, timezone="UTC"))["id"]
    await client.put(
        f"{API}/admin/practitioners/{pid}/availability",
        json={"windows": [w(d, "08:00", "20:00") for d in range(7)]},
        headers=admin,
    )
    sid = (await new_service(client, admin, **session_fields(pid, price_cents=9000, currency="eur")))["id"]
    async with db(factory) as s:
        user = await make_user(s)
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    # a checkout is in CHECKOUT_CURRENCY unless it says otherwise (SPEC 14)
    body = session_body(*future_slot(), service_id=sid, practitioner_id=pid, currency="eur")
    usd_only = await new_coupon(client, admin, percent_off=None, amount_off={"usd": 1000})
    both = await new_coupon(client, admin, percent_off=None, amount_off={"usd": 1000, "eur": 800})
    percent = await new_coupon(client, admin, percent_off=10)
    refused = await client.post(
        f"{API}/checkout/calculate-price", json=body | {"coupon_code": usd_only["code"]}, headers=headers
    )
    err = assert_error(refused, 422, "COUPON_NOT_APPLICABLE")
    assert err["details"]["reason"] == "currency"
    quote = await client.post(
        f"{API}/checkout/calculate-price", json=body | {"coupon_code": both["code"].lower()}, headers=headers
    )
    assert quote.json()["currency"] == "eur"
    assert figures(quote.json()) == (9000, 800, 718, 0, 8918)  # 8200 × 0.0875 = 717.5 → 718
    quote = await client.post(
        f"{API}/checkout/calculate-price", json=body | {"coupon_code": percent["code"]}, headers=headers
    )
    assert figures(quote.json())[:2] == (9000, 900)
    # the demo SAVE20 is {usd: 2000}: fine for the usd demo session
    demo = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(*future_slot()) | {"coupon_code": "save20"},
        headers=headers,
    )
    assert figures(demo.json())[:2] == (10000, 2000)
    assert (await client.get(f"{C}/SAVE20", headers=admin)).json()["amount_off"] == {"usd": 2000}
