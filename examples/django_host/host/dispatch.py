"""One ASGI application for the whole platform: Estuary Checkout under its prefix, Django for the
rest (SPEC 12.2).

* The prefix matches on a path-segment boundary: /stripe/fastapi and /stripe/fastapi/... go to
  the checkout, /stripe/fastapiX to Django.
* The checkout app is the service's own served app (`estuary_checkout.app.create_app`), which
  mounts itself at /stripe/fastapi: its Mount sets `root_path` to the prefix for the routes inside
  (that is what the docs page builds the schema URL from), so it gets the scope unchanged.
  Stripping the prefix here would make every route 404.
* Lifespan goes to the checkout app, which opens and closes its database engine and Stripe client
  there. Django's ASGI handler refuses lifespan scopes, and a Starlette Mount would never run a
  mounted app's lifespan.
* Requests to the checkout that carry the Django session cookie and no Authorization header are
  signed in through host.session_bridge.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async

from host.session_bridge import Refusal, bearer_for_session

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def route_path(scope: Scope) -> str:
    """The path below the server's own root_path (a host served under --root-path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


def _has_cookie(scope: Scope, cookie_name: str) -> bool:
    raw = _header(scope, b"cookie")
    if raw is None:
        return False
    return any(part.strip().startswith(cookie_name + "=") for part in raw.decode("latin1").split(";"))


async def _refuse(send: Send, refusal: Refusal) -> None:
    # the checkout's error envelope (SPEC 3): callers of /stripe/fastapi see one format
    body = json.dumps({"error": refusal.message, "details": None, "code": refusal.code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HostDispatcher:
    def __init__(
        self,
        *,
        django_app: ASGIApp,
        checkout_app: ASGIApp,
        prefix: str = "/stripe/fastapi",
        session_cookie: str | None = "sessionid",
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must start with / and not end with one")
        self.django_app = django_app
        self.checkout_app = checkout_app
        self.prefix = prefix
        self.session_cookie = session_cookie
        # thread_sensitive: the ORM runs on the one thread Django's handler uses for sync code
        self._bearer_for_session = sync_to_async(bearer_for_session, thread_sensitive=True)

    def is_checkout(self, scope: Scope) -> bool:
        path = route_path(scope)
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.checkout_app(scope, receive, send)
            return
        if not self.is_checkout(scope):
            await self.django_app(scope, receive, send)
            return
        if (
            scope["type"] == "http"
            and self.session_cookie
            and _header(scope, b"authorization") is None
            and _has_cookie(scope, self.session_cookie)
        ):
            outcome = await self._bearer_for_session(dict(scope))
            if isinstance(outcome, Refusal):
                await _refuse(send, outcome)
                return
            if outcome is not None:
                scope = self._with_bearer(scope, outcome)
        await self.checkout_app(scope, receive, send)

    @staticmethod
    def _with_bearer(scope: Scope, token: str) -> Scope:
        # the checkout sees a bearer caller; the host's cookies (its session id) stay with the host
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"cookie"]
        headers.append((b"authorization", b"Bearer " + token.encode()))
        return {**scope, "headers": headers}
