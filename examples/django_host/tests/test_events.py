"""Outbound events of the checkout (SPEC 12.1) as this host receives them: Standard Webhooks
signatures verified with the endpoint's whsec_ secret, each webhook-id stored once.

The checkout's sender is not part of this test: the events are signed here with the
`standardwebhooks` package, the one the service signs with, in the format the spec gives."""

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
