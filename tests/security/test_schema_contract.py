"""The OpenAPI schema states what validation checks: a body the schema calls valid is not refused
for its shape, and one it calls invalid is a 422 (the disagreements `schemathesis --checks all`
found, each pinned here; the fuzz run in test_schemathesis.py looks for new ones)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import available_timezones

import jsonschema_rs
import pytest
from tests.conftest import API

SCHEMA_URL = "/stripe/fastapi/stripe/openapi.json"


@pytest.fixture
async def openapi(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await client.get(SCHEMA_URL)
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _valid(openapi: dict[str, Any], component: str, body: object) -> bool:
    schema = {"$ref": f"#/components/schemas/{component}", "components": openapi["components"]}
    return jsonschema_rs.validator_for(schema).is_valid(body)


def _walk(node: object, path: str = ""):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


async def test_no_constraint_is_written_where_json_schema_ignores_it(openapi):
    """Pydantic writes a constraint it cannot attach to a type as a raw keyword (`ge`, or
    `maxLength` beside an `anyOf`), and a dict key pattern as `patternProperties`, which lets any
    other key through: a schema that says less than validation checks."""
    problems = []
    for path, node in _walk(openapi["components"]["schemas"]):
        if path.endswith("/properties"):
            continue  # field names, not keywords
        problems += [f"{path}: {k}" for k in ("ge", "le", "gt", "lt") if isinstance(node.get(k), int | float)]
        if "anyOf" in node and {"maxLength", "minLength", "maxItems", "minimum", "maximum"} & set(node):
            problems.append(f"{path}: a constraint beside anyOf")
        if "patternProperties" in node:
            problems.append(f"{path}: patternProperties")
    assert problems == []


async def test_status_needs_one_key_and_the_schema_says_so(client, auth, openapi):
    headers = auth()
    for body, accepted in (
        ({}, False),
        ({"order_id": None}, False),
        ({"order_id": None, "payment_intent_id": None, "checkout_session_id": None}, False),
        ({"order_id": None, "payment_intent_id": "pi_nobody_has_this"}, True),
        ({"order_id": str(uuid.uuid4())}, True),
    ):
        r = await client.post(f"{API}/checkout/status", json=body, headers=headers)
        assert _valid(openapi, "StatusRequest", body) is accepted, body
        assert r.status_code == (404 if accepted else 422), (body, r.text)


async def test_stripe_signature_is_a_required_header(client, openapi):
    operation = openapi["paths"]["/api/v1/stripe/webhooks/stripe"]["post"]
    assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [
        ("Stripe-Signature", "header", True)
    ]
    assert operation["responses"]["400"]["description"] == "INVALID_SIGNATURE"
    r = await client.post(f"{API}/webhooks/stripe", json={"id": "evt_1", "type": "x"})
    assert r.status_code == 400
    assert r.json()["code"] == "INVALID_SIGNATURE"


async def test_coupon_discount_is_exactly_one_of_two(client, auth, openapi):
    headers = auth(roles=["admin"])
    for extra, accepted in (
        ({"percent_off": 10}, True),
        ({"amount_off": {"usd": 500}}, True),
        ({"percent_off": 10, "amount_off": None}, True),
        ({}, False),
        ({"percent_off": None, "amount_off": None}, False),
        ({"percent_off": 10, "amount_off": {"usd": 500}}, False),
    ):
        body = {"code": f"C{uuid.uuid4().hex[:12]}", **extra}
        r = await client.post(f"{API}/admin/coupons", json=body, headers=headers)
        assert _valid(openapi, "CouponCreate", body) is accepted, body
        assert r.status_code == (201 if accepted else 422), (body, r.text)


async def test_credit_adjustment_names_one_user_and_moves_money(client, auth, openapi):
    headers = {**auth(roles=["admin"]), "Idempotency-Key": uuid.uuid4().hex}
    base = {"amount_cents": 100, "reason": "goodwill"}
    for body in (
        {**base, "user_id": 1, "user_email": "a@example.com"},
        base,
        {**base, "user_id": 1, "amount_cents": 0},
        {**base, "user_id": "1"},
        # whitespace as both regex engines read \s (U+0085 is one to the server, U+FEFF to the schema)
        {**base, "user_email": "a@\u0085"},
        {**base, "user_email": "a@\ufeff"},
    ):
        assert not _valid(openapi, "CreditAdjustmentCreate", body), body
        r = await client.post(f"{API}/admin/credits/adjustments", json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
    assert _valid(openapi, "CreditAdjustmentCreate", {**base, "user_email": "a@example.com"})


async def test_practitioner_patch_offers_no_null_and_lists_the_time_zones(client, auth, openapi):
    headers = auth(roles=["admin"])
    created = await client.post(
        f"{API}/admin/practitioners", json={"name": "Contract", "timezone": "UTC"}, headers=headers
    )
    assert created.status_code == 201, created.text
    url = f"{API}/admin/practitioners/{created.json()['id']}"
    zones = openapi["components"]["schemas"]["PractitionerUpdate"]["properties"]["timezone"]["enum"]
    assert zones == sorted(available_timezones())
    for body, accepted in (
        ({"timezone": "Europe/Berlin", "buffer_minutes": 10, "is_active": True}, True),
        ({"is_active": None}, False),
        ({"timezone": None}, False),
        ({"timezone": "Mars/Olympus_Mons"}, False),
        ({"buffer_minutes": False}, False),
        ({"buffer_minutes": "10"}, False),
        ({"is_active": "yes"}, False),
        ({"slot_step_minutes": 1000}, False),
    ):
        r = await client.patch(url, json=body, headers=headers)
        assert _valid(openapi, "PractitionerUpdate", body) is accepted, body
        assert r.status_code == (200 if accepted else 422), (body, r.text)


async def test_a_date_time_query_parameter_is_not_a_number(client, auth):
    r = await client.get(
        f"{API}/catalog/availability",
        params={"service_id": 1, "from": "0.5", "to": "2030-01-02T00:00:00Z"},
        headers=auth(),
    )
    assert r.status_code == 422, r.text
    assert r.json()["details"]["field"] == "from"
