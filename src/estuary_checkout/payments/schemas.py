from __future__ import annotations

from pydantic import BaseModel, Field


class PaymentMethodPublic(BaseModel):
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool


class PaymentMethodList(BaseModel):
    payment_methods: list[PaymentMethodPublic]


class PublicConfig(BaseModel):
    publishable_key: str
    currencies: list[str]
    default_currency: str
    tax_rate: str
    hold_minutes: int
    stripe_api_base: str | None = None
    stripe_js_url: str = Field(
        description="Where the browser loads Stripe.js: https://js.stripe.com/v3/ in production, "
        "the emulator's compatible subset ({stripe_api_base}/v3/) in dev",
    )
