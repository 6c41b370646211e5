"""API idempotency (Idempotency-Key on create and confirm).

1. `begin` records (user, route, key, body hash) as in progress, in its own committed
   transaction, so a concurrent duplicate sees it: 409 while running, 422 for another body.
2. The work runs in the request's transaction; `complete` stores the response in that same
   transaction, so the stored response exists exactly when the work does.
3. On an error, `fail` stores a 4xx response for replay (Stripe's behaviour) or, for 5xx and
   conflicts that may clear, forgets the key so the client can retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope
from estuary_checkout.errors import AppError, envelope
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.idempotency.models import IdempotencyRecord

LOCK_TTL = timedelta(minutes=2)
RETRYABLE_STATUSES = {409, 429}


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes


def request_hash(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


async def begin(
    factory: async_sessionmaker[AsyncSession], *, user_id: int, route: str, key: str, digest: str
) -> Stored | None:
    """Claim the key; return the stored response if this is a replay."""
    now = utcnow()
    async for session in session_scope(factory):
        existing = (
            await session.execute(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == user_id,
                    IdempotencyRecord.route == route,
                    IdempotencyRecord.key == key,
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.request_hash != digest:
                raise IdempotencyKeyReused(details={"idempotency_key": key})
            if existing.status == "done" and existing.response_status is not None:
                return Stored(existing.response_status, existing.response_body or b"")
            if existing.locked_until > now:
                raise IdempotencyInProgress(details={"idempotency_key": key})
            # a crashed attempt left it in progress: take it over
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == existing.id)
                .values(locked_until=now + LOCK_TTL)
                .execution_options(synchronize_session=False)
            )
            return None
    try:
        async for session in session_scope(factory):
            session.add(
                IdempotencyRecord(
                    user_id=user_id,
                    route=route,
                    key=key,
                    request_hash=digest,
                    status="in_progress",
                    locked_until=now + LOCK_TTL,
                    created_at=now,
                )
            )
    except IntegrityError:
        # a concurrent duplicate claimed it between our read and insert
        return await begin(factory, user_id=user_id, route=route, key=key, digest=digest)
    return None


async def complete(
    session: AsyncSession, *, user_id: int, route: str, key: str, status: int, body: bytes
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.route == route,
            IdempotencyRecord.key == key,
        )
        .values(status="done", response_status=status, response_body=body)
        .execution_options(synchronize_session=False)
    )


async def fail(
    factory: async_sessionmaker[AsyncSession], *, user_id: int, route: str, key: str, status: int, body: bytes
) -> None:
    async for session in session_scope(factory):
        where = (
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.route == route,
            IdempotencyRecord.key == key,
        )
        if 400 <= status < 500 and status not in RETRYABLE_STATUSES:
            await session.execute(
                update(IdempotencyRecord)
                .where(*where)
                .values(status="done", response_status=status, response_body=body)
                .execution_options(synchronize_session=False)
            )
        else:
            await session.execute(
                delete(IdempotencyRecord).where(*where).execution_options(synchronize_session=False)
            )


def render(payload: Any) -> bytes:
    """JSON bytes exactly as the API renders them (compact, UTF-8)."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


async def run(
    factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    *,
    user_id: int,
    route: str,
    key: str | None,
    payload: Any,
    status_code: int,
    work: Callable[[], Awaitable[BaseModel]],
) -> Stored:
    """Run `work` at most once per (user, route, key) and return the response to send."""
    if key is None:
        result = await work()
        return Stored(status_code, render(result.model_dump(mode="json")))
    replay = await begin(factory, user_id=user_id, route=route, key=key, digest=request_hash(payload))
    if replay is not None:
        return replay
    try:
        result = await work()
        body = render(result.model_dump(mode="json"))
        await complete(session, user_id=user_id, route=route, key=key, status=status_code, body=body)
        return Stored(status_code, body)
    except AppError as exc:
        await session.rollback()
        await fail(
            factory,
            user_id=user_id,
            route=route,
            key=key,
            status=exc.status_code,
            body=render(envelope(exc.message, exc.code, exc.details)),
        )
        raise
    except BaseException:
        await session.rollback()
        await fail(factory, user_id=user_id, route=route, key=key, status=500, body=b"")
        raise
