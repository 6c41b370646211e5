"""A client's bookings (SPEC 11.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from estuary_checkout.bookings import history_service
from estuary_checkout.bookings.schemas import BookingScope, BookingView
from estuary_checkout.deps import CurrentUser, DbSession, ListCursor, ListLimit
from estuary_checkout.errors import error_responses
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["bookings"])


@router.get("/bookings", response_model=Page[BookingView], responses=error_responses(InvalidCursor))
async def list_bookings(
    user: CurrentUser,
    session: DbSession,
    scope: Annotated[
        BookingScope,
        Query(
            description="upcoming: not ended and not canceled, soonest first; past: ended or canceled, latest first"
        ),
    ] = "upcoming",
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[BookingView]:
    """The caller's bookings, with what canceling or rescheduling each would do now."""
    page = await history_service.list_for_user(session, user.id, scope=scope, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)
