"""Admin routes of payment links (SPEC 13.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from estuary_checkout.config import Settings
from estuary_checkout.deps import AdminActor, AdminUser, DbSession, ListCursor, ListLimit, SettingsDep
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.links import service
from estuary_checkout.links.errors import CurrencyNotOffered, LinkNotFound, RedirectNotAllowed
from estuary_checkout.links.schemas import LinkAdmin, LinkCreate, LinkStats, LinkUpdate
from estuary_checkout.orders.errors import (
    InvalidChildSelection,
    PractitionerMismatch,
    ServiceNotFound,
    ServiceNotPurchasable,
)
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["admin"])
LinkId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def base_url(request: Request, settings: Settings) -> str:
    """Where links point: the configured public URL, else the origin this request came to."""
    return settings.public_url or f"{request.url.scheme}://{request.url.netloc}"


@router.post(
    "/admin/payment-links",
    status_code=201,
    response_model=LinkAdmin,
    responses=error_responses(
        Forbidden,
        ServiceNotFound,
        PractitionerMismatch,
        ServiceNotPurchasable,
        InvalidChildSelection,
        CurrencyNotOffered,
        RedirectNotAllowed,
    ),
)
async def create_link(
    body: LinkCreate, actor: AdminActor, session: DbSession, settings: SettingsDep, request: Request
) -> LinkAdmin:
    """A shareable offer of one service; the answer has its random slug and hosted page URL."""
    return await service.create(session, settings, actor, body, base_url(request, settings))


@router.get(
    "/admin/payment-links",
    response_model=Page[LinkAdmin],
    responses=error_responses(Forbidden, InvalidCursor),
)
async def list_links(
    _admin: AdminUser,
    session: DbSession,
    settings: SettingsDep,
    request: Request,
    active: Annotated[bool | None, Query()] = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[LinkAdmin]:
    """Links, newest first, optionally only the active (or inactive) ones."""
    return await service.list_links(
        session, base_url(request, settings), active=active, limit=limit, cursor=cursor
    )


@router.get(
    "/admin/payment-links/{link_id}",
    response_model=LinkAdmin,
    responses=error_responses(Forbidden, LinkNotFound),
)
async def get_link(
    link_id: LinkId, _admin: AdminUser, session: DbSession, settings: SettingsDep, request: Request
) -> LinkAdmin:
    """One link with its counters (`reserved_count`: unpaid orders holding a use)."""
    return await service.get(session, link_id, base_url(request, settings))


@router.patch(
    "/admin/payment-links/{link_id}",
    response_model=LinkAdmin,
    responses=error_responses(Forbidden, LinkNotFound, RedirectNotAllowed),
)
async def update_link(
    link_id: LinkId,
    body: LinkUpdate,
    actor: AdminActor,
    session: DbSession,
    settings: SettingsDep,
    request: Request,
) -> LinkAdmin:
    """Deactivate or reactivate, or change limits, coupon, expiry and what follows a payment.
    The service and practitioner of a link never change (make a new link)."""
    return await service.update(session, settings, actor, link_id, body, base_url(request, settings))


@router.get(
    "/admin/payment-links/{link_id}/stats",
    response_model=LinkStats,
    responses=error_responses(Forbidden, LinkNotFound),
)
async def link_stats(link_id: LinkId, _admin: AdminUser, session: DbSession, request: Request) -> LinkStats:
    """The funnel: views (a few seconds behind), checkouts started, completed, revenue."""
    state = request.app.state.checkout
    await state.link_views.flush(state.session_factory)  # this replica's counts, now
    return await service.stats(session, link_id)
