"""Field types shared by request bodies and catalog import entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


class Strict(BaseModel):
    """Request bodies and file entries: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _date_time_text(value: Any) -> Any:
    # pydantic would read a number, or a string holding one, as Unix time; the schema (and the
    # SPEC) say an RFC 3339 date-time string
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be a date-time with its offset (e.g. 2026-12-02T09:30:00Z), not a number")
    return value


def _json_integer(value: Any) -> Any:
    # pydantic's lax int would also take true/false and "12"; the schema says a JSON integer
    # (a whole float such as 12.0 is one, and is still accepted)
    if isinstance(value, bool | str | bytes):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00: past datetime's range in UTC
        raise ValueError("out of range") from exc


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, not null")
    return value


# Request bodies read JSON as JSON: an integer field takes a number, a boolean field true or false
# (pydantic's lax mode would take "12" or true for an integer, "yes" or 1 for a boolean: values
# the schema calls invalid). JsonInteger goes after a field's constraints, as in
# Annotated[int, Field(ge=1), JsonInteger]: placed before them, the JSON schema would lose them.
JsonInteger = BeforeValidator(_json_integer)
JsonBool = StrictBool

ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:/@+\-]+$")
]
Currency = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
# Stripe's ceiling: at most 8 digits in the smallest unit
Cents = Annotated[int, Field(ge=0, le=99_999_999), JsonInteger]
PositiveCents = Annotated[int, Field(ge=1, le=99_999_999), JsonInteger]
# a row id another row refers to (within the database's 32-bit integer keys)
RowId = Annotated[int, Field(ge=1, le=2**31 - 1), JsonInteger]
# a timezone-aware date-time, written as text (as its JSON schema says), not a Unix time
DateTimeText = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
# the same, kept in UTC (so an entry reads back the same whatever offset it was written in)
UTCTime = Annotated[DateTimeText, AfterValidator(_utc)]


class _NotNull:
    """For PATCH bodies: a field that has no "unset" value may be left out, but not sent as null.

    `X | None = None` is how pydantic spells "may be left out"; the JSON schema says what is
    accepted: X alone (a schema that offered null would invite clients, and fuzzers, to send it).
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(_not_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        options = [o for o in json_schema.get("anyOf", ()) if o != {"type": "null"}]
        if "anyOf" not in json_schema or len(options) == len(json_schema["anyOf"]):
            return json_schema
        rest = {k: v for k, v in json_schema.items() if k != "anyOf"}
        return {**options[0], **rest} if len(options) == 1 else {**rest, "anyOf": options}


NotNull = _NotNull()


class _OnlyMatchingKeys:
    """A dict whose keys are constrained (a pattern, lengths): the JSON schema names the rule for
    every key (`propertyNames`) and the value type for every value (`additionalProperties`).

    Pydantic writes the key pattern as `patternProperties`, which constrains only the values of
    keys that match and lets any other key through with any value: not what validation does.
    """

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        patterns = json_schema.get("patternProperties")
        if not patterns or len(patterns) != 1:
            return json_schema
        ((pattern, values),) = patterns.items()
        rest = {k: v for k, v in json_schema.items() if k != "patternProperties"}
        return {
            **rest,
            "propertyNames": {**rest.get("propertyNames", {}), "pattern": pattern},
            "additionalProperties": values,
        }


OnlyMatchingKeys = _OnlyMatchingKeys()
