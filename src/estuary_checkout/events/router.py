"""Admin routes of the outbound events (SPEC 12.1): webhook endpoints, their deliveries, retries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from estuary_checkout.deps import AdminActor, AdminUser, DbSession, ListCursor, ListLimit, SettingsDep
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.events import service
from estuary_checkout.events.errors import DeliveryNotFound, EndpointDisabled, EndpointNotFound, UrlNotAllowed
from estuary_checkout.events.schemas import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointCreate,
    EndpointUpdate,
    EndpointUpdated,
    EndpointWithSecret,
)
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["admin"])

EndpointId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^we_[0-9a-f]+$")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/admin/webhook-endpoints",
    status_code=201,
    response_model=EndpointWithSecret,
    responses=error_responses(Forbidden, UrlNotAllowed),
)
async def create_endpoint(
    body: EndpointCreate, actor: AdminActor, session: DbSession, settings: SettingsDep
) -> EndpointWithSecret:
    """Register a receiver. The response carries its signing secret (`whsec_…`), shown only here."""
    return await service.create_endpoint(session, settings, actor, body)


@router.get(
    "/admin/webhook-endpoints",
    response_model=Page[Endpoint],
    responses=error_responses(Forbidden, InvalidCursor),
)
async def list_endpoints(
    _admin: AdminUser, session: DbSession, limit: ListLimit = DEFAULT_LIMIT, cursor: ListCursor = None
) -> Page[Endpoint]:
    """Every endpoint, newest first (secrets are never listed)."""
    page = await service.list_endpoints(session, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.get(
    "/admin/webhook-endpoints/{endpoint_id}",
    response_model=Endpoint,
    responses=error_responses(Forbidden, EndpointNotFound),
)
async def get_endpoint(endpoint_id: EndpointId, _admin: AdminUser, session: DbSession) -> Endpoint:
    """One endpoint: its URL, types, whether it is enabled and, if not, why."""
    return await service.get_endpoint(session, endpoint_id)


@router.patch(
    "/admin/webhook-endpoints/{endpoint_id}",
    response_model=EndpointUpdated,
    responses=error_responses(Forbidden, EndpointNotFound, UrlNotAllowed),
)
async def update_endpoint(
    endpoint_id: EndpointId,
    body: EndpointUpdate,
    actor: AdminActor,
    session: DbSession,
    settings: SettingsDep,
) -> EndpointUpdated:
    """Change the URL, types or description, enable or disable, or rotate the secret
    (`rotate_secret: true`: the new secret is in this response only; the old one keeps signing
    alongside for 24 hours so receivers can switch without losing an event)."""
    return await service.update_endpoint(session, settings, actor, endpoint_id, body)


@router.delete(
    "/admin/webhook-endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(Forbidden, EndpointNotFound),
)
async def delete_endpoint(endpoint_id: EndpointId, actor: AdminActor, session: DbSession) -> None:
    """Remove the endpoint and its delivery records; nothing more is sent to it."""
    await service.delete_endpoint(session, actor, endpoint_id)


@router.get(
    "/admin/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=Page[Delivery],
    responses=error_responses(Forbidden, EndpointNotFound, InvalidCursor),
)
async def list_deliveries(
    endpoint_id: EndpointId,
    _admin: AdminUser,
    session: DbSession,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[Delivery]:
    """The endpoint's deliveries, newest first: attempts made, the last answer, the next retry."""
    page = await service.list_deliveries(session, endpoint_id, status=status, limit=limit, cursor=cursor)
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.post(
    "/admin/webhook-deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=Delivery,
    responses=error_responses(Forbidden, DeliveryNotFound, EndpointDisabled),
)
async def retry_delivery(delivery_id: DeliveryId, actor: AdminActor, session: DbSession) -> Delivery:
    """Send the delivery again as soon as the worker sees it (a delivered one too)."""
    return await service.retry_delivery(session, actor, delivery_id)
