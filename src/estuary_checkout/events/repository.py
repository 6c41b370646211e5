from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.events.models import OutboundEvent, WebhookDelivery, WebhookEndpoint
from estuary_checkout.pagination import PageOf, keyset, page_of


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, for_update: bool = False
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def page_endpoints(session: AsyncSession, *, limit: int, cursor: str | None) -> PageOf[WebhookEndpoint]:
    columns = (WebhookEndpoint.created_at, WebhookEndpoint.id)
    rows = (
        await session.execute(keyset(select(WebhookEndpoint), columns, limit=limit, cursor=cursor))
    ).scalars()
    return page_of(list(rows), limit, lambda e: (e.created_at, e.id))


async def page_deliveries(
    session: AsyncSession, endpoint_id: str, *, status: str | None, limit: int, cursor: str | None
) -> PageOf[tuple[WebhookDelivery, str]]:
    """The endpoint's deliveries, newest first, with each one's event type."""
    stmt = (
        select(WebhookDelivery, OutboundEvent.type)
        .join(OutboundEvent, OutboundEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    rows = await session.execute(keyset(stmt, (WebhookDelivery.id,), limit=limit, cursor=cursor))
    return page_of(list(rows), limit, lambda row: (row[0].id,))


async def get_delivery(session: AsyncSession, delivery_id: int) -> tuple[WebhookDelivery, str] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, OutboundEvent.type)
            .join(OutboundEvent, OutboundEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update(of=WebhookDelivery)
        )
    ).one_or_none()
    return row


async def events_of_order(session: AsyncSession, order_id: object) -> list[OutboundEvent]:
    return list(
        (
            await session.execute(
                select(OutboundEvent)
                .where(OutboundEvent.order_id == order_id)
                .order_by(OutboundEvent.created_at)
            )
        ).scalars()
    )


async def deliveries_of_events(session: AsyncSession, event_ids: list[str]) -> list[WebhookDelivery]:
    if not event_ids:
        return []
    return list(
        (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.event_id.in_(event_ids))
                .order_by(WebhookDelivery.id)
            )
        ).scalars()
    )
