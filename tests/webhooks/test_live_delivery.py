"""The emulator delivers its signed events over HTTP to the API served by uvicorn: a payment made
at Stripe completes the order with no confirm call."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import uvicorn
from tests.checkout.helpers import (
    API,
    future_slot,
    make_practitioner,
    make_user,
    pay_in_browser,
    session_body,
)

from estuary_checkout.app import create_app
from estuary_checkout.webhooks.service import HANDLED_EVENTS


class ServedApp:
    def __init__(self, settings) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def test_payment_at_stripe_completes_order_without_confirm(settings, stripe_emu, session, make_token):
    user = await make_user(session)
    pid, sid = await make_practitioner(session)
    await session.commit()
    headers = {"Authorization": f"Bearer {make_token(user.external_id)}"}
    with ServedApp(settings) as served:
        endpoint = stripe_emu.register_webhook(
            f"{served.url}{API}/webhooks/stripe",
            secret=settings.stripe_webhook_secret,
            # the list the dev stack and the benchmark subscribe with: enough to complete an order
            enabled_events=list(HANDLED_EVENTS),
        )
        try:
            async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
                start, end = future_slot()
                created = await http.post(
                    f"{API}/checkout/create",
                    json=session_body(start, end, service_id=sid, practitioner_id=pid),
                    headers=headers,
                )
                assert created.status_code == 201, created.text
                c = created.json()
                await pay_in_browser(stripe_emu.url, c["payment_intent_id"], c["client_secret"])
                status = None
                for _ in range(100):
                    status = (
                        await http.post(
                            f"{API}/checkout/status", json={"order_id": c["order_id"]}, headers=headers
                        )
                    ).json()
                    if status["status"] == "completed":
                        break
                    await asyncio.sleep(0.05)
                assert status is not None and status["status"] == "completed"
                assert len(status["booking_ids"]) == 1
        finally:
            httpx.delete(
                f"{stripe_emu.url}/v1/webhook_endpoints/{endpoint['id']}",
                headers={"Authorization": "Bearer sk_test_checkout_tests"},
            )


def test_handled_events_option_names_the_service_subscription() -> None:
    """`stripe-emulator --webhook-events handled` subscribes to exactly what the service handles."""
    from estuary_checkout.cli import _event_list
    from estuary_checkout.stripe_emulator.server import build_state

    assert _event_list("handled") == list(HANDLED_EVENTS)
    assert _event_list(" a.b , c.d ") == ["a.b", "c.d"]
    assert _event_list(None) is None
    assert "payment_intent.succeeded" in HANDLED_EVENTS and "payment_intent.created" not in HANDLED_EVENTS
    state = build_state(
        webhook_url="http://127.0.0.1:9/x", webhook_secret="whsec_x", webhook_events=_event_list("handled")
    )
    try:
        (endpoint,) = state.store.webhook_endpoints.values()
        assert endpoint["enabled_events"] == list(HANDLED_EVENTS)
    finally:
        state.close()
