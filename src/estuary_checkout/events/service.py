"""Webhook endpoints and their deliveries (SPEC 12.1), for the admin API. Every write is audited
(without secrets: the audit log shows the public view)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit
from estuary_checkout.audit.service import Actor
from estuary_checkout.config import Settings
from estuary_checkout.db.base import utcnow
from estuary_checkout.events import repository
from estuary_checkout.events.errors import DeliveryNotFound, EndpointDisabled, EndpointNotFound, UrlNotAllowed
from estuary_checkout.events.models import WebhookDelivery, WebhookEndpoint
from estuary_checkout.events.schemas import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointCreate,
    EndpointUpdate,
    EndpointUpdated,
    EndpointWithSecret,
)
from estuary_checkout.events.signing import new_id, new_secret
from estuary_checkout.events.urls import UrlRefused, check_destination
from estuary_checkout.pagination import PageOf


def endpoint_view(e: WebhookEndpoint) -> Endpoint:
    return Endpoint(
        id=e.id,
        url=e.url,
        event_types=list(e.event_types),
        description=e.description,
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        created_at=e.created_at,
    )


def delivery_view(d: WebhookDelivery, event_type: str) -> Delivery:
    return Delivery(
        id=d.id,
        event_id=d.event_id,
        event_type=event_type,
        status=d.status,  # type: ignore[arg-type]
        attempt=d.attempt,
        status_code=d.status_code,
        duration_ms=d.duration_ms,
        error=d.error,
        next_retry_at=d.next_retry_at,
        delivered_at=d.delivered_at,
    )


async def _checked_url(url: str, settings: Settings) -> str:
    try:
        await check_destination(url, allow_private=settings.webhook_private_urls_allowed())
    except UrlRefused as exc:
        raise UrlNotAllowed(f"This URL cannot receive events: {exc}", details={"field": "url"}) from exc
    return url


def _unique(types: list[str]) -> list[str]:
    return list(dict.fromkeys(types))


async def create_endpoint(
    session: AsyncSession, settings: Settings, actor: Actor, body: EndpointCreate
) -> EndpointWithSecret:
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        url=await _checked_url(body.url, settings),
        description=body.description,
        event_types=_unique(list(body.event_types)),
        enabled=True,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    view = endpoint_view(endpoint)
    await audit.record(
        session,
        actor,
        action="create",
        entity="webhook_endpoint",
        entity_id=endpoint.id,
        before=None,
        after=view,
    )
    return EndpointWithSecret(**view.model_dump(), secret=endpoint.secret)


async def list_endpoints(session: AsyncSession, *, limit: int, cursor: str | None) -> PageOf[Endpoint]:
    return (await repository.page_endpoints(session, limit=limit, cursor=cursor)).map(endpoint_view)


async def _endpoint(session: AsyncSession, endpoint_id: str, *, for_update: bool = False) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, endpoint_id, for_update=for_update)
    if endpoint is None:
        raise EndpointNotFound(details={"endpoint_id": endpoint_id})
    return endpoint


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> Endpoint:
    return endpoint_view(await _endpoint(session, endpoint_id))


async def update_endpoint(
    session: AsyncSession, settings: Settings, actor: Actor, endpoint_id: str, body: EndpointUpdate
) -> EndpointUpdated:
    endpoint = await _endpoint(session, endpoint_id, for_update=True)
    before = endpoint_view(endpoint)
    now = utcnow()
    if body.url is not None:
        endpoint.url = await _checked_url(body.url, settings)
    if body.event_types is not None:
        endpoint.event_types = _unique(list(body.event_types))
    if "description" in body.model_fields_set:
        endpoint.description = body.description
    if body.enabled is not None and body.enabled != endpoint.enabled:
        endpoint.enabled = body.enabled
        # enabling again starts a fresh count of failing days; the note of why it stopped goes
        endpoint.failing_since = None
        endpoint.disabled_reason = None if body.enabled else f"disabled by {actor.sub} at {now.isoformat()}"
    secret = None
    if body.rotate_secret:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=settings.webhook_secret_overlap_hours)
        endpoint.secret = secret = new_secret()
    endpoint.updated_at = now
    await session.flush()
    after = endpoint_view(endpoint)
    action = "rotate_secret" if body.rotate_secret else "update"
    await audit.record(
        session,
        actor,
        action=action,
        entity="webhook_endpoint",
        entity_id=endpoint.id,
        before=before,
        after=after,
    )
    return EndpointUpdated(**after.model_dump(), secret=secret)


async def delete_endpoint(session: AsyncSession, actor: Actor, endpoint_id: str) -> None:
    """The endpoint and its delivery records go; events stay (other endpoints may have them)."""
    endpoint = await _endpoint(session, endpoint_id, for_update=True)
    before = endpoint_view(endpoint)
    await session.delete(endpoint)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="delete",
        entity="webhook_endpoint",
        entity_id=endpoint_id,
        before=before,
        after=None,
    )


async def list_deliveries(
    session: AsyncSession, endpoint_id: str, *, status: DeliveryStatus | None, limit: int, cursor: str | None
) -> PageOf[Delivery]:
    await _endpoint(session, endpoint_id)
    page = await repository.page_deliveries(session, endpoint_id, status=status, limit=limit, cursor=cursor)
    return page.map(lambda row: delivery_view(*row))


async def retry_delivery(session: AsyncSession, actor: Actor, delivery_id: int) -> Delivery:
    """Send again now, whatever the delivery's state (a delivered one too: receivers dedupe)."""
    row = await repository.get_delivery(session, delivery_id)
    if row is None:
        raise DeliveryNotFound(details={"delivery_id": delivery_id})
    delivery, event_type = row
    endpoint = await _endpoint(session, delivery.endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled(details={"endpoint_id": endpoint.id})
    before = delivery_view(delivery, event_type)
    now = utcnow()
    delivery.status = "pending"
    delivery.next_retry_at = now
    delivery.lease_until = None
    delivery.updated_at = now
    await session.flush()
    after = delivery_view(delivery, event_type)
    await audit.record(
        session,
        actor,
        action="retry",
        entity="webhook_delivery",
        entity_id=delivery.id,
        before=before,
        after=after,
    )
    return after
