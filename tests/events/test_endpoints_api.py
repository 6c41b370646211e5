"""The admin API of webhook endpoints and deliveries (SPEC 12.1): every route and error, the
secret shown only at creation and rotation, audit rows without secrets, and the destinations
refused in production (SSRF)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from tests.checkout.helpers import API, assert_error, db
from tests.events.test_delivery import deliveries, one_event

from estuary_checkout.audit.models import AuditLog
from estuary_checkout.config import Settings
from estuary_checkout.events.urls import UrlRefused, address_refusal, check_destination, check_url_shape

ENDPOINTS = f"{API}/admin/webhook-endpoints"


async def test_create_list_get_update_delete(client, admin_headers, clean_events, factory):
    r = await client.post(
        ENDPOINTS,
        json={"url": "https://host.example/hooks", "event_types": ["order.completed", "order.completed"]},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["id"].startswith("we_")
    assert created["event_types"] == ["order.completed"] and created["enabled"] is True
    endpoint = f"{ENDPOINTS}/{created['id']}"

    listed = (await client.get(ENDPOINTS, headers=admin_headers)).json()
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    got = (await client.get(endpoint, headers=admin_headers)).json()
    assert "secret" not in got and got["url"] == "https://host.example/hooks"

    r = await client.patch(
        endpoint,
        json={"enabled": False, "event_types": [], "description": "all of them"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["enabled"], body["event_types"], body["description"], body["secret"]) == (
        False,
        [],
        "all of them",
        None,
    )
    assert body["disabled_reason"].startswith("disabled by admin|events")
    r = await client.patch(endpoint, json={"enabled": True}, headers=admin_headers)
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None

    assert (await client.delete(endpoint, headers=admin_headers)).status_code == 204
    assert_error(await client.get(endpoint, headers=admin_headers), 404, "WEBHOOK_ENDPOINT_NOT_FOUND")
    assert_error(await client.delete(endpoint, headers=admin_headers), 404, "WEBHOOK_ENDPOINT_NOT_FOUND")
    assert_error(
        await client.patch(endpoint, json={}, headers=admin_headers), 404, "WEBHOOK_ENDPOINT_NOT_FOUND"
    )

    async with db(factory) as s:
        rows = list(
            (
                await s.execute(
                    select(AuditLog).where(AuditLog.entity_id == created["id"]).order_by(AuditLog.id)
                )
            ).scalars()
        )
    assert [r.action for r in rows] == ["create", "update", "update", "delete"]
    assert created["secret"] not in json.dumps([(r.before, r.after) for r in rows])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://host.example/x"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://user:pw@host.example/x"}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"url": "https://host.example/x", "event_types": ["order.paid"]}, "event_types[0]"),
        ({"url": "https://host.example/x", "secret": "whsec_mine"}, "secret"),
        ({"url": "https://host.example/" + "a" * 2100}, "url"),
        ({"url": "https://host.example/x", "description": "d" * 501}, "description"),
    ],
)
async def test_bad_endpoints_are_refused_naming_the_field(client, admin_headers, clean_events, body, field):
    r = await client.post(ENDPOINTS, json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert r.json()["details"]["field"] == field
    assert (await client.get(ENDPOINTS, headers=admin_headers)).json()["data"] == []


async def test_deliveries_list_and_manual_retry(
    client, admin_headers, receiver, register, relay, factory, paid_order
):
    endpoint = await register(receiver, event_types=["order.completed"])
    receiver.answers = [500]
    await one_event(factory, paid_order)
    await relay(retry_seconds=[]).drain()  # no automatic retry: failed at once
    r = await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=admin_headers)
    (item,) = r.json()["data"]
    assert (item["status"], item["attempt"], item["status_code"], item["event_type"]) == (
        "failed",
        1,
        500,
        "order.completed",
    )
    assert item["next_retry_at"] is None and item["delivered_at"] is None and item["duration_ms"] >= 0
    filtered = await client.get(
        f"{ENDPOINTS}/{endpoint['id']}/deliveries", params={"status": "delivered"}, headers=admin_headers
    )
    assert filtered.json()["data"] == []

    r = await client.post(f"{API}/admin/webhook-deliveries/{item['id']}/retry", headers=admin_headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and r.json()["next_retry_at"] is not None
    await relay(retry_seconds=[]).drain()
    (row,) = await deliveries(factory, endpoint["id"])
    assert (row.status, row.attempt) == ("delivered", 2)
    assert len(set(receiver.ids())) == 1 and len(receiver.got) == 2

    assert_error(
        await client.post(f"{API}/admin/webhook-deliveries/999999999/retry", headers=admin_headers),
        404,
        "WEBHOOK_DELIVERY_NOT_FOUND",
    )
    await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"enabled": False}, headers=admin_headers)
    assert_error(
        await client.post(f"{API}/admin/webhook-deliveries/{item['id']}/retry", headers=admin_headers),
        409,
        "ENDPOINT_DISABLED",
    )
    assert_error(
        await client.get(f"{ENDPOINTS}/we_0000/deliveries", headers=admin_headers),
        404,
        "WEBHOOK_ENDPOINT_NOT_FOUND",
    )


async def test_a_disabled_endpoint_gets_nothing_new(
    client, admin_headers, receiver, register, relay, factory, paid_order
):
    endpoint = await register(receiver)
    await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"enabled": False}, headers=admin_headers)
    await one_event(factory, paid_order)
    await relay().drain()
    assert receiver.got == [] and await deliveries(factory, endpoint["id"]) == []


# --- where deliveries may go (SSRF) ---------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
        "fd00::1",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address):
    assert address_refusal(address) is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://localhost/x", "https://[::1]/x", "http://169.254.169.254/latest"]
)
async def test_production_refuses_private_destinations(url):
    with pytest.raises(UrlRefused):
        await check_destination(url, allow_private=False)
    await check_destination(url, allow_private=True)  # dev may use them (events listen)


def test_url_shapes():
    check_url_shape("https://host.example:8443/hooks?a=1")
    for bad in (
        "javascript:alert(1)",
        "https://host.example/#frag",
        "http://host.example:0/",
        "https://[::1/",
    ):
        with pytest.raises(UrlRefused):
            check_url_shape(bad)


def test_production_default_refuses_private_urls(settings):
    assert settings.webhook_private_urls_allowed()  # env test
    prod = Settings.model_construct(**{**settings.model_dump(), "env": "production"})
    assert not prod.webhook_private_urls_allowed()
    assert Settings.model_construct(
        **{**settings.model_dump(), "env": "production", "webhook_allow_private_urls": True}
    ).webhook_private_urls_allowed()


async def test_the_api_refuses_a_private_endpoint_when_configured_so(
    settings, app_state, client, admin_headers, clean_events, receiver, relay, factory, paid_order
):
    app_state.settings.__dict__["webhook_allow_private_urls"] = False  # this app instance, this test
    try:
        r = await client.post(ENDPOINTS, json={"url": receiver.url}, headers=admin_headers)
        assert_error(r, 422, "URL_NOT_ALLOWED")
        assert "loopback" in r.json()["error"]
    finally:
        app_state.settings.__dict__["webhook_allow_private_urls"] = None
    # an endpoint saved while allowed (or a name that later resolves to a private address) is
    # refused again when the connection is made
    r = await client.post(
        ENDPOINTS, json={"url": receiver.url, "event_types": ["order.completed"]}, headers=admin_headers
    )
    await one_event(factory, paid_order)
    await relay(settings={"webhook_allow_private_urls": False}, retry_seconds=[]).drain()
    assert receiver.got == []
    (row,) = await deliveries(factory, r.json()["id"])
    assert row.status == "failed" and row.error == "destination refused: 127.0.0.1 is a loopback address"
