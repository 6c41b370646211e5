"""FastAPI dependencies: the request's session (commit/rollback here), the caller, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit.service import Actor, request_actor
from estuary_checkout.auth.service import decode_token
from estuary_checkout.config import Settings
from estuary_checkout.db.session import session_scope
from estuary_checkout.errors import Forbidden, Unauthorized
from estuary_checkout.pagination import DEFAULT_LIMIT, MAX_LIMIT
from estuary_checkout.state import AppState
from estuary_checkout.users import service as users_service
from estuary_checkout.users.models import User


def app_state(request: Request) -> AppState:
    return request.app.state.checkout  # type: ignore[no-any-return]


# async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a thread hop per request
async def get_state(request: Request) -> AppState:
    return app_state(request)


State = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(state: State) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(state: State) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(state.session_factory):
        yield session


# scope="function": commit before the response is sent, so a failed commit is the response.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]

KNOWN_USERS_MAX = 50_000


class BearerCaller(HTTPBearer):
    """The caller, from the bearer JWT, as one dependency.

    A subclass of FastAPI's HTTPBearer so OpenAPI still declares the bearer scheme, but it reads
    the header and the app state itself and returns the User: one dependency to solve per request
    instead of three (state, credentials, user), which is measurable on the hottest route.
    """

    async def __call__(self, request: Request) -> User:  # type: ignore[override]
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if not token or scheme.lower() != "bearer":
            raise Unauthorized("Missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        state = app_state(request)
        claims = decode_token(state.settings, token, state.verified_tokens)
        known = state.known_users.get(claims.sub)
        if known is not None and known[1:] == (claims.email or known[1], claims.roles):
            # a detached row with what auth needs; services re-read the user row when they need
            # its Stripe customer (orders.repository.lock_user, payments.service)
            return User(id=known[0], external_id=claims.sub, email=known[1], roles=list(known[2]))
        # first sight (or changed claims): create/update in a short transaction of its own, so
        # the request's transaction (and its rollback on error) never undoes it
        async for session in session_scope(state.session_factory):
            user = await users_service.from_claims(session, claims)
        if len(state.known_users) >= KNOWN_USERS_MAX:
            state.known_users.clear()
        state.known_users[claims.sub] = (user.id, user.email, tuple(user.roles or []))
        return user


# scheme_name keeps the OpenAPI security scheme's name what it was with a plain HTTPBearer
get_current_user = BearerCaller(
    auto_error=False, scheme_name="HTTPBearer", description="JWT issued by the host platform"
)
CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if "admin" not in (user.roles or []):
        raise Forbidden("Admin role required")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_admin_actor(user: AdminUser) -> Actor:
    return request_actor(user.external_id)


# An admin write's actor for the audit log (SPEC 10.4): the token's sub and the request id
AdminActor = Annotated[Actor, Depends(get_admin_actor)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_\-:.]+$",
        description="Makes the call replay-safe: the same key with the same body replays the first response.",
    ),
]
# money-moving admin calls: the key is required (a missing header is a 422 naming it)
RequiredIdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_\-:.]+$",
        description="Required: the same key with the same body replays the first response and moves nothing.",
    ),
]


def rate_limit(bucket: str):  # type: ignore[no-untyped-def]
    """A dependency that counts one attempt of `bucket` for the caller (429 + Retry-After past the limit)."""

    async def _dep(state: State, user: CurrentUser) -> None:
        state.rate_limiter.enforce(bucket, user.id)

    return Depends(_dep)


# Every list route: `?limit=` and `?cursor=` (see estuary_checkout.pagination)
ListLimit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"page size, 1..{MAX_LIMIT} (default {DEFAULT_LIMIT})")
]
ListCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="`next_cursor` of the previous page",
    ),
]
