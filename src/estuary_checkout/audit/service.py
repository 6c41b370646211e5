"""The audit log (SPEC 10.4): who changed what, with the entity before and after.

`record` adds the row to the caller's session, so it commits or rolls back with the write it
describes: a write that fails leaves no row, and no write commits without its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import repository
from estuary_checkout.audit.models import AuditLog
from estuary_checkout.audit.schemas import AuditEntry
from estuary_checkout.pagination import Page


@dataclass(frozen=True)
class Actor:
    """Who writes: a token's `sub` (admin API) or a command (`cli:import`), and the request or
    run id that ties the rows of one call together."""

    sub: str
    request_id: str | None = None


def request_actor(sub: str) -> Actor:
    """The actor of an HTTP request: the id the request-id middleware bound for this request."""
    return Actor(sub=sub, request_id=structlog.contextvars.get_contextvars().get("request_id"))


def _json(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return value.model_dump(mode="json")


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: str | int,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
) -> None:
    repository.add(
        session,
        AuditLog(
            actor_sub=actor.sub,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=_json(before),
            after=_json(after),
            request_id=actor.request_id,
        ),
    )
    await session.flush()


def entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor_sub=row.actor_sub,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
        request_id=row.request_id,
    )


async def list_entries(
    session: AsyncSession,
    *,
    entity: str | None,
    entity_id: str | None,
    actor: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntry]:
    got = await repository.page(
        session, entity=entity, entity_id=entity_id, actor=actor, limit=limit, cursor=cursor
    )
    return Page(data=[entry(r) for r in got.rows], has_more=got.has_more, next_cursor=got.next_cursor)
