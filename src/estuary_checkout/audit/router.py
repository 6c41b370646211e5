from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from estuary_checkout.audit import service as audit_service
from estuary_checkout.audit.schemas import AuditEntry
from estuary_checkout.deps import AdminUser, DbSession, ListCursor, ListLimit
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["admin"])


@router.get(
    "/admin/audit", response_model=Page[AuditEntry], responses=error_responses(Forbidden, InvalidCursor)
)
async def list_audit(
    _admin: AdminUser,
    session: DbSession,
    entity: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    entity_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[AuditEntry]:
    """Admin writes, newest first, filtered by entity, entity id and actor (a token's sub)."""
    return await audit_service.list_entries(
        session, entity=entity, entity_id=entity_id, actor=actor, limit=limit, cursor=cursor
    )
