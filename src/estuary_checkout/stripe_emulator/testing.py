"""Test helpers: run the emulator in a background thread, drive its control routes over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from .app import create_app
from .state import EmulatorState


class EmulatorClient:
    """Control-route client for an emulator that is already running (any process)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    def _client(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self._timeout)
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        resp = self._client().request(method, self.url + path, json=json)
        if resp.status_code >= 400:
            raise RuntimeError(f"emulator {method} {path} failed ({resp.status_code}): {resp.text}")
        return resp.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/health")

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """latency_ms, error_rate, error_status, drop_rate, route, count, phase ("before"/"after")."""
        return self._call("POST", "/_emulator/faults", faults)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/_emulator/faults")

    def get_faults(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/faults")

    def set_config(self, **config: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/config", config)

    def get_config(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/config")

    def register_webhook(
        self, url: str, secret: str | None = None, enabled_events: list[str] | None = None
    ) -> dict[str, Any]:
        """Register a webhook endpoint with a chosen secret; returns it (with ``secret``)."""
        body: dict[str, Any] = {"url": url}
        if secret is not None:
            body["secret"] = secret
        if enabled_events is not None:
            body["enabled_events"] = enabled_events
        return self._call("POST", "/_emulator/webhook_endpoints", body)

    def complete_3ds(self, pi_id: str, outcome: str = "complete") -> dict[str, Any]:
        """Complete (``"complete"``) or fail (``"fail"``) a PaymentIntent's 3-D Secure challenge."""
        return self._call("POST", f"/_emulator/payment_intents/{pi_id}/three_d_secure", {"outcome": outcome})

    def succeed_refund(self, refund_id: str) -> dict[str, Any]:
        """Settle a ``pending`` refund now; returns the Refund (emulator-only helper)."""
        return self._call("POST", f"/_emulator/refunds/{refund_id}/succeed")

    def fail_refund(self, refund_id: str, failure_reason: str | None = None) -> dict[str, Any]:
        """Fail a ``pending`` or ``succeeded`` refund now (default reason ``expired_or_canceled_card``);
        returns the Refund (emulator-only helper)."""
        body = {"failure_reason": failure_reason} if failure_reason else None
        return self._call("POST", f"/_emulator/refunds/{refund_id}/fail", body)

    def webhook_deliveries(self, event_id: str | None = None) -> list[dict[str, Any]]:
        path = "/_emulator/webhook_deliveries" + (f"?event_id={event_id}" if event_id else "")
        return self._call("GET", path)["data"]


class EmulatorServer(EmulatorClient):
    """Start the emulator on a free 127.0.0.1 port in a background thread.

    Use as ``with EmulatorServer() as emu:`` or ``async with EmulatorServer() as emu:``;
    ``emu.url`` is the base URL to give the SDK, ``emu.state`` the in-process state.
    """

    def __init__(self, *, state: EmulatorState | None = None, host: str = "127.0.0.1", **config: Any) -> None:
        self.state = state or EmulatorState(config or None)
        self.app = create_app(state=self.state)
        self.host = host
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        super().__init__(f"http://{host}:0")

    def start(self) -> EmulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="stripe-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Stripe emulator failed to start")
            time.sleep(0.005)
        self.url = f"http://{self.host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.close()
        self.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmulatorServer:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)
