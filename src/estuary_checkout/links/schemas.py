"""Payment links (SPEC 13.1): the admin's view, the public offer, a checkout from a link."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from estuary_checkout.fields import (
    Currency,
    DateTimeText,
    JsonBool,
    JsonInteger,
    NotNull,
    OnlyMatchingKeys,
    RowId,
)
from estuary_checkout.orders.schemas import ChildSelection, MetaKey, MetaValue, StripeId

Message = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
CouponCode = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Email = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=320, pattern=r"^[^@\s\x85\uFEFF]+@[^@\s\x85\uFEFF]+$", strip_whitespace=True
    ),
]
ChildSelections = Annotated[
    dict[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")], ChildSelection], OnlyMatchingKeys
]
Metadata = Annotated[dict[MetaKey, MetaValue], OnlyMatchingKeys]
MaxCompleted = Annotated[int, Field(ge=1, le=1_000_000), JsonInteger]
MaxPerCustomer = Annotated[int, Field(ge=1, le=1000), JsonInteger]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


RedirectUrl = Annotated[
    str,
    StringConstraints(
        min_length=8, max_length=2048, pattern=r"^https?://[^\s\x85\uFEFF/?#@]+([/?][^\s\x85\uFEFF#]*)?$"
    ),
]


class ShowConfirmation(Strict):
    type: Literal["confirmation"]
    message: Message | None = Field(default=None, description="shown on the confirmation page")


class RedirectTo(Strict):
    type: Literal["redirect"]
    url: RedirectUrl = Field(description="https (http on localhost outside production)")
    message: Message | None = None


# what follows a payment: a confirmation (with a message) or a redirect (with its url)
AfterCompletion = Annotated[ShowConfirmation | RedirectTo, Field(discriminator="type")]
AFTER_COMPLETION = TypeAdapter(AfterCompletion)


class LinkTerms(Strict):
    """What PATCH may change (the service and practitioner of a link are fixed)."""

    coupon_code: CouponCode | None = Field(default=None, description="applied to every checkout")
    allow_coupon_codes: JsonBool = Field(default=True, description="buyers may enter a code")
    expires_at: DateTimeText | None = None
    max_completed: MaxCompleted | None = Field(default=None, description="paid orders at most")
    max_per_customer: MaxPerCustomer | None = None
    restricted_to_email: Email | None = Field(default=None, description="only this signed-in customer")
    after_completion: AfterCompletion = Field(default_factory=lambda: ShowConfirmation(type="confirmation"))
    inactive_message: Message | None = None
    metadata: Metadata | None = Field(default=None, max_length=20)


class LinkCreate(LinkTerms):
    service_id: RowId
    practitioner_id: RowId
    quantity: Annotated[int, Field(ge=1, le=100), JsonInteger] = 1
    child_selections: ChildSelections | None = Field(default=None, max_length=20)
    currency: Currency | None = Field(default=None, description="default: the service's")


class LinkUpdate(Strict):
    active: Annotated[JsonBool | None, NotNull] = None
    coupon_code: CouponCode | None = None
    allow_coupon_codes: Annotated[JsonBool | None, NotNull] = None
    expires_at: DateTimeText | None = None
    max_completed: MaxCompleted | None = None
    max_per_customer: MaxPerCustomer | None = None
    restricted_to_email: Email | None = None
    after_completion: Annotated[AfterCompletion | None, NotNull] = None
    inactive_message: Message | None = None
    metadata: Metadata | None = Field(default=None, max_length=20)


class LinkAdmin(BaseModel):
    id: int
    slug: str
    url: str = Field(description="the hosted page of the offer")
    active: bool
    service_id: int
    practitioner_id: int
    quantity: int
    child_selections: dict[str, Any] | None
    currency: str
    coupon_code: str | None
    allow_coupon_codes: bool
    expires_at: datetime | None
    max_completed: int | None
    max_per_customer: int | None
    restricted_to_email: str | None
    after_completion: AfterCompletion
    inactive_message: str | None
    metadata: dict[str, str]
    completed_count: int
    reserved_count: int
    created_at: datetime
    updated_at: datetime


class LinkStats(BaseModel):
    views: int = Field(description="offer reads (the page and GET /links/{slug}), a few seconds behind")
    checkouts_started: int = Field(description="orders created through the link")
    completed: int
    revenue_cents: int = Field(description="the completed orders' totals, less refunds")
    currency: str


# --- the public offer -------------------------------------------------------------------------


class OfferService(BaseModel):
    id: int
    type: str
    name: str
    description: str | None
    duration_minutes: int | None
    quantity: int


class OfferPractitioner(BaseModel):
    id: int
    name: str
    timezone: str


class OfferQuote(BaseModel):
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    currency: str


class Offer(BaseModel):
    slug: str
    service: OfferService
    practitioner: OfferPractitioner
    quote: OfferQuote
    active: bool
    expires_at: datetime | None
    remaining: int | None = Field(description="uses left when the link has a limit")
    allow_coupon_codes: bool
    after_completion: AfterCompletion


class LinkCheckout(Strict):
    start_time: DateTimeText | None = None
    end_time: DateTimeText | None = None
    child_selections: ChildSelections | None = Field(default=None, max_length=20)
    coupon_code: CouponCode | None = None
    use_credits: JsonBool = False
    save_payment_method: JsonBool = False
    payment_method_id: StripeId | None = None


class LinkUseView(BaseModel):
    order_id: uuid.UUID
    status: str
