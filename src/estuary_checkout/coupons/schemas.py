"""Coupons as operators write and read them (SPEC 10.2, fixed amounts per currency as in 14)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from estuary_checkout.fields import (
    Cents,
    Currency,
    JsonBool,
    JsonInteger,
    NotNull,
    OnlyMatchingKeys,
    PositiveCents,
    RowId,
    Strict,
    UTCTime,
)

CheckoutType = Literal["single_session", "bundle", "package"]
# codes are case-insensitive: kept upper-case
CouponCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$"),
    AfterValidator(str.upper),
]
AmountOff = Annotated[dict[Currency, PositiveCents], Field(min_length=1, max_length=20), OnlyMatchingKeys]
# a value listed twice is refused (coupons/rules.py): the schema says so
CheckoutTypes = Annotated[
    list[CheckoutType], Field(min_length=1, max_length=3, json_schema_extra={"uniqueItems": True})
]
ServiceIds = Annotated[
    list[RowId], Field(min_length=1, max_length=100, json_schema_extra={"uniqueItems": True})
]
MaxRedemptions = Annotated[int, Field(ge=1, le=100_000_000), JsonInteger]
MaxPerUser = Annotated[int, Field(ge=1, le=1000), JsonInteger]


class CouponFields(Strict):
    """Every field of a coupon except the services it is limited to (ids here, external ids in
    an import file). Exactly one of `percent_off` and `amount_off` (checked with the rest in
    coupons/rules.py); null lists mean no restriction."""

    percent_off: Annotated[int, Field(ge=1, le=100), JsonInteger] | None = None
    amount_off: AmountOff | None = Field(None, description="{currency: minor units off}")
    starts_at: UTCTime | None = None
    ends_at: UTCTime | None = None
    max_redemptions: MaxRedemptions | None = None
    max_per_user: MaxPerUser | None = None
    min_subtotal_cents: Cents = 0
    allowed_checkout_types: CheckoutTypes | None = None
    is_active: JsonBool = True


class CouponCreate(CouponFields):
    # exactly one of the two discounts (coupons/rules.py), as the schema can say it
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["percent_off"], "properties": {"percent_off": {"type": "integer"}}},
                {"required": ["amount_off"], "properties": {"amount_off": {"type": "object"}}},
            ]
        },
    )

    code: CouponCode
    allowed_service_ids: ServiceIds | None = None


class CouponUpdate(Strict):
    percent_off: Annotated[int, Field(ge=1, le=100), JsonInteger] | None = None
    amount_off: AmountOff | None = None
    starts_at: UTCTime | None = None
    ends_at: UTCTime | None = None
    max_redemptions: MaxRedemptions | None = None
    max_per_user: MaxPerUser | None = None
    min_subtotal_cents: Annotated[Cents | None, NotNull] = None
    allowed_checkout_types: CheckoutTypes | None = None
    allowed_service_ids: ServiceIds | None = None
    is_active: Annotated[JsonBool | None, NotNull] = None


class CouponAdmin(BaseModel):
    code: str
    percent_off: int | None
    amount_off: dict[str, int] | None
    starts_at: datetime | None
    ends_at: datetime | None
    max_redemptions: int | None
    max_per_user: int | None
    min_subtotal_cents: int
    allowed_checkout_types: list[CheckoutType] | None
    allowed_service_ids: list[int] | None
    is_active: bool
    redeemed_count: int
    created_at: datetime
