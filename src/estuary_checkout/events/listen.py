"""`estuary-checkout events listen`: a temporary endpoint for development (like `stripe listen`).

It serves a receiver on 127.0.0.1:PORT, registers it through the admin API of the running
service (a dev admin token minted with this machine's secret), prints every event it receives
once its signature verifies, and removes the endpoint when stopped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.markup import escape
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from estuary_checkout.paths import API_PREFIX, MOUNT_PATH

ENDPOINTS = f"{MOUNT_PATH}{API_PREFIX}/admin/webhook-endpoints"


def summary(event: dict[str, Any]) -> str:
    """One line about the event's object: what a developer looks for first."""
    data = event.get("data") or {}
    parts = []
    for key in ("order_id", "booking_id", "pass_id", "refund_id", "status"):
        if key in data and data[key] is not None:
            parts.append(f"{key}={data[key]}")
    if "total_cents" in data:
        parts.append(f"total={data['total_cents']} {data.get('currency', '')}".rstrip())
    if "start_time" in data:
        parts.append(f"start={data['start_time']}")
    customer = data.get("customer") or {}
    if customer.get("email"):
        parts.append(f"customer={customer['email']}")
    return " ".join(parts)


@dataclass
class Listener:
    api: httpx.AsyncClient  # the running service (base URL, admin token in its headers)
    console: Console
    port: int = 9009
    host: str = "127.0.0.1"
    event_types: Sequence[str] = ()
    show_json: bool = False
    secret: str | None = None
    endpoint_id: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The receiver (plain ASGI): verify, print, answer 2xx; a bad signature is a 400."""
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = 204
        try:
            if self.secret is None:
                raise WebhookVerificationError("not registered yet")
            event = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            status = 400
            self.console.print(f"[red]✗ refused a request: {escape(str(exc))}[/]")
        else:
            self.received.append(event)
            self.console.print(
                f"[dim]{escape(str(event.get('created_at', '')))}[/]  [bold cyan]{escape(event['type'])}[/]"
                f"  [dim]{escape(event['id'])}[/]  {escape(summary(event))}",
                soft_wrap=True,
            )
            if self.show_json:
                self.console.print_json(json.dumps(event))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def register(self) -> None:
        resp = await self.api.post(
            ENDPOINTS,
            json={
                "url": f"http://{self.host}:{self.port}/",
                "event_types": list(self.event_types),
                "description": "estuary-checkout events listen (temporary)",
            },
        )
        if resp.status_code != 201:
            raise ListenFailed(_explain(resp))
        created = resp.json()
        self.secret, self.endpoint_id = created["secret"], created["id"]

    async def unregister(self) -> None:
        if self.endpoint_id is not None:
            await self.api.delete(f"{ENDPOINTS}/{self.endpoint_id}")
            self.endpoint_id = None

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        server = uvicorn.Server(
            uvicorn.Config(self, host=self.host, port=self.port, log_level="warning", lifespan="off")
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    serving.result()  # the port was taken: raise why
                    raise ListenFailed(f"could not listen on {self.host}:{self.port}")
                await asyncio.sleep(0.02)
            await self.register()
            types = ", ".join(self.event_types) or "all event types"
            self.console.print(
                f"[green]Ready![/] Receiving {escape(types)} at http://{self.host}:{self.port}/ "
                f"(endpoint {self.endpoint_id}, secret {self.secret}). Ctrl-C to stop.",
                soft_wrap=True,
            )
            if ready is not None:
                ready.set()
            # until told to stop, or until uvicorn stops the server on Ctrl-C
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({stopping, serving}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
        finally:
            try:
                await self.unregister()
            finally:
                server.should_exit = True
                await serving


class ListenFailed(Exception):
    pass


def _explain(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        message = f"{body.get('error')} ({body.get('code')})"
    except ValueError:
        message = resp.text[:200]
    return f"the service answered {resp.status_code}: {message}"
