"""`catalog import` (SPEC 10.3): check a whole catalog document, then write it in the caller's
transaction.

1. Every entry is checked before anything is written: its fields (the admin schemas), the rules
   of the admin API (catalog/admin_rules.py, coupons/rules.py) with references resolved against
   the file and the database, duplicates within the file. Every problem is named by its path in
   the file (`services[2].package.children[0].service`); any problem, and nothing is written.
2. Entities are matched by external id (coupons by code). One whose canonical document equals
   the entry's is left alone ("unchanged"); the others go through the admin API's own writes,
   each with its audit row under the import's actor.

The caller owns the transaction: the CLI commits it, or rolls it back for `--dry-run`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from estuary_checkout.audit.service import Actor
from estuary_checkout.catalog import admin_repository as repo
from estuary_checkout.catalog import admin_rules as rules
from estuary_checkout.catalog import admin_service as writes
from estuary_checkout.catalog.admin_schemas import TimeOffCreate
from estuary_checkout.catalog.models import Practitioner, Service
from estuary_checkout.catalog.transfer import (
    ENTRY_MODELS,
    FILE_NAMES,
    FORMAT_VERSION,
    MAX_ENTRIES,
    SECTIONS,
    CouponEntry,
    PractitionerEntry,
    ServiceEntry,
    coupon_doc,
    coupon_draft,
    coupon_draft_of_row,
    named,
    practitioner_fields,
    service_doc,
    service_draft,
    service_draft_of_row,
    window_docs,
)
from estuary_checkout.coupons import repository as coupons_repo
from estuary_checkout.coupons import rules as coupon_rules
from estuary_checkout.coupons import service as coupons_service
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.problems import Problem, from_validation_error, under

SCALARS = ("name", "timezone", "external_id", "is_active", "buffer_minutes", "slot_step_minutes")


class CatalogInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportResult:
    tallies: dict[str, Tally] = field(default_factory=lambda: {s: Tally() for s in SECTIONS})


@dataclass
class _Checked:
    """A document that passed every check, with the rows it matches."""

    practitioners: list[PractitionerEntry]
    services: list[tuple[ServiceEntry, rules.ServiceDraft[str]]]
    coupons: list[tuple[CouponEntry, coupon_rules.CouponDraft[str]]]
    db_practitioners: dict[str, Practitioner]
    db_services: dict[str, Service]
    db_coupons: dict[str, Coupon]
    practitioner_names: dict[int, str]  # id → external id, of the rows the checks looked at
    service_names: dict[int, str]


async def import_catalog(session: AsyncSession, document: Any, *, actor: Actor) -> ImportResult:
    checked = await check(session, document)
    result = ImportResult()
    pids = {e: p.id for e, p in checked.db_practitioners.items()}
    for entry in checked.practitioners:
        outcome = await _import_practitioner(
            session, actor, entry, checked.db_practitioners.get(entry.external_id)
        )
        pids[entry.external_id] = outcome[1]
        _count(result.tallies["practitioners"], outcome[0])
    sids = {e: s.id for e, s in checked.db_services.items()}
    # sessions first: bundles and packages hold sessions only, so every child exists by then
    for s_entry, draft in sorted(checked.services, key=lambda pair: pair[1].type != "session"):
        row = checked.db_services.get(s_entry.external_id)
        if row is not None and _service_unchanged(row, draft, checked):
            _count(result.tallies["services"], "unchanged")
            continue
        written = await writes.write_service(
            session, actor, row, rules.with_refs(draft, practitioners=pids, services=sids)
        )
        sids[s_entry.external_id] = written.id
        _count(result.tallies["services"], "created" if row is None else "updated")
    for c_entry, cdraft in checked.coupons:
        coupon = checked.db_coupons.get(c_entry.code)
        if coupon is not None and coupon_doc(
            coupon_draft_of_row(coupon, checked.service_names)
        ) == coupon_doc(cdraft):
            _count(result.tallies["coupons"], "unchanged")
            continue
        await coupons_service.write_coupon(
            session, actor, coupon, coupon_rules.with_service_refs(cdraft, sids)
        )
        _count(result.tallies["coupons"], "created" if coupon is None else "updated")
    return result


def _count(tally: Tally, outcome: str) -> None:
    setattr(tally, outcome, getattr(tally, outcome) + 1)


def _service_unchanged(row: Service, draft: rules.ServiceDraft[str], checked: _Checked) -> bool:
    current = service_draft_of_row(row, checked.practitioner_names, checked.service_names)
    return service_doc(current) == service_doc(draft)


async def _import_practitioner(
    session: AsyncSession, actor: Actor, entry: PractitionerEntry, row: Practitioner | None
) -> tuple[str, int]:
    wanted = {k: getattr(entry, k) for k in SCALARS}
    if row is None:
        row = await writes.write_practitioner(session, actor, None, wanted)
        outcome = "created"
    else:
        current = practitioner_fields(row)
        changed = {k: v for k, v in wanted.items() if getattr(current, k) != v}
        if changed:
            row = await writes.write_practitioner(session, actor, row, changed)
        outcome = "updated" if changed else "unchanged"
    if entry.availability is not None and window_docs(entry.availability) != window_docs(
        writes.windows_of(row)
    ):
        row = await writes.write_windows(session, actor, row, entry.availability)
        outcome = "created" if outcome == "created" else "updated"
    if entry.time_off is not None and await _replace_time_off(session, actor, row.id, entry.time_off):
        outcome = "created" if outcome == "created" else "updated"
    return outcome, row.id


async def _replace_time_off(
    session: AsyncSession, actor: Actor, practitioner_id: int, wanted: list[TimeOffCreate]
) -> bool:
    """Make the practitioner's time off exactly `wanted`: periods already there stay (with
    their ids), the others are removed or added. True if anything changed."""
    current = (await repo.time_off_of(session, [practitioner_id]))[practitioner_id]
    missing = Counter((t.start_time, t.end_time, t.reason) for t in wanted)
    changed = False
    for row in current:
        key = (row.start_at, row.end_at, row.reason)
        if missing[key] > 0:
            missing[key] -= 1
        else:
            await writes.remove_time_off(session, actor, row)
            changed = True
    for t in wanted:
        key = (t.start_time, t.end_time, t.reason)
        if missing[key] > 0:
            missing[key] -= 1
            await writes.write_time_off(session, actor, practitioner_id, t)
            changed = True
    return changed


# --- checks --------------------------------------------------------------------------------


def _sections(document: Any) -> tuple[dict[str, list[Any]], list[Problem]]:
    if not isinstance(document, dict):
        return {}, [Problem("", "the file must hold a mapping of practitioners, services and coupons")]
    problems = [
        Problem(str(k), "not a section of a catalog file")
        for k in document
        if k not in (*SECTIONS, "version")
    ]
    if document.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(Problem("version", f"this importer reads version {FORMAT_VERSION}"))
    sections: dict[str, list[Any]] = {}
    for name in SECTIONS:
        value = document.get(name)
        if value is None:
            sections[name] = []
        elif not isinstance(value, list):
            problems.append(Problem(name, "must be a list"))
            sections[name] = []
        elif len(value) > MAX_ENTRIES:
            problems.append(Problem(name, f"at most {MAX_ENTRIES} entries"))
            sections[name] = []
        else:
            sections[name] = value
    return sections, problems


def _parse_entries(sections: dict[str, list[Any]]) -> tuple[dict[str, list[tuple[int, Any]]], list[Problem]]:
    parsed: dict[str, list[tuple[int, Any]]] = {}
    problems: list[Problem] = []
    for name, raw_entries in sections.items():
        parsed[name] = []
        for i, raw in enumerate(raw_entries):
            try:
                parsed[name].append((i, ENTRY_MODELS[name].model_validate(raw)))
            except ValidationError as exc:
                problems += under(f"{name}[{i}]", from_validation_error(exc))
    return parsed, problems


def _duplicates(section: str, entries: list[tuple[int, Any]], key: str) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for i, entry in entries:
        value = getattr(entry, key)
        if value in first:
            problems.append(Problem(f"{section}[{i}].{key}", f"{value!r} is also {section}[{first[value]}]"))
        else:
            first[value] = i
    return problems


def _named_in(raw_entries: list[Any]) -> set[str]:
    """The external ids a section's raw entries give, parsed or not."""
    return {
        raw["external_id"]
        for raw in raw_entries
        if isinstance(raw, dict) and isinstance(raw.get("external_id"), str)
    }


async def check(session: AsyncSession, document: Any) -> _Checked:
    """Everything the import checks before it writes; raises CatalogInvalid with every problem."""
    sections, problems = _sections(document)
    parsed, entry_problems = _parse_entries(sections)
    problems += entry_problems
    practitioners: list[tuple[int, PractitionerEntry]] = parsed.get("practitioners", [])
    service_entries: list[tuple[int, ServiceEntry]] = parsed.get("services", [])
    coupon_entries: list[tuple[int, CouponEntry]] = parsed.get("coupons", [])
    problems += _duplicates("practitioners", practitioners, "external_id")
    problems += _duplicates("services", service_entries, "external_id")
    problems += _duplicates("coupons", coupon_entries, "code")

    for i, p in practitioners:
        problems += under(f"practitioners[{i}].availability", rules.window_problems(p.availability or []))

    services: list[tuple[int, ServiceEntry, rules.ServiceDraft[str]]] = []
    for i, e in service_entries:
        draft, fold_problems = service_draft(e)
        problems += under(f"services[{i}]", fold_problems)
        services.append((i, e, draft))
    coupons = [(i, e, coupon_draft(e)) for i, e in coupon_entries]

    # the rows the file matches or refers to, locked until the import commits
    file_pext = {p.external_id for _, p in practitioners}
    file_sext = {e.external_id for _, e in service_entries}
    wanted_sext = set(file_sext)
    for _, _, d in services:
        wanted_sext |= {c.service for c in d.children or ()} | ({d.bundle.child} if d.bundle else set())
    for _, _, c in coupons:
        wanted_sext |= set(c.allowed_services or ())
    db_services = await repo.services_by_external_id(session, wanted_sext, lock=True)
    wanted_pext = file_pext | {d.practitioner for _, _, d in services}
    db_practitioners = await repo.practitioners_by_external_id(session, wanted_pext, lock=True)
    db_coupons = await coupons_repo.by_codes(session, (e.code for _, e in coupon_entries), lock=True)

    # names of every row the checks compare: the matched ones, their children and parents
    parents = {e: await repo.parents_of(session, row.id) for e, row in db_services.items() if e in file_sext}
    child_ids = {c.child_service_id for s in db_services.values() for c in s.children}
    child_ids |= {s.bundle_child_service_id for s in db_services.values() if s.bundle_child_service_id}
    child_ids |= {i for c in db_coupons.values() for i in c.allowed_service_ids or ()}
    service_names = named(
        await repo.external_ids(session, Service, child_ids | {s.id for s in db_services.values()})
    )
    practitioner_ids = {s.practitioner_id for s in db_services.values()}
    practitioner_ids |= {p.practitioner_id for ps in parents.values() for p in ps}
    practitioner_ids |= {p.id for p in db_practitioners.values()}
    practitioner_names = named(await repo.external_ids(session, Practitioner, practitioner_ids))

    # what each service referred to will be: the file's entry (the first one, if an external id
    # is repeated: the repeat is reported), else the stored row
    refs: dict[str, rules.ServiceRef[str]] = {}
    for _, entry, d in services:
        refs.setdefault(entry.external_id, rules.ServiceRef(d.type, d.practitioner, d.currency))
    for external_id, stored in db_services.items():
        refs.setdefault(
            external_id,
            rules.ServiceRef(stored.type, practitioner_names[stored.practitioner_id], stored.currency),
        )
    # entries with problems of their own are not checked again through what refers to them
    unparsed_pext = _named_in(sections.get("practitioners", [])) - file_pext
    unparsed_sext = _named_in(sections.get("services", [])) - file_sext
    known_practitioners = file_pext | unparsed_pext | set(db_practitioners)
    for i, e, d in services:
        at = f"services[{i}]"
        problems += under(
            at,
            rules.service_problems(
                d,
                self_ref=e.external_id,
                refs=refs,
                practitioners=known_practitioners,
                names=FILE_NAMES,
                unchecked=unparsed_sext,
            ),
        )
        row = db_services.get(e.external_id)
        if row is not None and row.type != d.type:
            problems.append(Problem(f"{at}.type", f"cannot change a {row.type} into a {d.type}"))
        if row is not None and d.type == "session":
            outside = [
                rules.ServiceRef(
                    p.type, practitioner_names[p.practitioner_id], p.currency, label=f"{p.type} {p.id}"
                )
                for p in parents[e.external_id]
                if p.external_id not in file_sext
            ]
            problems += under(at, rules.parent_problems(d, outside, FILE_NAMES))
    known_services = file_sext | unparsed_sext | set(db_services)
    for i, ce, c in coupons:
        stored_coupon = db_coupons.get(ce.code)
        problems += under(
            f"coupons[{i}]",
            coupon_rules.coupon_problems(
                c,
                known_services=known_services,
                redeemed_count=stored_coupon.redeemed_count if stored_coupon else 0,
                services_field="allowed_services",
            ),
        )
    if problems:
        raise CatalogInvalid(problems)
    return _Checked(
        practitioners=[p for _, p in practitioners],
        services=[(e, d) for _, e, d in services],
        coupons=[(e, c) for _, e, c in coupons],
        db_practitioners=db_practitioners,
        db_services=db_services,
        db_coupons=db_coupons,
        practitioner_names=practitioner_names,
        service_names=service_names,
    )


def _position(problem: Problem) -> tuple[int, int]:
    """Sort key: file order (section, then entry), top-level problems first."""
    match = re.match(r"^(\w+)\[(\d+)\]", problem.field)
    if match is None or match.group(1) not in SECTIONS:
        return (-1, 0)
    return (SECTIONS.index(match.group(1)), int(match.group(2)))


def describe(problems: list[Problem]) -> list[str]:
    """One line per problem, in file order."""
    return [f"{p.field or '(file)'}: {p.message}" for p in sorted(problems, key=_position)]
