"""Checkout tokens: the short-lived JWTs the host mints so its users can call Estuary Checkout.

The service (SPEC 3) requires `sub`, `exp` and `aud`, reads `email` and `roles` when present, and
pins the algorithm in its own configuration: HS256 with a secret both sides share, or RS256 where
only the host holds the private key and the service has the public one.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ADMIN_PERMISSION = "marketplace.checkout_admin"


def _signing_key() -> str:
    if settings.CHECKOUT_JWT_ALGORITHM == "RS256":
        if not settings.CHECKOUT_JWT_PRIVATE_KEY:
            raise ImproperlyConfigured("CHECKOUT_JWT_PRIVATE_KEY (PEM) is required with RS256")
        return settings.CHECKOUT_JWT_PRIVATE_KEY
    if settings.CHECKOUT_JWT_ALGORITHM != "HS256":
        raise ImproperlyConfigured("CHECKOUT_JWT_ALGORITHM must be HS256 or RS256")
    if settings.CHECKOUT_JWT_SECRET:
        return settings.CHECKOUT_JWT_SECRET
    if settings.DEBUG:
        # dev only: the secret the checkout generated for itself (var/jwt_secret), the one an
        # embedded service or `make run` started from the same directory verifies with
        from estuary_checkout.config import get_settings

        return get_settings().resolved_jwt_secret()
    raise ImproperlyConfigured("CHECKOUT_JWT_SECRET is required with HS256")


def mint(
    sub: str, *, email: str | None = None, roles: list[str] | None = None, ttl: int | None = None
) -> tuple[str, int]:
    """A signed token for `sub` and its expiry (Unix seconds)."""
    now = int(time.time())
    exp = now + (ttl if ttl is not None else settings.CHECKOUT_TOKEN_TTL_SECONDS)
    claims: dict[str, Any] = {
        "sub": sub,
        "aud": settings.CHECKOUT_JWT_AUDIENCE,
        "iat": now,
        "exp": exp,
        "roles": roles or [],
    }
    if email:
        claims["email"] = email
    if settings.CHECKOUT_JWT_ISSUER:
        claims["iss"] = settings.CHECKOUT_JWT_ISSUER
    return jwt.encode(claims, _signing_key(), algorithm=settings.CHECKOUT_JWT_ALGORITHM), exp


def for_user(user: Any) -> tuple[str, int]:
    """A token for a signed-in Django user. `sub` is the user's primary key: stable for the life
    of the account (an email can change; the checkout keys its user row, credit and cards on
    `sub`). The checkout's admin role goes only to users holding the host's permission for it
    (superusers hold every permission); being staff in Django is not enough."""
    roles = ["admin"] if user.has_perm(ADMIN_PERMISSION) else []
    return mint(str(user.pk), email=user.email or None, roles=roles)


def for_catalog_sync() -> tuple[str, int]:
    """The host itself acting at the checkout's admin API (push_catalog)."""
    return mint(settings.CHECKOUT_CATALOG_SYNC_SUB, roles=["admin"], ttl=600)
