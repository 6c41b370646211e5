"""The catalog file format (SPEC 10.3, docs/catalog-format.md): its entries, reading and writing
files, and export.

An entry is the admin API's body with references by external id instead of by row id: the
field sets are the admin schemas' own (`PractitionerFields`, `ServiceFields`, `CouponFields`),
so a value the API refuses the file refuses too, with the same message. Each entity's canonical
document (`practitioner_doc`, `service_doc`, `coupon_doc`) is what export writes and what the
import compares to decide "unchanged", so a file exported and imported again changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.catalog import admin_repository as repo
from estuary_checkout.catalog import admin_rules as rules
from estuary_checkout.catalog.admin_schemas import (
    MAX_WINDOWS,
    BundleFields,
    PackageChildFields,
    PractitionerFields,
    ServiceFields,
    TimeOffCreate,
    Window,
    minutes,
)
from estuary_checkout.catalog.admin_service import draft_of, windows_of
from estuary_checkout.catalog.models import Practitioner, Service, TimeOff
from estuary_checkout.coupons import repository as coupons_repo
from estuary_checkout.coupons import rules as coupon_rules
from estuary_checkout.coupons.schemas import CouponCode, CouponFields
from estuary_checkout.coupons.service import draft_of as coupon_draft_of
from estuary_checkout.fields import ExternalId, Strict
from estuary_checkout.problems import Problem

FORMAT_VERSION = 1
SECTIONS = ("practitioners", "services", "coupons")
MAX_ENTRIES = 10_000
FILE_NAMES = rules.ServiceNames("practitioner", "bundle.child_service", "package.children[{}].service")
# stands in for the external id of a row that has none (such a row cannot be named in a file)
NO_EXTERNAL_ID = "#"


class PractitionerEntry(PractitionerFields):
    external_id: ExternalId
    # left out: kept as they are; given (even []): the whole set is replaced
    availability: list[Window] | None = Field(None, max_length=MAX_WINDOWS)
    time_off: list[TimeOffCreate] | None = Field(None, max_length=1000)


class BundleEntry(BundleFields):
    child_service: ExternalId


class PackageChildEntry(PackageChildFields):
    service: ExternalId


class PackageEntry(Strict):
    children: list[PackageChildEntry] = Field(min_length=1, max_length=20)


class ServiceEntry(ServiceFields):
    external_id: ExternalId
    practitioner: ExternalId
    bundle: BundleEntry | None = None
    package: PackageEntry | None = None


class CouponEntry(CouponFields):
    code: CouponCode
    allowed_services: list[ExternalId] | None = Field(None, min_length=1, max_length=100)


ENTRY_MODELS: dict[str, type[Strict]] = {
    "practitioners": PractitionerEntry,
    "services": ServiceEntry,
    "coupons": CouponEntry,
}


class CatalogFileError(Exception):
    """The file cannot be read as a catalog document at all (syntax, encoding)."""


class ExportIncomplete(Exception):
    """Rows a file cannot name (no external id): exporting them would give a file that cannot
    be imported back."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = list(missing)


# --- reading and writing files -------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML without 1.1's base-60 integers: an unquoted `12:00` stays the string "12:00"
    instead of becoming 720 (times of day are everywhere in this format)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


def parse(text: str, *, as_json: bool) -> Any:
    """The document in `text` (JSON, or YAML, of which JSON is a subset)."""
    try:
        return json.loads(text) if as_json else yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except json.JSONDecodeError as exc:
        raise CatalogFileError(f"not valid JSON: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogFileError(f"not valid YAML: {exc}") from exc


def dump(document: Mapping[str, Any], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)


# --- canonical documents -------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def window_docs(windows: Iterable[Window]) -> list[dict[str, Any]]:
    ordered = sorted(windows, key=lambda w: (w.weekday, minutes(w.start), minutes(w.end)))
    return [{"weekday": w.weekday, "start": w.start, "end": w.end} for w in ordered]


def time_off_docs(periods: Iterable[tuple[datetime, datetime, str | None]]) -> list[dict[str, Any]]:
    ordered = sorted(periods, key=lambda t: (t[0], t[1], t[2] or ""))
    return [_clean({"start_time": _time(s), "end_time": _time(e), "reason": r}) for s, e, r in ordered]


def practitioner_doc(
    fields: PractitionerFields,
    windows: Iterable[Window] | None,
    time_off: Iterable[tuple[datetime, datetime, str | None]] | None,
) -> dict[str, Any]:
    doc = _clean(
        {
            "external_id": fields.external_id,
            "name": fields.name,
            "timezone": fields.timezone,
            "is_active": fields.is_active,
            "buffer_minutes": fields.buffer_minutes,
            "slot_step_minutes": fields.slot_step_minutes,
        }
    )
    if windows is not None:
        doc["availability"] = window_docs(windows)
    if time_off is not None:
        doc["time_off"] = time_off_docs(time_off)
    return doc


def practitioner_fields(p: Practitioner) -> PractitionerFields:
    return PractitionerFields(
        name=p.name,
        timezone=p.timezone,
        external_id=p.external_id,
        is_active=p.is_active,
        buffer_minutes=p.buffer_minutes,
        slot_step_minutes=p.slot_step_minutes,
    )


def time_off_periods(rows: Iterable[TimeOff]) -> list[tuple[datetime, datetime, str | None]]:
    return [(t.start_at, t.end_at, t.reason) for t in rows]


def service_doc(d: rules.ServiceDraft[str]) -> dict[str, Any]:
    doc = _clean(
        {
            "external_id": d.external_id,
            "type": d.type,
            "name": d.name,
            "description": d.description,
            "practitioner": d.practitioner,
            "price_cents": d.price_cents,
            "currency": d.currency,
            "prices": [{"currency": c, "amount_cents": a} for c, a in sorted(d.other_prices.items())] or None,
            "duration_minutes": d.duration_minutes,
            "is_active": d.is_active,
            "available_from": _time(d.available_from),
            "available_until": _time(d.available_until),
            "max_per_customer": d.max_per_customer,
        }
    )
    if d.bundle is not None:
        doc["bundle"] = _clean(
            {
                "child_service": d.bundle.child,
                "sessions_included": d.bundle.sessions_included,
                "bonus_sessions": d.bundle.bonus_sessions,
                "validity_days": d.bundle.validity_days,
            }
        )
    if d.children is not None:
        doc["package"] = {
            "children": [
                {
                    "service": c.service,
                    "quantity": c.quantity,
                    "is_required": c.is_required,
                    "discount_percentage": c.discount_percentage,
                }
                for c in sorted(d.children, key=lambda c: c.service)
            ]
        }
    return doc


def service_draft(entry: ServiceEntry) -> tuple[rules.ServiceDraft[str], list[Problem]]:
    price, others, problems = rules.fold_prices(entry.price_cents, entry.currency, entry.prices)
    b = entry.bundle
    draft = rules.ServiceDraft(
        type=entry.type,
        name=entry.name,
        description=entry.description,
        practitioner=entry.practitioner,
        price_cents=price,
        currency=entry.currency,
        other_prices=others,
        duration_minutes=entry.duration_minutes,
        is_active=entry.is_active,
        available_from=entry.available_from,
        available_until=entry.available_until,
        max_per_customer=entry.max_per_customer,
        external_id=entry.external_id,
        bundle=None
        if b is None
        else rules.BundleDraft(b.child_service, b.sessions_included, b.bonus_sessions, b.validity_days),
        children=None
        if entry.package is None
        else tuple(
            rules.ChildDraft(c.service, c.quantity, c.is_required, c.discount_percentage)
            for c in entry.package.children
        ),
    )
    return draft, problems


def coupon_doc(d: coupon_rules.CouponDraft[str]) -> dict[str, Any]:
    return _clean(
        {
            "code": d.code,
            "percent_off": d.percent_off,
            "amount_off": dict(sorted(d.amount_off.items())) if d.amount_off else None,
            "starts_at": _time(d.starts_at),
            "ends_at": _time(d.ends_at),
            "max_redemptions": d.max_redemptions,
            "max_per_user": d.max_per_user,
            "min_subtotal_cents": d.min_subtotal_cents,
            "allowed_checkout_types": sorted(d.allowed_checkout_types) if d.allowed_checkout_types else None,
            "allowed_services": sorted(d.allowed_services) if d.allowed_services else None,
            "is_active": d.is_active,
        }
    )


def coupon_draft(entry: CouponEntry) -> coupon_rules.CouponDraft[str]:
    return coupon_rules.CouponDraft(
        code=entry.code,
        percent_off=entry.percent_off,
        amount_off=entry.amount_off,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        max_redemptions=entry.max_redemptions,
        max_per_user=entry.max_per_user,
        min_subtotal_cents=entry.min_subtotal_cents,
        allowed_checkout_types=tuple(entry.allowed_checkout_types) if entry.allowed_checkout_types else None,
        allowed_services=tuple(entry.allowed_services) if entry.allowed_services else None,
        is_active=entry.is_active,
    )


def named(ids: Mapping[int, str | None]) -> dict[int, str]:
    """id → external id, with a stand-in for rows that have none."""
    return {i: e if e is not None else f"{NO_EXTERNAL_ID}{i}" for i, e in ids.items()}


def service_draft_of_row(
    row: Service, practitioners: Mapping[int, str], services: Mapping[int, str]
) -> rules.ServiceDraft[str]:
    """A stored service as a draft naming what it refers to by external id."""
    return rules.with_refs(draft_of(row), practitioners=practitioners, services=services)


def coupon_draft_of_row(row: Any, services: Mapping[int, str]) -> coupon_rules.CouponDraft[str]:
    draft = coupon_draft_of(row)
    refs = None if draft.allowed_services is None else tuple(services[s] for s in draft.allowed_services)
    return coupon_rules.CouponDraft(**{**vars(draft), "allowed_services": refs})


# --- export --------------------------------------------------------------------------------


async def export_catalog(session: AsyncSession) -> dict[str, Any]:
    """The whole catalog as a document; every practitioner and service needs an external id."""
    practitioners = await repo.all_practitioners(session)
    services = await repo.all_services(session)
    coupons = await coupons_repo.all_coupons(session)
    pext = {p.id: p.external_id for p in practitioners}
    sext = {s.id: s.external_id for s in services}
    missing = [f"practitioner {i}" for i, e in pext.items() if e is None]
    missing += [f"service {i}" for i, e in sext.items() if e is None]
    missing += [
        f"coupon {c.code} (service {i})"
        for c in coupons
        for i in c.allowed_service_ids or ()
        if sext.get(i) is None and f"service {i}" not in missing
    ]
    if missing:
        raise ExportIncomplete(missing)
    pnames, snames = named(pext), named(sext)
    time_off = await repo.time_off_of(session, pext)
    return {
        "version": FORMAT_VERSION,
        "practitioners": [
            practitioner_doc(practitioner_fields(p), windows_of(p), time_off_periods(time_off[p.id]))
            for p in practitioners
        ],
        "services": [service_doc(service_draft_of_row(s, pnames, snames)) for s in services],
        "coupons": [coupon_doc(coupon_draft_of_row(c, snames)) for c in coupons],
    }
