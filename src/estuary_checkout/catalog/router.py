"""The public catalog: what any signed-in client may read (SPEC 10.1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from estuary_checkout.catalog import errors as e
from estuary_checkout.catalog import service as catalog_service
from estuary_checkout.catalog.schemas import Availability, PractitionerPublic, ServicePublic, ServiceType
from estuary_checkout.deps import CurrentUser, DbSession, ListCursor, ListLimit, app_state
from estuary_checkout.errors import error_responses
from estuary_checkout.fields import DateTimeText
from estuary_checkout.pagination import DEFAULT_LIMIT, InvalidCursor, Page
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["catalog"])

CatalogId = Annotated[int, Path(ge=1, le=2_147_483_647)]
CatalogIdQuery = Annotated[int, Query(ge=1, le=2_147_483_647)]


@router.get("/catalog/services", response_model=Page[ServicePublic], responses=error_responses(InvalidCursor))
async def list_services(
    user: CurrentUser,
    session: DbSession,
    type: Annotated[ServiceType | None, Query(description="session, bundle or package")] = None,
    practitioner_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: ListLimit = DEFAULT_LIMIT,
    cursor: ListCursor = None,
) -> Page[ServicePublic]:
    """Active services on sale now, newest first."""
    page = await catalog_service.list_services(
        session, service_type=type, practitioner_id=practitioner_id, limit=limit, cursor=cursor
    )
    return Page(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)


@router.get(
    "/catalog/services/{service_id}",
    response_model=ServicePublic,
    responses=error_responses(e.ServiceNotFound),
)
async def get_service(service_id: CatalogId, user: CurrentUser, session: DbSession) -> ServicePublic:
    """One active service on sale now."""
    return await catalog_service.get_service(session, service_id)


@router.get(
    "/catalog/practitioners/{practitioner_id}",
    response_model=PractitionerPublic,
    responses=error_responses(e.PractitionerNotFound),
)
async def get_practitioner(
    practitioner_id: CatalogId, user: CurrentUser, session: DbSession
) -> PractitionerPublic:
    """An active practitioner, their time zone and the services they offer now."""
    return await catalog_service.get_practitioner(session, practitioner_id)


@router.get(
    "/catalog/availability",
    response_model=Availability,
    responses=error_responses(
        e.ServiceNotFound, e.NotASession, e.PractitionerMismatch, e.RangeTooLarge, e.InvalidRange
    ),
)
async def availability(
    user: CurrentUser,
    request: Request,
    service_id: CatalogIdQuery,
    range_start: Annotated[
        DateTimeText, Query(alias="from", description="timezone-aware start of the range")
    ],
    range_end: Annotated[
        DateTimeText, Query(alias="to", description="timezone-aware end (at most 31 days on)")
    ],
    practitioner_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="default: the service's practitioner")
    ] = None,
) -> Response:
    """Bookable slots of a session service starting in [from, to): each is accepted by create now."""
    state = app_state(request)
    # read-only: a bare connection, back in the pool before the response is serialized
    async with state.engine.connect() as conn:
        found = await catalog_service.list_availability(
            conn,
            service_id=service_id,
            practitioner_id=practitioner_id,
            range_start=range_start,
            range_end=range_end,
            min_lead=timedelta(minutes=state.settings.min_lead_minutes),
        )
    # built by our own code as an Availability: serialized once (response_model stays for the schema)
    return Response(found.model_dump_json(), media_type="application/json")
