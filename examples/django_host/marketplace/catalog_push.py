"""Push the host's practitioners and services to the checkout catalog, matched by external_id
(SPEC 10.2): create what the checkout lacks, PATCH only the fields that differ, leave the rest
alone, so running it twice changes nothing the second time (and writes no audit rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from marketplace.models import Practitioner, Service

API = "/stripe/fastapi/api/v1/stripe"
Outcome = Literal["created", "updated", "unchanged"]
# children before the rows that refer to them: bundles and packages are made of sessions
TYPE_ORDER = {Service.Type.SESSION: 0, Service.Type.BUNDLE: 1, Service.Type.PACKAGE: 2}


class PushError(Exception):
    pass


class ExternalIdTaken(PushError):
    pass


@dataclass
class PushReport:
    rows: list[tuple[str, str, Outcome, int]] = field(default_factory=list)  # kind, external_id, outcome, id

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row[2] == outcome)


class CheckoutAdmin:
    """The few admin routes the push needs, over HTTP with an admin token."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        r = self.http.request(method, API + path, json=body, params=params)
        if r.status_code >= 400:
            try:
                err = r.json()
            except ValueError:
                err = {"error": r.text[:200], "code": None}
            if r.status_code == 409 and err.get("code") == "EXTERNAL_ID_TAKEN":
                raise ExternalIdTaken(err.get("error"))
            raise PushError(
                f"{method} {path}: {r.status_code} {err.get('code')}: {err.get('error')} {err.get('details') or ''}"
            )
        return r.json()

    def find(self, kind: str, external_id: str) -> dict[str, Any] | None:
        page = self._call("GET", f"/admin/{kind}", params={"external_id": external_id})
        return page["data"][0] if page["data"] else None

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/admin/{kind}", body)

    def update(self, kind: str, row_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/admin/{kind}/{row_id}", body)

    def set_availability(self, practitioner_id: int, windows: list[dict[str, Any]]) -> None:
        self._call("PUT", f"/admin/practitioners/{practitioner_id}/availability", {"windows": windows})


def _windows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({"weekday": w["weekday"], "start": w["start"], "end": w["end"]} for w in windows),
        key=lambda w: (w["weekday"], w["start"]),
    )


def _children(package: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if package is None:
        return None
    return sorted(package["children"], key=lambda c: c["service_id"])


def _differs(current: dict[str, Any], key: str, wanted: Any) -> bool:
    have = current.get(key)
    if key == "package":
        return _children(have) != _children(wanted)
    if key == "bundle" and have is not None and wanted is not None:
        return any(have.get(k) != v for k, v in wanted.items())
    return have != wanted


def _upsert(api: CheckoutAdmin, kind: str, wanted: dict[str, Any]) -> tuple[dict[str, Any], Outcome]:
    current = api.find(kind, wanted["external_id"])
    if current is None:
        try:
            return api.create(kind, wanted), "created"
        except ExternalIdTaken:
            # created by someone else since our lookup: update that row instead
            current = api.find(kind, wanted["external_id"])
            if current is None:
                raise
    changes = {k: v for k, v in wanted.items() if _differs(current, k, v)}
    if not changes:
        return current, "unchanged"
    return api.update(kind, current["id"], changes), "updated"


def _practitioner_body(p: Practitioner) -> dict[str, Any]:
    return {"external_id": p.external_id, "name": p.name, "timezone": p.timezone, "is_active": p.is_active}


def _checkout_id(service: Service | None, parent: Service) -> int:
    if service is None or service.checkout_id is None:
        raise PushError(f"service {parent.external_id}: a child service was not pushed")
    return service.checkout_id


def _service_body(s: Service, by_pk: dict[int, Service]) -> dict[str, Any]:
    practitioner = s.practitioner
    if practitioner.checkout_id is None:
        raise PushError(f"service {s.external_id}: its practitioner was not pushed")
    body: dict[str, Any] = {
        "external_id": s.external_id,
        "type": s.type,
        "name": s.name,
        "description": s.description or None,
        "practitioner_id": practitioner.checkout_id,
        "price_cents": s.price_cents,
        "currency": s.currency,
        "duration_minutes": s.duration_minutes,
        "is_active": s.is_active,
    }
    if s.type == Service.Type.BUNDLE:
        body["bundle"] = {
            "child_service_id": _checkout_id(by_pk.get(s.bundle_child_id or 0), s),
            "sessions_included": s.sessions_included,
            "bonus_sessions": s.bonus_sessions,
            "validity_days": s.validity_days,
        }
    if s.type == Service.Type.PACKAGE:
        body["package"] = {
            "children": [
                {
                    "service_id": _checkout_id(by_pk.get(item.child_id), s),
                    "quantity": item.quantity,
                    "is_required": item.is_required,
                    "discount_percentage": item.discount_percentage,
                }
                for item in s.package_items.all()
            ]
        }
    return body


def push_catalog(api: CheckoutAdmin) -> PushReport:
    """Every practitioner, then every service, children first. Stops at the first refusal (the
    rows pushed before it stay pushed; running again resumes where it stopped)."""
    report = PushReport()
    for p in Practitioner.objects.order_by("pk"):
        row, outcome = _upsert(api, "practitioners", _practitioner_body(p))
        wanted_windows = _windows(p.availability)
        if _windows(row.get("availability", [])) != wanted_windows:
            api.set_availability(row["id"], wanted_windows)
            outcome = "updated" if outcome == "unchanged" else outcome
        Practitioner.objects.filter(pk=p.pk).update(checkout_id=row["id"])
        p.checkout_id = row["id"]
        report.rows.append(("practitioner", p.external_id, outcome, row["id"]))

    services = list(Service.objects.select_related("practitioner").prefetch_related("package_items"))
    # the practitioners' checkout ids were just set on other instances
    checkout_ids = dict(Practitioner.objects.values_list("pk", "checkout_id"))
    for s in services:
        s.practitioner.checkout_id = checkout_ids[s.practitioner_id]
    by_pk = {s.pk: s for s in services}
    for s in sorted(services, key=lambda s: (TYPE_ORDER[Service.Type(s.type)], s.pk)):
        row, outcome = _upsert(api, "services", _service_body(s, by_pk))
        Service.objects.filter(pk=s.pk).update(checkout_id=row["id"])
        s.checkout_id = row["id"]
        report.rows.append(("service", s.external_id, outcome, row["id"]))
    return report
