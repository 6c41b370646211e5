"""Coupon rules beyond each field's format, shared by the admin API and the catalog import.

The services a coupon is limited to are references (`R`): ids for the admin API, external ids
in an import file. Problems name fields relative to the coupon.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from estuary_checkout.coupons.schemas import CouponCreate, CouponUpdate
from estuary_checkout.problems import Problem

R = TypeVar("R", int, str)


@dataclass(frozen=True)
class CouponDraft(Generic[R]):
    """A coupon as it will be after the write."""

    code: str
    percent_off: int | None
    amount_off: Mapping[str, int] | None
    starts_at: datetime | None
    ends_at: datetime | None
    max_redemptions: int | None
    max_per_user: int | None
    min_subtotal_cents: int
    allowed_checkout_types: tuple[str, ...] | None
    allowed_services: tuple[R, ...] | None
    is_active: bool


def draft_from_create(body: CouponCreate) -> CouponDraft[int]:
    return CouponDraft(
        code=body.code,
        percent_off=body.percent_off,
        amount_off=body.amount_off,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        max_redemptions=body.max_redemptions,
        max_per_user=body.max_per_user,
        min_subtotal_cents=body.min_subtotal_cents,
        allowed_checkout_types=tuple(body.allowed_checkout_types) if body.allowed_checkout_types else None,
        allowed_services=tuple(body.allowed_service_ids) if body.allowed_service_ids else None,
        is_active=body.is_active,
    )


def draft_from_patch(current: CouponDraft[int], body: CouponUpdate) -> CouponDraft[int]:
    """The coupon with the fields the body sends. Sending one of `percent_off` / `amount_off`
    switches the coupon to that kind (the other is cleared) unless the body sends both."""
    patch = body.model_dump(exclude_unset=True)
    if patch.get("percent_off") is not None and "amount_off" not in patch:
        patch["amount_off"] = None
    if patch.get("amount_off") is not None and "percent_off" not in patch:
        patch["percent_off"] = None
    if "allowed_checkout_types" in patch:
        types = patch["allowed_checkout_types"]
        patch["allowed_checkout_types"] = tuple(types) if types else None
    if "allowed_service_ids" in patch:
        ids = patch.pop("allowed_service_ids")
        patch["allowed_services"] = tuple(ids) if ids else None
    return replace(current, **patch)


def coupon_problems(
    draft: CouponDraft[R],
    *,
    known_services: Container[R],
    redeemed_count: int = 0,
    services_field: str = "allowed_service_ids",
) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    if draft.percent_off is None and draft.amount_off is None:
        add(Problem("percent_off", "give percent_off or amount_off"))
    elif draft.percent_off is not None and draft.amount_off is not None:
        add(Problem("amount_off", "give percent_off or amount_off, not both"))
    if draft.starts_at is not None and draft.ends_at is not None and draft.ends_at <= draft.starts_at:
        add(Problem("ends_at", "must be after starts_at"))
    if draft.max_redemptions is not None and draft.max_redemptions < redeemed_count:
        add(Problem("max_redemptions", f"already redeemed {redeemed_count} times"))
    for i, kind in enumerate(draft.allowed_checkout_types or ()):
        if kind in (draft.allowed_checkout_types or ())[:i]:
            add(Problem(f"allowed_checkout_types[{i}]", f"{kind} is listed twice"))
    seen: set[R] = set()
    for i, ref in enumerate(draft.allowed_services or ()):
        if ref in seen:
            add(Problem(f"{services_field}[{i}]", f"{ref!r} is listed twice"))
        elif ref not in known_services:
            add(Problem(f"{services_field}[{i}]", f"no service {ref!r}", "unknown_reference"))
        seen.add(ref)
    return problems


def with_service_refs(draft: CouponDraft[R], ref: Mapping[R, int]) -> CouponDraft[int]:
    services = None if draft.allowed_services is None else tuple(ref[s] for s in draft.allowed_services)
    return CouponDraft(**{**draft.__dict__, "allowed_services": services})
