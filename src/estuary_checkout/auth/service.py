"""Bearer JWTs: the algorithm is pinned by settings, never read from the token."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from estuary_checkout.config import Settings
from estuary_checkout.errors import Unauthorized

LEEWAY = 5


@dataclass(frozen=True)
class Claims:
    sub: str
    email: str | None
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm == "RS256":
        if not settings.jwt_public_key:
            raise Unauthorized("Token verification is not configured")
        return settings.jwt_public_key
    return settings.resolved_jwt_secret()


class VerifiedTokens:
    """Tokens whose signature and claims were already checked, until their `exp`.

    A bearer client sends the same token on every call until it expires, and verifying it
    (base64, JSON, HMAC or RSA, claim checks) is a large share of a cheap request. The cache key
    is the exact token string, so a changed byte is a miss and is verified in full; a hit is
    still refused once `exp` has passed. Bounded: cleared when full.
    """

    def __init__(self, max_entries: int = 50_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[Claims, float]] = {}

    def get(self, token: str) -> Claims | None:
        hit = self._entries.get(token)
        if hit is None:
            return None
        if self.clock() >= hit[1]:
            del self._entries[token]
            return None
        return hit[0]

    def put(self, token: str, claims: Claims, exp: float) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token] = (claims, exp)


def _bad_signature(settings: Settings, exc: jwt.InvalidSignatureError) -> Unauthorized:
    """In dev and test, say which key the server checked against (where it came from, never the
    key): the usual cause is a token minted with another var dir or CHECKOUT_JWT_SECRET. In
    production the answer stays as terse as any other invalid token."""
    if settings.env == "production":
        return Unauthorized("Invalid token", code="INVALID_TOKEN", details={"reason": str(exc)})
    source = settings.jwt_key_source()
    if settings.jwt_algorithm == "RS256":
        hint = "sign tokens with the private key that matches it"
    else:
        hint = (
            "a token minted with a different CHECKOUT_VAR_DIR or CHECKOUT_JWT_SECRET is refused; "
            "mint it with the settings this server runs with (estuary-checkout token)"
        )
    return Unauthorized(
        f"Invalid token: its signature does not match this server's key, from {source}; {hint}",
        code="INVALID_TOKEN",
        details={"reason": str(exc), "key_source": source},
    )


def decode_token(settings: Settings, token: str, cache: VerifiedTokens | None = None) -> Claims:
    if cache is not None:
        hit = cache.get(token)
        if hit is not None:
            return hit
    options: dict[str, Any] = {"require": ["exp", "sub", "aud"], "verify_signature": True}
    if settings.jwt_issuer:
        options["require"].append("iss")
    try:
        payload = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options=options,  # type: ignore[arg-type]
            leeway=LEEWAY,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token expired", code="TOKEN_EXPIRED") from exc
    except jwt.InvalidSignatureError as exc:
        raise _bad_signature(settings, exc) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN", details={"reason": str(exc)}) from exc
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN", details={"reason": "bad sub"})
    roles = payload.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("Invalid token", code="INVALID_TOKEN", details={"reason": "bad roles"})
    email = payload.get("email")
    claims = Claims(sub=sub, email=email if isinstance(email, str) else None, roles=tuple(roles))
    if cache is not None:
        # PyJWT accepted exp with `LEEWAY` seconds of grace; a cached hit gets none
        cache.put(token, claims, float(payload["exp"]))
    return claims


def create_token(
    settings: Settings,
    *,
    sub: str,
    email: str | None = None,
    roles: list[str] | None = None,
    ttl_seconds: int = 3600,
) -> str:
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": sub,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "roles": roles or [],
    }
    if email:
        payload["email"] = email
    if settings.jwt_issuer:
        payload["iss"] = settings.jwt_issuer
    if settings.jwt_algorithm == "RS256":
        if not settings.jwt_private_key:
            raise RuntimeError("CHECKOUT_JWT_PRIVATE_KEY is needed to sign RS256 tokens")
        return jwt.encode(payload, settings.jwt_private_key, algorithm="RS256")
    return jwt.encode(payload, settings.resolved_jwt_secret(), algorithm="HS256")
