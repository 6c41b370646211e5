"""ASGI middleware: request ids and a cap on request body size (413 in the envelope)."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from estuary_checkout.errors import envelope

# Request ids: a random per-process prefix and a counter, unique without a random draw (a
# getrandom syscall) per request.
_rid_prefix = os.urandom(6).hex()
_rid_counter = itertools.count(1)


def _new_prefix() -> None:  # a forked worker must not repeat its parent's ids
    global _rid_prefix, _rid_counter
    _rid_prefix, _rid_counter = os.urandom(6).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    return f"{_rid_prefix}{next(_rid_counter):010x}"


class _TooLarge(BaseException):
    """Not an Exception: body parsers catch Exception and would turn this into a 400."""


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class BodyLimitAndRequestId:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or new_request_id()
        rid_header = (b"x-request-id", request_id.encode("latin-1"))
        structlog.contextvars.bind_contextvars(request_id=request_id)

        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body_bytes
            except ValueError:
                too_big = True
            if too_big:
                await _send_json(send, 413, self._too_large_body(), [rid_header])
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), rid_header]}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, self._too_large_body(), [rid_header])
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    def _too_large_body(self) -> dict[str, Any]:
        return envelope(
            f"Request body larger than {self.max_body_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
            {"max_bytes": self.max_body_bytes},
        )
