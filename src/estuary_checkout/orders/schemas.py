"""Request and response bodies of the checkout API (public field names: front ends rely on them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from estuary_checkout.fields import Currency, DateTimeText, JsonBool, JsonInteger, OnlyMatchingKeys

CheckoutType = Literal["single_session", "bundle", "package"]
Id = Annotated[int, Field(ge=1, le=2_147_483_647), JsonInteger]
MetaKey = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")]
MetaValue = Annotated[str, StringConstraints(max_length=500)]
StripeId = Annotated[str, StringConstraints(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChildSelection(Strict):
    selected: JsonBool = True
    quantity: Annotated[int, Field(ge=1, le=10), JsonInteger] = 1


class CheckoutItem(Strict):
    service_id: Id
    practitioner_id: Id
    quantity: Annotated[int, Field(ge=1, le=100), JsonInteger] = 1
    start_time: DateTimeText | None = None
    end_time: DateTimeText | None = None
    child_selections: (
        Annotated[
            dict[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")], ChildSelection],
            OnlyMatchingKeys,
        ]
        | None
    ) = Field(default=None, max_length=20)
    use_pass: JsonBool = Field(
        default=True, description="redeem a pass the caller holds for this session, if any"
    )


class CheckoutRequest(Strict):
    checkout_type: CheckoutType
    items: list[CheckoutItem] = Field(min_length=1, max_length=10)
    save_payment_method: JsonBool = False
    use_credits: JsonBool = False
    credits_to_apply: Annotated[int, Field(ge=0, le=100_000_000), JsonInteger] | None = None
    coupon_code: (
        Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] | None
    ) = None
    payment_method_id: StripeId | None = None
    currency: Currency | None = Field(
        default=None,
        description="the order's currency (default CHECKOUT_CURRENCY); every item must be sold in it",
    )
    metadata: Annotated[dict[MetaKey, MetaValue], OnlyMatchingKeys] | None = Field(
        default=None, max_length=20
    )


class ChildLine(BaseModel):
    service_id: int
    name: str
    quantity: int
    unit_price_cents: int
    discount_percentage: int
    discounted_unit_price_cents: int
    is_required: bool


class LineBreakdown(BaseModel):
    line: int
    service_id: int
    service_type: str
    name: str
    practitioner_id: int
    quantity: int
    unit_price_cents: int
    line_total_cents: int
    covered_by_pass: bool = False
    pass_id: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    children: list[ChildLine] | None = None


class PriceQuote(BaseModel):
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    credits_available_cents: int
    credits_applied_cents: int
    total_cents: int
    currency: str
    items: list[LineBreakdown]


class CheckoutCreated(BaseModel):
    checkout_session_id: str | None = None
    payment_intent_id: str | None
    client_secret: str | None
    order_id: uuid.UUID
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    credits_applied_cents: int
    total_cents: int
    currency: str
    requires_payment: bool
    status: str
    expires_at: datetime | None


class StatusRequest(Strict):
    # the schema says what the validator below checks: at least one of the keys, not null
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [key], "properties": {key: {"type": "string"}}}
                for key in ("order_id", "payment_intent_id", "checkout_session_id")
            ]
        },
    )

    order_id: uuid.UUID | None = None
    payment_intent_id: StripeId | None = None
    checkout_session_id: StripeId | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> StatusRequest:
        # without a key the lookup would match any of the caller's orders
        if self.order_id is None and self.payment_intent_id is None and self.checkout_session_id is None:
            raise ValueError("give order_id, payment_intent_id or checkout_session_id")
        return self


class OrderStatus(BaseModel):
    order_id: uuid.UUID
    status: str
    payment_status: str
    booking_ids: list[int]
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None
    total_cents: int
    currency: str


class OrderPayment(BaseModel):
    """What a payment page needs to take the payment of an order that is still open."""

    order_id: uuid.UUID
    status: str
    total_cents: int
    currency: str
    expires_at: datetime | None
    requires_payment: bool = Field(description="the order is open and waits for its card payment")
    payment_intent_id: str | None
    client_secret: str | None = Field(description="for Stripe.js; only while the order can be paid")


class ConfirmRequest(Strict):
    payment_intent_id: StripeId
    payment_method_id: StripeId | None = None


class ConfirmResult(BaseModel):
    status: str
    order_id: uuid.UUID
    booking_ids: list[int]
    requires_action: bool
    next_action: dict[str, Any] | None = None
