"""The public catalog (SPEC 10.1): what any signed-in client may read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

ServiceType = Literal["session", "bundle", "package"]


class Price(BaseModel):
    currency: str
    amount_cents: int


class BundleTerms(BaseModel):
    child_service_id: int
    sessions_included: int
    bonus_sessions: int
    validity_days: int | None


class PackageChildTerms(BaseModel):
    service_id: int
    quantity: int
    is_required: bool
    discount_percentage: int


class PackageTerms(BaseModel):
    children: list[PackageChildTerms]


class ServicePublic(BaseModel):
    id: int
    type: ServiceType
    name: str
    description: str | None
    practitioner_id: int
    price_cents: int | None
    currency: str
    prices: list[Price]
    duration_minutes: int | None
    bundle: BundleTerms | None
    package: PackageTerms | None


class PractitionerPublic(BaseModel):
    id: int
    name: str
    timezone: str
    service_ids: list[int]


class Slot(BaseModel):
    start_time: datetime
    end_time: datetime


class Availability(BaseModel):
    service_id: int
    practitioner_id: int
    timezone: str
    slots: list[Slot]
