"""Admin writes and reads of the catalog (SPEC 10.2): practitioners, their weekly windows and
time off, services. Every write adds its audit row in the same transaction (SPEC 10.4).

The `write_*` functions are the writes themselves, shared with the catalog import
(catalog/transfer.py): they take input that has passed the rules and record the audit row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit import service as audit
from estuary_checkout.audit.service import Actor
from estuary_checkout.catalog import admin_repository as repo
from estuary_checkout.catalog import admin_rules as rules
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
    Window,
    hhmm,
    minutes,
)
from estuary_checkout.catalog.errors import (
    ExternalIdTaken,
    PractitionerNotFound,
    ServiceNotFound,
    TimeOffNotFound,
)
from estuary_checkout.catalog.models import Practitioner, Service, TimeOff
from estuary_checkout.catalog.service import service_public
from estuary_checkout.db.base import utcnow
from estuary_checkout.pagination import Page
from estuary_checkout.problems import Problem, raise_any, under

# --- views ---------------------------------------------------------------------------------


def windows_of(p: Practitioner) -> list[Window]:
    return [
        Window(weekday=w.weekday, start=hhmm(w.start_minute), end=hhmm(w.end_minute)) for w in p.availability
    ]


def practitioner_admin(p: Practitioner) -> PractitionerAdmin:
    """Needs `availability` loaded."""
    return PractitionerAdmin(
        id=p.id,
        name=p.name,
        timezone=p.timezone,
        external_id=p.external_id,
        is_active=p.is_active,
        buffer_minutes=p.buffer_minutes,
        slot_step_minutes=p.slot_step_minutes,
        availability=windows_of(p),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def time_off_admin(t: TimeOff) -> TimeOffAdmin:
    return TimeOffAdmin(
        id=t.id,
        practitioner_id=t.practitioner_id,
        start_time=t.start_at,
        end_time=t.end_at,
        reason=t.reason,
        created_at=t.created_at,
    )


def service_admin(s: Service) -> ServiceAdmin:
    """The public view plus the admin fields; needs `children` and `other_prices` loaded."""
    return ServiceAdmin(
        **service_public(s).model_dump(),
        is_active=s.is_active,
        available_from=s.available_from,
        available_until=s.available_until,
        max_per_customer=s.max_per_customer,
        external_id=s.external_id,
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


def draft_of(s: Service) -> rules.ServiceDraft[int]:
    """The service as the rules see it; needs `children` and `other_prices` loaded."""
    bundle = None
    if s.type == "bundle" and s.bundle_child_service_id is not None:
        bundle = rules.BundleDraft(
            s.bundle_child_service_id, s.sessions_included or 0, s.bonus_sessions or 0, s.validity_days
        )
    children = None
    if s.type == "package":
        children = tuple(
            rules.ChildDraft(c.child_service_id, c.quantity, c.is_required, c.discount_percentage)
            for c in s.children
        )
    return rules.ServiceDraft(
        type=s.type,
        name=s.name,
        description=s.description,
        practitioner=s.practitioner_id,
        price_cents=s.price_cents,
        currency=s.currency,
        other_prices={p.currency: p.amount_cents for p in s.other_prices},
        duration_minutes=s.duration_minutes,
        is_active=s.is_active,
        available_from=s.available_from,
        available_until=s.available_until,
        max_per_customer=s.max_per_customer,
        external_id=s.external_id,
        bundle=bundle,
        children=children,
    )


# --- shared write steps --------------------------------------------------------------------


async def check_external_id(
    session: AsyncSession, model: Any, external_id: str | None, own_id: int | None
) -> None:
    """409 if another practitioner (or service) has the external id. A concurrent writer can
    still get there first: `flush_unique` turns that unique violation into the same 409."""
    if external_id is None:
        return
    owner = await repo.external_id_owner(session, model, external_id)
    if owner is not None and owner != own_id:
        raise ExternalIdTaken(details={"field": "external_id", "external_id": external_id, "id": owner})


async def flush_unique(session: AsyncSession, external_id: str | None) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        if external_id is not None and "external_id" in str(exc.orig):
            raise ExternalIdTaken(details={"field": "external_id", "external_id": external_id}) from exc
        raise


async def write_practitioner(
    session: AsyncSession, actor: Actor, row: Practitioner | None, values: dict[str, Any]
) -> Practitioner:
    """Create (row None) or update a practitioner's own fields; `values` passed the schema."""
    before = None if row is None else practitioner_admin(row)
    now = utcnow()
    if row is None:
        row = Practitioner(availability=[], created_at=now)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
    await flush_unique(session, row.external_id)
    return await _record_practitioner(
        session, actor, row.id, "create" if before is None else "update", before
    )


async def write_windows(
    session: AsyncSession, actor: Actor, row: Practitioner, windows: list[Window]
) -> Practitioner:
    """The practitioner's weekly windows become `windows` (which passed `window_problems`)."""
    before = practitioner_admin(row)
    await repo.replace_windows(
        session, row.id, ((w.weekday, minutes(w.start), minutes(w.end)) for w in windows)
    )
    row.updated_at = utcnow()
    await session.flush()
    return await _record_practitioner(session, actor, row.id, "set_availability", before)


async def _record_practitioner(
    session: AsyncSession, actor: Actor, practitioner_id: int, action: str, before: PractitionerAdmin | None
) -> Practitioner:
    row = await repo.practitioner(session, practitioner_id)
    assert row is not None
    await audit.record(
        session,
        actor,
        action=action,
        entity="practitioner",
        entity_id=row.id,
        before=before,
        after=practitioner_admin(row),
    )
    return row


async def write_time_off(
    session: AsyncSession, actor: Actor, practitioner_id: int, body: TimeOffCreate
) -> TimeOff:
    row = TimeOff(
        practitioner_id=practitioner_id, start_at=body.start_time, end_at=body.end_time, reason=body.reason
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="create",
        entity="time_off",
        entity_id=row.id,
        before=None,
        after=time_off_admin(row),
    )
    return row


async def remove_time_off(session: AsyncSession, actor: Actor, row: TimeOff) -> None:
    before = time_off_admin(row)
    await repo.delete_time_off(session, row)
    await audit.record(
        session, actor, action="delete", entity="time_off", entity_id=before.id, before=before, after=None
    )


async def write_service(
    session: AsyncSession, actor: Actor, row: Service | None, draft: rules.ServiceDraft[int]
) -> Service:
    """Create (row None) or update a service to be `draft` (which passed the rules)."""
    before = None if row is None else service_admin(row)
    now = utcnow()
    if row is None:
        row = Service(children=[], other_prices=[], created_at=now)
        session.add(row)
    row.type = draft.type
    row.name = draft.name
    row.description = draft.description
    row.practitioner_id = draft.practitioner
    row.price_cents = draft.price_cents
    row.currency = draft.currency
    row.duration_minutes = draft.duration_minutes
    row.is_active = draft.is_active
    row.available_from = draft.available_from
    row.available_until = draft.available_until
    row.max_per_customer = draft.max_per_customer
    row.external_id = draft.external_id
    b = draft.bundle
    row.bundle_child_service_id = b.child if b else None
    row.sessions_included = b.sessions_included if b else None
    row.bonus_sessions = b.bonus_sessions if b else 0
    row.validity_days = b.validity_days if b else None
    row.updated_at = now
    await flush_unique(session, draft.external_id)
    await repo.replace_prices(session, row, dict(draft.other_prices))
    await repo.replace_children(session, row, draft.children or ())
    fresh = await repo.service(session, row.id)
    assert fresh is not None
    await audit.record(
        session,
        actor,
        action="create" if before is None else "update",
        entity="service",
        entity_id=fresh.id,
        before=before,
        after=service_admin(fresh),
    )
    return fresh


async def reference_problems(
    session: AsyncSession, draft: rules.ServiceDraft[int], self_id: int | None
) -> list[Problem]:
    """The rules of `admin_rules.service_problems`, with what the draft refers to read from the
    database (and, for an existing session, the bundles and packages that hold it)."""
    child_ids = {c.service for c in draft.children or ()}
    if draft.bundle is not None:
        child_ids.add(draft.bundle.child)
    found = await repo.services_by_id(session, child_ids - {self_id} if self_id else child_ids)
    refs = {i: rules.ServiceRef(s.type, s.practitioner_id, s.currency) for i, s in found.items()}
    practitioners = await repo.existing_practitioner_ids(session, {draft.practitioner})
    problems = rules.service_problems(draft, self_ref=self_id, refs=refs, practitioners=practitioners)
    if self_id is not None and draft.type == "session":
        parents = [
            rules.ServiceRef(p.type, p.practitioner_id, p.currency, label=f"{p.type} {p.id}")
            for p in await repo.parents_of(session, self_id)
        ]
        problems += rules.parent_problems(draft, parents)
    return problems


# --- practitioners -------------------------------------------------------------------------


async def _practitioner(session: AsyncSession, practitioner_id: int, *, lock: bool = False) -> Practitioner:
    row = await repo.practitioner(session, practitioner_id, lock=lock)
    if row is None:
        raise PractitionerNotFound(details={"practitioner_id": practitioner_id})
    return row


async def create_practitioner(
    session: AsyncSession, actor: Actor, body: PractitionerCreate
) -> PractitionerAdmin:
    await check_external_id(session, Practitioner, body.external_id, None)
    return practitioner_admin(await write_practitioner(session, actor, None, body.model_dump()))


async def get_practitioner(session: AsyncSession, practitioner_id: int) -> PractitionerAdmin:
    return practitioner_admin(await _practitioner(session, practitioner_id))


async def list_practitioners(
    session: AsyncSession, *, external_id: str | None, limit: int, cursor: str | None
) -> Page[PractitionerAdmin]:
    got = await repo.practitioner_page(session, external_id=external_id, limit=limit, cursor=cursor)
    return Page(
        data=[practitioner_admin(p) for p in got.rows], has_more=got.has_more, next_cursor=got.next_cursor
    )


async def update_practitioner(
    session: AsyncSession, actor: Actor, practitioner_id: int, body: PractitionerUpdate
) -> PractitionerAdmin:
    row = await _practitioner(session, practitioner_id, lock=True)
    values = body.model_dump(exclude_unset=True)
    if "external_id" in values:
        await check_external_id(session, Practitioner, values["external_id"], row.id)
    return practitioner_admin(await write_practitioner(session, actor, row, values))


async def set_availability(
    session: AsyncSession, actor: Actor, practitioner_id: int, body: AvailabilityIn
) -> AvailabilityOut:
    raise_any(under("windows", rules.window_problems(body.windows)))
    row = await _practitioner(session, practitioner_id, lock=True)
    return AvailabilityOut(windows=windows_of(await write_windows(session, actor, row, body.windows)))


async def add_time_off(
    session: AsyncSession, actor: Actor, practitioner_id: int, body: TimeOffCreate
) -> TimeOffCreated:
    await _practitioner(session, practitioner_id, lock=True)
    row = await write_time_off(session, actor, practitioner_id, body)
    conflicts = await repo.conflicting_bookings(session, practitioner_id, row.start_at, row.end_at)
    return TimeOffCreated(**time_off_admin(row).model_dump(), conflicting_booking_ids=conflicts)


async def list_time_off(
    session: AsyncSession, practitioner_id: int, *, limit: int, cursor: str | None
) -> Page[TimeOffAdmin]:
    await _practitioner(session, practitioner_id)
    got = await repo.time_off_page(session, practitioner_id, limit=limit, cursor=cursor)
    return Page(
        data=[time_off_admin(t) for t in got.rows], has_more=got.has_more, next_cursor=got.next_cursor
    )


async def delete_time_off(
    session: AsyncSession, actor: Actor, practitioner_id: int, time_off_id: int
) -> None:
    await _practitioner(session, practitioner_id, lock=True)
    row = await repo.time_off(session, practitioner_id, time_off_id)
    if row is None:
        raise TimeOffNotFound(details={"practitioner_id": practitioner_id, "time_off_id": time_off_id})
    await remove_time_off(session, actor, row)


# --- services ------------------------------------------------------------------------------


async def _service(session: AsyncSession, service_id: int, *, lock: bool = False) -> Service:
    row = await repo.service(session, service_id, lock=lock)
    if row is None:
        raise ServiceNotFound(details={"service_id": service_id})
    return row


async def create_service(session: AsyncSession, actor: Actor, body: ServiceCreate) -> ServiceAdmin:
    draft, problems = rules.draft_from_create(body)
    raise_any(problems + await reference_problems(session, draft, None))
    await check_external_id(session, Service, draft.external_id, None)
    return service_admin(await write_service(session, actor, None, draft))


async def get_service(session: AsyncSession, service_id: int) -> ServiceAdmin:
    return service_admin(await _service(session, service_id))


async def list_services(
    session: AsyncSession, *, external_id: str | None, limit: int, cursor: str | None
) -> Page[ServiceAdmin]:
    got = await repo.service_page(session, external_id=external_id, limit=limit, cursor=cursor)
    return Page(data=[service_admin(s) for s in got.rows], has_more=got.has_more, next_cursor=got.next_cursor)


async def update_service(
    session: AsyncSession, actor: Actor, service_id: int, body: ServiceUpdate
) -> ServiceAdmin:
    row = await _service(session, service_id, lock=True)
    draft, problems = rules.draft_from_patch(draft_of(row), body)
    raise_any(problems + await reference_problems(session, draft, row.id))
    if draft.external_id != row.external_id:
        await check_external_id(session, Service, draft.external_id, row.id)
    return service_admin(await write_service(session, actor, row, draft))
