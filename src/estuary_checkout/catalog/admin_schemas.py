"""What operators send and see (SPEC 10.2): the public view of 10.1 plus the admin fields.

The field rules here (types, ranges, formats) serve the admin API and the catalog import alike
(catalog/transfer.py builds its entries from the same field sets); rules that need other rows or
the whole entity are in catalog/admin_rules.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from estuary_checkout.catalog.schemas import ServicePublic, ServiceType
from estuary_checkout.fields import (
    Cents,
    Currency,
    ExternalId,
    JsonBool,
    JsonInteger,
    NotNull,
    RowId,
    Strict,
    UTCTime,
)

MAX_WINDOWS = 50
MAX_TIME_OFF_DAYS = 366


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_timezone(value: str) -> str:
    if value not in _zones():
        raise ValueError("not an IANA time zone name (e.g. 'Europe/Berlin')")
    return value


class _ZoneNames:
    """The JSON schema lists the names `_known_timezone` accepts (clients get a pick list)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "enum": sorted(_zones())}


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Timezone = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_timezone), _ZoneNames()
]
StartTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
EndTime = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
BufferMinutes = Annotated[int, Field(ge=0, le=240), JsonInteger]
StepMinutes = Annotated[int, Field(ge=5, le=240), JsonInteger]


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


# --- practitioners -------------------------------------------------------------------------


class Window(Strict):
    """A weekly window in the practitioner's time zone; `end` is exclusive and may be 24:00."""

    weekday: Annotated[int, Field(ge=0, le=6), JsonInteger] = Field(description="0 = Monday … 6 = Sunday")
    start: StartTime
    end: EndTime

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and minutes(end) <= minutes(start):
            raise ValueError("must be after start (a window cannot be empty)")
        return end


class AvailabilityIn(Strict):
    windows: list[Window] = Field(max_length=MAX_WINDOWS)


class AvailabilityOut(BaseModel):
    windows: list[Window]


class PractitionerFields(Strict):
    name: Name
    timezone: Timezone
    external_id: ExternalId | None = None
    is_active: JsonBool = True
    buffer_minutes: BufferMinutes = 0
    slot_step_minutes: StepMinutes = 15


class PractitionerCreate(PractitionerFields):
    pass


class PractitionerUpdate(Strict):
    name: Annotated[Name | None, NotNull] = None
    timezone: Annotated[Timezone | None, NotNull] = None
    external_id: ExternalId | None = None
    is_active: Annotated[JsonBool | None, NotNull] = None
    buffer_minutes: Annotated[BufferMinutes | None, NotNull] = None
    slot_step_minutes: Annotated[StepMinutes | None, NotNull] = None


class PractitionerAdmin(BaseModel):
    id: int
    name: str
    timezone: str
    external_id: str | None
    is_active: bool
    buffer_minutes: int
    slot_step_minutes: int
    availability: list[Window]
    created_at: datetime
    updated_at: datetime


class TimeOffCreate(Strict):
    start_time: UTCTime
    end_time: UTCTime
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("end_time")
    @classmethod
    def _range(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start_time")
        if start is None:
            return end
        if end <= start:
            raise ValueError("must be after start_time")
        if end - start > timedelta(days=MAX_TIME_OFF_DAYS):
            raise ValueError(f"time off may last at most {MAX_TIME_OFF_DAYS} days")
        return end


class TimeOffAdmin(BaseModel):
    id: int
    practitioner_id: int
    start_time: datetime
    end_time: datetime
    reason: str | None
    created_at: datetime


class TimeOffCreated(TimeOffAdmin):
    # pending or confirmed bookings inside the time off: accepted anyway, the operator decides
    conflicting_booking_ids: list[int]


# --- services ------------------------------------------------------------------------------


class PriceIn(Strict):
    currency: Currency
    amount_cents: Cents


class BundleFields(Strict):
    sessions_included: Annotated[int, Field(ge=1, le=1000), JsonInteger]
    bonus_sessions: Annotated[int, Field(ge=0, le=1000), JsonInteger] = 0
    validity_days: Annotated[int, Field(ge=1, le=3650), JsonInteger] | None = Field(
        None, description="null: passes last 365 days"
    )


class BundleIn(BundleFields):
    child_service_id: RowId


class PackageChildFields(Strict):
    quantity: Annotated[int, Field(ge=1, le=10), JsonInteger] = 1
    is_required: JsonBool = True
    discount_percentage: Annotated[int, Field(ge=0, le=100), JsonInteger] = 0


class PackageChildIn(PackageChildFields):
    service_id: RowId


class PackageIn(Strict):
    children: list[PackageChildIn] = Field(min_length=1, max_length=20)


class ServiceFields(Strict):
    """Every field of a service except its references to other rows (ids here, external ids in
    an import file)."""

    type: ServiceType
    name: Name
    description: Description | None = None
    price_cents: Cents | None = None
    currency: Currency = "usd"
    prices: list[PriceIn] = Field(default_factory=list, max_length=20)
    duration_minutes: Annotated[int, Field(ge=5, le=1440), JsonInteger] | None = None
    is_active: JsonBool = True
    available_from: UTCTime | None = None
    available_until: UTCTime | None = None
    max_per_customer: Annotated[int, Field(ge=1, le=100), JsonInteger] = 5
    external_id: ExternalId | None = None


class ServiceCreate(ServiceFields):
    practitioner_id: RowId
    bundle: BundleIn | None = None
    package: PackageIn | None = None


class ServiceUpdate(Strict):
    type: Annotated[ServiceType | None, NotNull] = None
    name: Annotated[Name | None, NotNull] = None
    description: Description | None = None
    practitioner_id: Annotated[RowId | None, NotNull] = None
    price_cents: Cents | None = None
    currency: Annotated[Currency | None, NotNull] = None
    # the constraints on the inner type, where the JSON schema can say them (not on the union)
    prices: Annotated[Annotated[list[PriceIn], Field(max_length=20)] | None, NotNull] = None
    duration_minutes: Annotated[int, Field(ge=5, le=1440), JsonInteger] | None = None
    is_active: Annotated[JsonBool | None, NotNull] = None
    available_from: UTCTime | None = None
    available_until: UTCTime | None = None
    max_per_customer: Annotated[Annotated[int, Field(ge=1, le=100), JsonInteger] | None, NotNull] = None
    external_id: ExternalId | None = None
    bundle: BundleIn | None = None
    package: PackageIn | None = None


class ServiceAdmin(ServicePublic):
    is_active: bool
    available_from: datetime | None
    available_until: datetime | None
    max_per_customer: int
    external_id: str | None
    created_at: datetime
    updated_at: datetime
