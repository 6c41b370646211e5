from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from estuary_checkout import currencies
from estuary_checkout.fields import Cents, Currency, JsonBool, JsonInteger, NotNull, RowId, Strict

Interval = Literal["month", "year"]
MembershipStatus = Literal[
    "incomplete", "trialing", "active", "past_due", "unpaid", "paused", "canceled", "incomplete_expired"
]
Credits = Annotated[int, Field(ge=1, le=1000), JsonInteger]
RolloverCap = Annotated[
    int, Field(ge=0, le=1000, description="0: unused credits never carry over"), JsonInteger
]
TrialDays = Annotated[int, Field(ge=1, le=730), JsonInteger]
PlanName = Annotated[str, Field(min_length=1, max_length=200)]
# a Price Stripe can make: one of the registry's codes (the schema lists them)
PlanCurrency = Annotated[Currency, Field(json_schema_extra={"enum": list(currencies.CODES)})]
PlanPrices = Annotated[list["PlanPrice"], Field(min_length=1, max_length=50)]
ServiceIds = Annotated[
    list[RowId], Field(min_length=1, max_length=100, json_schema_extra={"uniqueItems": True})
]


class PlanPrice(Strict):
    currency: PlanCurrency
    amount_cents: Cents


class PlanCreate(Strict):
    name: PlanName
    interval: Interval
    prices: PlanPrices
    credits_per_period: Credits
    eligible_service_ids: ServiceIds
    rollover_cap: RolloverCap = 0
    trial_days: TrialDays | None = None
    is_active: JsonBool = True


class PlanUpdate(Strict):
    """Every field optional; `prices` replaces the price list (a changed amount is a new Stripe
    Price: current members keep paying what they subscribed at). `interval` is fixed."""

    name: Annotated[PlanName | None, NotNull] = None
    prices: Annotated[PlanPrices | None, NotNull] = None
    credits_per_period: Annotated[Credits | None, NotNull] = None
    eligible_service_ids: Annotated[ServiceIds | None, NotNull] = None
    rollover_cap: Annotated[RolloverCap | None, NotNull] = None
    trial_days: TrialDays | None = None
    is_active: Annotated[JsonBool | None, NotNull] = None


class PlanPriceAdmin(PlanPrice):
    stripe_price_id: str | None


class PlanPublic(BaseModel):
    id: int
    name: str
    interval: Interval
    prices: list[PlanPrice]
    credits_per_period: int
    eligible_service_ids: list[int]
    rollover_cap: int
    trial_days: int | None


class PlanAdmin(PlanPublic):
    prices: list[PlanPriceAdmin]  # type: ignore[assignment]
    is_active: bool
    stripe_product_id: str | None
    created_at: datetime
    updated_at: datetime


class MembershipCreate(Strict):
    plan_id: RowId
    currency: Annotated[Currency | None, NotNull] = Field(
        None, description="default: the plan's only price, else the service's default currency"
    )
    payment_method_id: Annotated[str | None, NotNull, Field(min_length=1, max_length=255)] = Field(
        None, description="a saved card to pay the first invoice now; without it, confirm `client_secret`"
    )


class MembershipCreated(BaseModel):
    membership_id: int
    status: MembershipStatus
    client_secret: str | None = Field(description="the first invoice's confirmation secret, while unpaid")
    current_period_end: datetime | None


class MembershipCredits(BaseModel):
    available: int = Field(description="sessions usable now (0 while past_due: frozen until paid)")
    frozen: int
    expires_at: datetime | None = Field(description="when the current period's credits end")


class MembershipView(BaseModel):
    membership_id: int
    plan_id: int
    plan_name: str
    status: MembershipStatus
    currency: str
    amount_cents: int
    interval: Interval
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    credits: MembershipCredits
    created_at: datetime


class CancelRequest(Strict):
    at_period_end: JsonBool = Field(
        True,
        description="true: run to the end of the paid period; false: end now (credits still last to the period end)",
    )
