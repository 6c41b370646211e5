"""Outbound events of the checkout (SPEC 12.1) as this host receives them: Standard Webhooks
signatures verified with the endpoint's whsec_ secret, each webhook-id stored once.

Most tests sign their events here with the `standardwebhooks` package (the one the service signs
with) to reach every refusal; the last one has the checkout's own relay deliver a real purchase's
events to this host."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from marketplace.models import ReceivedEvent
from tests.conftest import EVENTS_SECRET

URL = "/checkout-events"


def _event(**data: Any) -> tuple[str, bytes]:
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": "order.completed",
        "created_at": datetime.now(UTC).isoformat(),
        "data": {"order_id": str(uuid.uuid4()), "status": "completed", "total_cents": 43500, **data},
    }
    return event_id, json.dumps(body).encode()


def _headers(
    event_id: str, body: bytes, *, secret: str = EVENTS_SECRET, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body.decode()),
        "content-type": "application/json",
    }


def _stored(event_id: str) -> int:
    return ReceivedEvent.objects.filter(webhook_id=event_id).count()


def test_a_signed_event_is_stored_once_even_when_delivered_twice(http: httpx.Client) -> None:
    event_id, body = _event()
    first = http.post(URL, content=body, headers=_headers(event_id, body))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    # at-least-once delivery: the same event again (a retry is signed anew, same webhook-id)
    again = http.post(URL, content=body, headers=_headers(event_id, body))
    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True}
    stored = ReceivedEvent.objects.get(webhook_id=event_id)
    assert stored.type == "order.completed"
    assert stored.payload == json.loads(body)
    assert stored.created_at is not None
    assert _stored(event_id) == 1


def test_a_rotated_secret_still_verifies_while_both_sign(http: httpx.Client) -> None:
    """During a secret rotation the sender signs with the old and the new secret side by side."""
    event_id, body = _event()
    new_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    headers = _headers(event_id, body, secret=new_secret)
    headers["webhook-signature"] += " " + _headers(event_id, body)["webhook-signature"]
    assert http.post(URL, content=body, headers=headers).status_code == 200
    assert _stored(event_id) == 1


def test_a_bad_signature_is_400_and_nothing_is_stored(http: httpx.Client) -> None:
    event_id, body = _event()
    other_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    r = http.post(URL, content=body, headers=_headers(event_id, body, secret=other_secret))
    assert r.status_code == 400
    assert r.json()["code"] == "INVALID_EVENT"
    # a body changed after signing
    tampered = body.replace(b"43500", b"1")
    assert http.post(URL, content=tampered, headers=_headers(event_id, body)).status_code == 400
    assert _stored(event_id) == 0


def test_a_stale_timestamp_is_refused(http: httpx.Client) -> None:
    """A correctly signed delivery from 10 minutes ago (a replay) is refused: the tolerance is 5."""
    event_id, body = _event()
    old = datetime.now(UTC) - timedelta(minutes=10)
    r = http.post(URL, content=body, headers=_headers(event_id, body, at=old))
    assert r.status_code == 400
    assert _stored(event_id) == 0


def test_malformed_deliveries_are_400_not_500(http: httpx.Client) -> None:
    event_id, body = _event()
    good = _headers(event_id, body)
    no_signature = {k: v for k, v in good.items() if k != "webhook-signature"}
    assert http.post(URL, content=body, headers=no_signature).status_code == 400
    assert http.post(URL, content=body, headers={**good, "webhook-signature": "garbage"}).status_code == 400
    assert http.post(URL, content=body, headers={**good, "webhook-timestamp": "soon"}).status_code == 400
    not_an_event = b"[1, 2, 3]"
    assert http.post(URL, content=not_an_event, headers=_headers(event_id, not_an_event)).status_code == 400
    assert _stored(event_id) == 0


def test_only_post_is_accepted(http: httpx.Client) -> None:
    assert http.get(URL).status_code == 405


def test_the_checkout_delivers_a_real_purchase_to_this_host(stack, pushed_catalog) -> None:  # type: ignore[no-untyped-def]
    """End to end: an endpoint registered at the checkout for this host, a purchase through
    `test_stripe_checkout`, the checkout's own relay delivering — the host stores the verified
    events of that order."""
    import asyncio
    import io

    from django.core.management import call_command
    from django.test.utils import override_settings
    from estuary_checkout.db.session import make_engine, make_session_factory
    from estuary_checkout.events.delivery import DeliveryRelay

    from tests.conftest import API, admin_headers

    with httpx.Client(base_url=stack.url, headers=admin_headers(), timeout=30) as admin:
        r = admin.post(
            f"{API}/admin/webhook-endpoints",
            json={
                "url": f"{stack.url}/checkout-events",
                "event_types": ["order.completed", "booking.confirmed"],
            },
        )
        assert r.status_code == 201, r.text
        endpoint = r.json()
        try:
            out = io.StringIO()
            call_command(
                "test_stripe_checkout",
                "--user-email",
                f"events-{uuid.uuid4().hex[:8]}@example.com",
                "--checkout-type",
                "session",
                "--service",
                pushed_catalog.session.external_id,
                "--base-url",
                stack.url,
                "--json",
                stdout=out,
            )
            order_id = json.loads(out.getvalue())["created"]["order_id"]

            async def deliver() -> None:
                engine = make_engine(stack.checkout_settings.database_url)
                try:
                    await DeliveryRelay(make_session_factory(engine), stack.checkout_settings).drain()
                finally:
                    await engine.dispose()

            with override_settings(CHECKOUT_EVENTS_SECRET=endpoint["secret"]):
                asyncio.run(deliver())
        finally:
            admin.delete(f"{API}/admin/webhook-endpoints/{endpoint['id']}")

    stored = {e.type: e for e in ReceivedEvent.objects.filter(payload__data__order_id=order_id)}
    assert set(stored) == {"order.completed", "booking.confirmed"}
    completed = stored["order.completed"].payload
    assert (
        completed["data"]["status"] == "completed" and completed["id"] == stored["order.completed"].webhook_id
    )
    deliveries = httpx.get(
        f"{stack.url}{API}/admin/webhook-endpoints/{endpoint['id']}/deliveries", headers=admin_headers()
    )
    assert deliveries.status_code == 404  # the endpoint was removed after the test
