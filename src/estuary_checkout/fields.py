"""Field types shared by admin request bodies and catalog import entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)


class Strict(BaseModel):
    """Request bodies and file entries: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00: past datetime's range in UTC
        raise ValueError("out of range") from exc


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, not null")
    return value


ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:/@+\-]+$")
]
Currency = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
# Stripe's ceiling: at most 8 digits in the smallest unit
Cents = Annotated[int, Field(ge=0, le=99_999_999)]
PositiveCents = Annotated[int, Field(ge=1, le=99_999_999)]
# a row id another row refers to (within the database's 32-bit integer keys)
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# timezone-aware, kept in UTC (so an entry reads back the same whatever offset it was written in)
UTCTime = Annotated[AwareDatetime, AfterValidator(_utc)]
# for PATCH bodies: a field that has no "unset" value may be left out, but not sent as null
NotNull = BeforeValidator(_not_null)
