"""Fixtures: one emulator per test session (reset before each test), SDK clients, a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from estuary_checkout.stripe_emulator.state import DEFAULT_CONFIG
from estuary_checkout.stripe_emulator.testing import EmulatorServer

SECRET_KEY = "sk_test_emulator_secret"
PUBLISHABLE_KEY = "pk_test_emulator_publishable"


def make_client(url: str, key: str = SECRET_KEY, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
        max_network_retries=retries,
    )


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        webhook_initial_delay=0.02,
        webhook_backoff_factor=2.0,
        webhook_max_delay=0.1,
        webhook_max_attempts=4,
        webhook_timeout=2.0,
    ) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh_emulator(emulator: EmulatorServer) -> None:
    emulator.reset()
    emulator.set_config(
        processing_delay_ms=0,
        refund_delay_ms=0,
        refund_pending_card_delay_ms=DEFAULT_CONFIG["refund_pending_card_delay_ms"],
        refund_failure_delay_ms=DEFAULT_CONFIG["refund_failure_delay_ms"],
    )


@pytest.fixture(scope="session")
def client(emulator: EmulatorServer) -> stripe.StripeClient:
    return make_client(emulator.url)


@pytest.fixture(scope="session")
def pk_client(emulator: EmulatorServer) -> stripe.StripeClient:
    return make_client(emulator.url, PUBLISHABLE_KEY)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class WebhookReceiver:
    """A tiny HTTP server recording POSTed webhooks; can answer with failures first."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._planned: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    status = receiver._planned.pop(0) if receiver._planned else 200
                    receiver.requests.append(
                        {
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                            "at": time.monotonic(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail_next(self, n: int, status: int = 500) -> None:
        with self._lock:
            self._planned.extend([status] * n)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._planned.clear()

    def events(self, type_: str | None = None, *, ok_only: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            reqs = list(self.requests)
        out = []
        for r in reqs:
            if ok_only and r["status"] != 200:
                continue
            ev = json.loads(r["body"])
            if type_ is None or ev["type"] == type_:
                out.append(ev)
        return out

    def wait_for(self, type_: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        return wait_until(lambda: len(self.events(type_)) >= count and self.events(type_), timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def receiver(_receiver: WebhookReceiver) -> WebhookReceiver:
    _receiver.clear()
    return _receiver
