"""The Django session cookie as a credential for the checkout (SPEC 12.2).

A browser signed in to the host can call /stripe/fastapi/... with its session cookie alone: the
dispatcher asks this module who the session belongs to and forwards the request with a freshly
minted bearer token, so the checkout itself only ever sees bearer tokens. A cookie is an ambient
credential (the browser attaches it to requests other sites trigger), so unsafe methods must
also pass Django's CSRF check — the token from the csrftoken cookie echoed in the X-CSRFToken
header — and carry an Origin header naming this site or one of CSRF_TRUSTED_ORIGINS.

Everything here is synchronous Django (sessions and users live in the ORM); the dispatcher calls
it through `sync_to_async`, never from the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware

from host import checkout_tokens

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


def _not_called(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the CSRF check never calls the view")


def csrf_refusal(request: HttpRequest) -> Refusal | None:
    """Django's own CSRF check (token and Origin), plus: the Origin header is required. Django
    only demands a Referer over HTTPS; every browser sends Origin with a cross-origin or
    non-GET fetch, so a cookie-carrying unsafe request without one did not come from a page."""
    if "HTTP_ORIGIN" not in request.META:
        return Refusal(403, "CSRF_FAILED", "Origin header required with the session cookie")
    # a fresh middleware each time: it caches the trusted origins from settings per instance
    csrf = CsrfViewMiddleware(_not_called)
    csrf.process_request(request)
    if csrf.process_view(request, _not_called, (), {}) is not None:
        # Django logged the reason (logger django.security.csrf)
        return Refusal(403, "CSRF_FAILED", "CSRF verification failed (X-CSRFToken header and Origin)")
    return None


def bearer_for_session(scope: dict[str, Any]) -> str | Refusal | None:
    """The bearer token for the request's session user; None when the cookie signs nobody in
    (the checkout then answers 401 as for any anonymous call); a Refusal for a failed CSRF
    check. Synchronous: call it through sync_to_async."""
    # what Django's handler does around each request: no connection outlives its max age
    close_old_connections()
    try:
        # the body stays with the checkout app: the CSRF token comes from the header only
        request = ASGIRequest(scope, io.BytesIO())
        request.POST = QueryDict()
        engine = import_module(settings.SESSION_ENGINE)
        request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        # get_user also checks the session's auth hash: a password change signs sessions out
        user = get_user(request)
        if not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS:
            try:
                refusal = csrf_refusal(request)
            except DisallowedHost:
                return Refusal(400, "BAD_HOST", "Host header not allowed")
            if refusal is not None:
                return refusal
        token, _exp = checkout_tokens.for_user(user)
        return token
    finally:
        close_old_connections()
