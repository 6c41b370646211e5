"""Orders after the sale: the client's own (SPEC 11.1) and the operator's search and detail (SPEC 11.4)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from estuary_checkout.deps import AdminUser, CurrentUser, DbSession, ListCursor, ListLimit
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.fields import DateTimeText
from estuary_checkout.orders import history_service
from estuary_checkout.orders.errors import OrderNotFound
from estuary_checkout.orders.history_schemas import (
    AdminOrderDetail,
    AdminOrderSummary,
    OrderDetail,
    OrderStatusName,
    OrderSummary,
)
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX)

StatusFilter = Annotated[OrderStatusName | None, Query(description="only orders in this status")]


@router.get(
    "/orders", tags=["orders"], response_model=Page[OrderSummary], responses=error_responses(InvalidCursor)
)
async def list_orders(
    user: CurrentUser,
    session: DbSession,
    status: StatusFilter = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[OrderSummary]:
    """The caller's orders, newest first."""
    page = await history_service.list_for_user(session, user.id, status=status, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.get(
    "/orders/{order_id}",
    tags=["orders"],
    response_model=OrderDetail,
    responses=error_responses(OrderNotFound),
)
async def get_order(order_id: uuid.UUID, user: CurrentUser, session: DbSession) -> OrderDetail:
    """One of the caller's orders with its bookings, passes, payment, refunds and credit movements."""
    return await history_service.get_for_user(session, user.id, order_id)


@router.get(
    "/admin/orders",
    tags=["admin"],
    response_model=Page[AdminOrderSummary],
    responses=error_responses(Forbidden, InvalidCursor, history_service.InvalidCreatedRange),
)
async def search_orders(
    admin: AdminUser,
    session: DbSession,
    user_email: Annotated[
        str | None, Query(min_length=3, max_length=320, description="the client's email (any case)")
    ] = None,
    status: StatusFilter = None,
    created_from: Annotated[DateTimeText | None, Query(description="created at or after")] = None,
    created_to: Annotated[DateTimeText | None, Query(description="created before")] = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[AdminOrderSummary]:
    """Operators: every user's orders, newest first, by client email, status and creation time."""
    page = await history_service.search(
        session,
        user_email=user_email,
        status=status,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.get(
    "/admin/orders/{order_id}",
    tags=["admin"],
    response_model=AdminOrderDetail,
    responses=error_responses(Forbidden, OrderNotFound),
)
async def get_order_for_operator(
    order_id: uuid.UUID, admin: AdminUser, session: DbSession
) -> AdminOrderDetail:
    """Operators: any order in full, its client and its timeline (oldest first)."""
    return await history_service.get_for_operator(session, order_id)
