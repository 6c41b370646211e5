"""Admin routes of the catalog (SPEC 10.2): practitioners, availability, time off, services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from estuary_checkout.audit.service import Actor
from estuary_checkout.catalog import admin_service as service
from estuary_checkout.catalog.admin_schemas import (
    AvailabilityIn,
    AvailabilityOut,
    PractitionerAdmin,
    PractitionerCreate,
    PractitionerUpdate,
    ServiceAdmin,
    ServiceCreate,
    ServiceUpdate,
    TimeOffAdmin,
    TimeOffCreate,
    TimeOffCreated,
)
from estuary_checkout.catalog.errors import (
    ExternalIdTaken,
    PractitionerNotFound,
    ServiceNotFound,
    TimeOffNotFound,
)
from estuary_checkout.catalog.service import clear_cache_after_commit
from estuary_checkout.deps import AdminActor, AdminUser, DbSession, ListCursor, ListLimit, State
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.fields import ExternalId
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["admin"])


async def catalog_writer(actor: AdminActor, session: DbSession, state: State) -> Actor:
    """An admin catalog write: its audit actor, and this replica's catalog cache dropped once
    the write commits (quotes here see it at once; other replicas within their cache TTL)."""
    clear_cache_after_commit(session, state.catalog_cache)
    return actor


Writer = Annotated[Actor, Depends(catalog_writer)]
PractitionerId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ServiceId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TimeOffId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ByExternalId = Annotated[ExternalId | None, Query(description="the host platform's id (exact match)")]


@router.post(
    "/admin/practitioners",
    status_code=201,
    response_model=PractitionerAdmin,
    responses=error_responses(Forbidden, ExternalIdTaken),
)
async def create_practitioner(
    body: PractitionerCreate, actor: Writer, session: DbSession
) -> PractitionerAdmin:
    """Create a practitioner (no availability yet: PUT it next)."""
    return await service.create_practitioner(session, actor, body)


@router.get(
    "/admin/practitioners",
    response_model=Page[PractitionerAdmin],
    responses=error_responses(Forbidden, InvalidCursor),
)
async def list_practitioners(
    _admin: AdminUser,
    session: DbSession,
    external_id: ByExternalId = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[PractitionerAdmin]:
    """Practitioners, newest first, active or not; `external_id` finds the one with that id."""
    return await service.list_practitioners(session, external_id=external_id, limit=limit, cursor=cursor)


@router.get(
    "/admin/practitioners/{practitioner_id}",
    response_model=PractitionerAdmin,
    responses=error_responses(Forbidden, PractitionerNotFound),
)
async def get_practitioner(
    practitioner_id: PractitionerId, _admin: AdminUser, session: DbSession
) -> PractitionerAdmin:
    """One practitioner with its weekly availability."""
    return await service.get_practitioner(session, practitioner_id)


@router.patch(
    "/admin/practitioners/{practitioner_id}",
    response_model=PractitionerAdmin,
    responses=error_responses(Forbidden, PractitionerNotFound, ExternalIdTaken),
)
async def update_practitioner(
    practitioner_id: PractitionerId, body: PractitionerUpdate, actor: Writer, session: DbSession
) -> PractitionerAdmin:
    """Change the fields the body sends; retire with `is_active: false`."""
    return await service.update_practitioner(session, actor, practitioner_id, body)


@router.put(
    "/admin/practitioners/{practitioner_id}/availability",
    response_model=AvailabilityOut,
    responses=error_responses(Forbidden, PractitionerNotFound),
)
async def set_availability(
    practitioner_id: PractitionerId, body: AvailabilityIn, actor: Writer, session: DbSession
) -> AvailabilityOut:
    """Replace the practitioner's weekly windows (in their time zone) with these."""
    return await service.set_availability(session, actor, practitioner_id, body)


@router.post(
    "/admin/practitioners/{practitioner_id}/time-off",
    status_code=201,
    response_model=TimeOffCreated,
    responses=error_responses(Forbidden, PractitionerNotFound),
)
async def add_time_off(
    practitioner_id: PractitionerId, body: TimeOffCreate, actor: Writer, session: DbSession
) -> TimeOffCreated:
    """Block a period; bookings already inside it are listed in `conflicting_booking_ids`."""
    return await service.add_time_off(session, actor, practitioner_id, body)


@router.get(
    "/admin/practitioners/{practitioner_id}/time-off",
    response_model=Page[TimeOffAdmin],
    responses=error_responses(Forbidden, PractitionerNotFound, InvalidCursor),
)
async def list_time_off(
    practitioner_id: PractitionerId,
    _admin: AdminUser,
    session: DbSession,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[TimeOffAdmin]:
    """The practitioner's time off, newest first."""
    return await service.list_time_off(session, practitioner_id, limit=limit, cursor=cursor)


@router.delete(
    "/admin/practitioners/{practitioner_id}/time-off/{time_off_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(Forbidden, PractitionerNotFound, TimeOffNotFound),
)
async def delete_time_off(
    practitioner_id: PractitionerId, time_off_id: TimeOffId, actor: Writer, session: DbSession
) -> None:
    """Remove a time off: its period can be booked again."""
    await service.delete_time_off(session, actor, practitioner_id, time_off_id)


@router.post(
    "/admin/services",
    status_code=201,
    response_model=ServiceAdmin,
    responses=error_responses(Forbidden, ExternalIdTaken),
)
async def create_service(body: ServiceCreate, actor: Writer, session: DbSession) -> ServiceAdmin:
    """Create a session, bundle or package."""
    return await service.create_service(session, actor, body)


@router.get(
    "/admin/services",
    response_model=Page[ServiceAdmin],
    responses=error_responses(Forbidden, InvalidCursor),
)
async def list_services(
    _admin: AdminUser,
    session: DbSession,
    external_id: ByExternalId = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[ServiceAdmin]:
    """Services, newest first, active or not; `external_id` finds the one with that id."""
    return await service.list_services(session, external_id=external_id, limit=limit, cursor=cursor)


@router.get(
    "/admin/services/{service_id}",
    response_model=ServiceAdmin,
    responses=error_responses(Forbidden, ServiceNotFound),
)
async def get_service(service_id: ServiceId, _admin: AdminUser, session: DbSession) -> ServiceAdmin:
    """One service, active or not, with its prices and terms."""
    return await service.get_service(session, service_id)


@router.patch(
    "/admin/services/{service_id}",
    response_model=ServiceAdmin,
    responses=error_responses(Forbidden, ServiceNotFound, ExternalIdTaken),
)
async def update_service(
    service_id: ServiceId, body: ServiceUpdate, actor: Writer, session: DbSession
) -> ServiceAdmin:
    """Change the fields the body sends (new orders only: order lines keep their prices)."""
    return await service.update_service(session, actor, service_id, body)
