"""Outbound-event fixtures: a real HTTP receiver (uvicorn, in this event loop) that verifies each
delivery with the `standardwebhooks` package and answers as a test scripts it; a relay; an admin
client. Each test starts with no endpoints and every earlier event already fanned out, so it sees
only its own events."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from sqlalchemy import delete, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import Response
from tests.aftersale.conftest import paid_order  # noqa: F401
from tests.checkout.conftest import factory, new_user  # noqa: F401
from tests.checkout.helpers import API, db

from estuary_checkout.config import Settings
from estuary_checkout.db.base import utcnow
from estuary_checkout.events.delivery import DeliveryRelay
from estuary_checkout.events.models import OutboundEvent, WebhookEndpoint
from estuary_checkout.state import AppState


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: dict[str, Any] | None
    verify_error: str | None


@dataclass
class Receiver:
    """A webhook receiver at `url`. `answers` are popped per request (default 200); `gate`, if
    set, holds every request until it is set; `secrets` verify signatures."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    answers: list[Callable[[], Response] | int] = field(default_factory=list)
    gate: asyncio.Event | None = None
    got: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified, error = None, None
        for secret in self.secrets or ["whsec_" + "A" * 32]:
            try:
                verified, error = Webhook(secret).verify(body, headers), None
                break
            except WebhookVerificationError as exc:
                error = str(exc)
        self.got.append(Received(headers, body, verified, error))
        self.arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            answer = self.answers.pop(0) if self.answers else 200
            response = answer() if callable(answer) else Response(status_code=answer)
        finally:
            self.in_flight -= 1
        await response(scope, receive, send)

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.got]

    def types(self) -> list[str]:
        return [r.verified["type"] for r in self.got if r.verified]

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.got) < n:
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def serve(app: Any, path: str = "/hook") -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    async with serve(r) as url:
        r.url = url
        yield r
        if r.gate is not None:
            r.gate.set()


@pytest.fixture
async def clean_events(app_state: AppState) -> AsyncIterator[None]:
    """No endpoints, and every event written so far counts as fanned out."""

    async def _clean() -> None:
        async with db(app_state.session_factory) as s:
            await s.execute(delete(WebhookEndpoint))
            await s.execute(
                update(OutboundEvent)
                .where(OutboundEvent.fanned_out_at.is_(None))
                .values(fanned_out_at=utcnow())
            )

    await _clean()
    yield
    await _clean()


@pytest.fixture
def admin_headers(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {make_token('admin|events', roles=['admin'])}"}


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """Retries at once, a short per-attempt timeout: the schedule's waits are tested on their own."""
    return settings.model_copy(update={"webhook_retry_seconds": [0, 0, 0], "webhook_timeout_seconds": 2.0})


@pytest.fixture
def relay(app_state: AppState, fast_settings: Settings) -> Callable[..., DeliveryRelay]:
    def _make(**kw: Any) -> DeliveryRelay:
        settings = fast_settings.model_copy(update=kw.pop("settings", {}))
        return DeliveryRelay(app_state.session_factory, settings, **kw)

    return _make


@pytest.fixture
def register(client, admin_headers, clean_events):  # type: ignore[no-untyped-def]
    """Register an endpoint through the admin API; its secret goes to the receiver."""

    async def _register(target: Receiver | str, **body: Any) -> dict[str, Any]:
        url = target if isinstance(target, str) else target.url
        resp = await client.post(
            f"{API}/admin/webhook-endpoints", json={"url": url, **body}, headers=admin_headers
        )
        assert resp.status_code == 201, resp.text
        created = resp.json()
        if not isinstance(target, str):
            target.secrets.append(created["secret"])
        return created  # type: ignore[no-any-return]

    return _register
