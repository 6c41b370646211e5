"""A client's passes (SPEC 11.1)."""

from __future__ import annotations

from fastapi import APIRouter

from estuary_checkout.deps import CurrentUser, DbSession, ListCursor, ListLimit
from estuary_checkout.errors import error_responses
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.passes import service as passes_service
from estuary_checkout.passes.schemas import PassView
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["passes"])


@router.get("/passes", response_model=Page[PassView], responses=error_responses(InvalidCursor))
async def list_passes(
    user: CurrentUser, session: DbSession, limit: ListLimit = DEFAULT_LIMIT, cursor: ListCursor = None
) -> Page[PassView]:
    """The caller's passes from bundles and packages, newest first, with the sessions left on each."""
    page = await passes_service.list_for_user(session, user.id, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)
