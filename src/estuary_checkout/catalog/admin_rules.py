"""Catalog rules that need more than one field: weekly windows, prices, services and what they
refer to. Pure functions, no I/O: the admin API and the catalog import both build a draft of the
entity as it will be after the write, look up what it refers to, and ask for its problems here.

A draft's references to other rows are generic (`R`): ids for the admin API, external ids for
an import file (where a service may refer to one created by the same file). Problems name fields
relative to the entity; the names of reference fields differ between the two inputs
(`ServiceNames`), everything else is spelled the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from estuary_checkout.catalog.admin_schemas import (
    BundleIn,
    PackageIn,
    PriceIn,
    ServiceCreate,
    ServiceUpdate,
    Window,
    minutes,
)
from estuary_checkout.problems import Problem

R = TypeVar("R", int, str)
S = TypeVar("S", int, str)


# --- weekly windows ------------------------------------------------------------------------


def window_problems(windows: Sequence[Window]) -> list[Problem]:
    """Windows of one weekday may touch (09:00–12:00 and 12:00–17:00) but not overlap; each
    window is already non-empty (Window checks that). Fields are relative: `[3].start`."""
    spans = sorted((w.weekday, minutes(w.start), minutes(w.end), i) for i, w in enumerate(windows))
    problems = []
    for prev, cur in itertools.pairwise(spans):
        if prev[0] == cur[0] and cur[1] < prev[2]:
            problems.append(
                Problem(
                    f"[{cur[3]}].start",
                    f"overlaps window [{prev[3]}] ({windows[prev[3]].start}–{windows[prev[3]].end}"
                    f" on weekday {prev[0]})",
                    "overlap",
                )
            )
    return problems


# --- services ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleDraft(Generic[R]):
    child: R
    sessions_included: int
    bonus_sessions: int
    validity_days: int | None


@dataclass(frozen=True)
class ChildDraft(Generic[R]):
    service: R
    quantity: int
    is_required: bool
    discount_percentage: int


@dataclass(frozen=True)
class ServiceDraft(Generic[R]):
    """A service as it will be after the write. `other_prices` excludes the default currency
    (folded into `price_cents`); `children` is None when the input has no package block."""

    type: str
    name: str
    description: str | None
    practitioner: R
    price_cents: int | None
    currency: str
    other_prices: Mapping[str, int]
    duration_minutes: int | None
    is_active: bool
    available_from: datetime | None
    available_until: datetime | None
    max_per_customer: int
    external_id: str | None
    bundle: BundleDraft[R] | None
    children: tuple[ChildDraft[R], ...] | None


def with_refs(
    draft: ServiceDraft[R], *, practitioners: Mapping[R, S], services: Mapping[R, S]
) -> ServiceDraft[S]:
    """The same draft with its references translated (ids ↔ external ids)."""
    b = draft.bundle
    bundle = (
        None
        if b is None
        else BundleDraft(services[b.child], b.sessions_included, b.bonus_sessions, b.validity_days)
    )
    children = (
        None
        if draft.children is None
        else tuple(
            ChildDraft(services[c.service], c.quantity, c.is_required, c.discount_percentage)
            for c in draft.children
        )
    )
    fields = {
        **vars(draft),
        "practitioner": practitioners[draft.practitioner],
        "bundle": bundle,
        "children": children,
    }
    return ServiceDraft(**fields)


@dataclass(frozen=True)
class ServiceRef(Generic[R]):
    """What the rules need to know about a service another one refers to (or is referred by)."""

    type: str
    practitioner: R
    currency: str
    label: str = ""


@dataclass(frozen=True)
class ServiceNames:
    """How the input spells the reference fields (the rest is spelled the same everywhere)."""

    practitioner: str
    bundle_child: str
    package_child: str  # a format string taking the child's index


API_NAMES = ServiceNames("practitioner_id", "bundle.child_service_id", "package.children[{}].service_id")


def fold_prices(
    price_cents: int | None, currency: str, prices: Sequence[PriceIn]
) -> tuple[int | None, dict[str, int], list[Problem]]:
    """`prices` may repeat the default currency: it must agree with `price_cents` (or sets it).
    Returns the default price, the other currencies' prices and the problems."""
    problems = []
    others: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, p in enumerate(prices):
        if p.currency in seen:
            problems.append(
                Problem(f"prices[{i}].currency", f"{p.currency} is already in prices[{seen[p.currency]}]")
            )
            continue
        seen[p.currency] = i
        if p.currency != currency:
            others[p.currency] = p.amount_cents
        elif price_cents is None:
            price_cents = p.amount_cents
        elif p.amount_cents != price_cents:
            problems.append(
                Problem(
                    f"prices[{i}].amount_cents",
                    f"the {currency} price must agree with price_cents ({price_cents})",
                )
            )
    return price_cents, others, problems


def _bundle(b: BundleIn | None) -> BundleDraft[int] | None:
    if b is None:
        return None
    return BundleDraft(b.child_service_id, b.sessions_included, b.bonus_sessions, b.validity_days)


def _children(p: PackageIn | None) -> tuple[ChildDraft[int], ...] | None:
    if p is None:
        return None
    return tuple(
        ChildDraft(c.service_id, c.quantity, c.is_required, c.discount_percentage) for c in p.children
    )


def draft_from_create(body: ServiceCreate) -> tuple[ServiceDraft[int], list[Problem]]:
    price, others, problems = fold_prices(body.price_cents, body.currency, body.prices)
    draft = ServiceDraft(
        type=body.type,
        name=body.name,
        description=body.description,
        practitioner=body.practitioner_id,
        price_cents=price,
        currency=body.currency,
        other_prices=others,
        duration_minutes=body.duration_minutes,
        is_active=body.is_active,
        available_from=body.available_from,
        available_until=body.available_until,
        max_per_customer=body.max_per_customer,
        external_id=body.external_id,
        bundle=_bundle(body.bundle),
        children=_children(body.package),
    )
    return draft, problems


def draft_from_patch(
    current: ServiceDraft[int], body: ServiceUpdate
) -> tuple[ServiceDraft[int], list[Problem]]:
    """The current service with the fields the PATCH body sets. A `prices` list replaces the
    prices in other currencies; `bundle` / `package` replace the terms / the children."""
    patch = body.model_dump(exclude_unset=True)
    problems = []
    if "type" in patch and patch["type"] != current.type:
        problems.append(Problem("type", f"cannot change a {current.type} into a {patch['type']}"))
    currency = patch.get("currency", current.currency)
    price = patch["price_cents"] if "price_cents" in patch else current.price_cents
    prices = (
        body.prices
        if body.prices is not None
        else [PriceIn(currency=c, amount_cents=a) for c, a in current.other_prices.items()]
    )
    price, others, price_problems = fold_prices(price, currency, prices)
    simple = {
        k: patch[k]
        for k in (
            "name",
            "description",
            "duration_minutes",
            "is_active",
            "available_from",
            "available_until",
            "max_per_customer",
            "external_id",
        )
        if k in patch
    }
    draft = replace(
        current,
        **simple,
        practitioner=patch.get("practitioner_id", current.practitioner),
        price_cents=price,
        currency=currency,
        other_prices=others,
        bundle=_bundle(body.bundle) if "bundle" in patch else current.bundle,
        children=_children(body.package) if "package" in patch else current.children,
    )
    return draft, problems + price_problems


def service_problems(
    draft: ServiceDraft[R],
    *,
    self_ref: R | None,
    refs: Mapping[R, ServiceRef[R]],
    practitioners: Container[R],
    names: ServiceNames = API_NAMES,
    unchecked: Container[R] = (),
) -> list[Problem]:
    """Everything a service must satisfy besides its fields' own formats. `refs` holds the
    services the draft refers to (those missing are unknown), `practitioners` the known ones;
    references in `unchecked` exist but cannot be judged (an import entry with problems of its
    own, reported there)."""
    problems: list[Problem] = []
    add = problems.append
    kind = draft.type
    if kind == "session":
        if draft.duration_minutes is None:
            add(Problem("duration_minutes", "a session needs a duration"))
    elif draft.duration_minutes is not None:
        add(Problem("duration_minutes", f"only sessions have a duration, not a {kind}"))
    if draft.price_cents is None:
        if kind != "package":
            add(Problem("price_cents", f"a {kind} needs a price"))
        elif draft.other_prices:
            add(Problem("prices", "a package priced from its children has no prices of its own"))
    if kind == "bundle" and draft.bundle is None:
        add(Problem("bundle", "a bundle needs its terms (child_service_id, sessions_included, …)"))
    if kind != "bundle" and draft.bundle is not None:
        add(Problem("bundle", f"only bundles have bundle terms, not a {kind}"))
    if kind == "package" and not draft.children:
        add(Problem("package", "a package needs at least one child service"))
    if kind != "package" and draft.children is not None:
        add(Problem("package", f"only packages have children, not a {kind}"))
    if (
        draft.available_from is not None
        and draft.available_until is not None
        and draft.available_until <= draft.available_from
    ):
        add(Problem("available_until", "must be after available_from"))
    if draft.practitioner not in practitioners:
        add(Problem(names.practitioner, f"no practitioner {draft.practitioner!r}", "unknown_reference"))

    def child_problem(field: str, ref: R, what: str, same_currency: bool) -> None:
        if ref in unchecked:
            return
        if self_ref is not None and ref == self_ref:
            add(Problem(field, f"a {what} cannot contain itself"))
            return
        child = refs.get(ref)
        if child is None:
            add(Problem(field, f"no service {ref!r}", "unknown_reference"))
        elif child.type != "session":
            add(Problem(field, f"{ref!r} is a {child.type}; a {what} holds sessions only"))
        elif child.practitioner != draft.practitioner:
            add(Problem(field, f"{ref!r} is offered by another practitioner than this {what}"))
        elif same_currency and child.currency != draft.currency:
            add(Problem(field, f"{ref!r} is priced in {child.currency}, this package in {draft.currency}"))

    if kind == "bundle" and draft.bundle is not None:
        child_problem(names.bundle_child, draft.bundle.child, "bundle", same_currency=False)
    if kind == "package" and draft.children:
        seen: set[R] = set()
        for i, c in enumerate(draft.children):
            field = names.package_child.format(i)
            if c.service in seen:
                add(Problem(field, f"{c.service!r} is listed twice"))
                continue
            seen.add(c.service)
            child_problem(field, c.service, "package", same_currency=True)
    return problems


def parent_problems(
    draft: ServiceDraft[R], parents: Sequence[ServiceRef[R]], names: ServiceNames = API_NAMES
) -> list[Problem]:
    """A session that bundles or packages hold must stay with their practitioner (and a
    package's currency): their passes are for that practitioner, their prices in that currency."""
    problems = []
    for parent in parents:
        if parent.practitioner != draft.practitioner:
            problems.append(
                Problem(
                    names.practitioner,
                    f"{parent.label} holds this session and is offered by its practitioner",
                )
            )
        if parent.type == "package" and parent.currency != draft.currency:
            problems.append(
                Problem("currency", f"{parent.label} holds this session and is priced in {parent.currency}")
            )
    return problems
