from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from estuary_checkout.fields import JsonInteger

MAX_ADJUSTMENT_CENTS = 10_000_000


# a currency as the API takes it in a query: ISO 4217 letters, lower case
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]


class CurrencyBalancePublic(BaseModel):
    currency: str
    balance_cents: int
    held_cents: int


class CreditBalancePublic(BaseModel):
    """One currency's credit at the top level (the asked one, else the default currency), and every
    currency the user has credit in; credit in one currency never pays in another."""

    balance_cents: int = Field(description="spendable now, in `currency`")
    currency: str
    held_cents: int = Field(description="reserved by unpaid orders in `currency`")
    last_updated: datetime | None
    balances: list[CurrencyBalancePublic] = Field(
        description="each currency the user has store credit rows in, by currency code"
    )


class CreditAdjustmentCreate(BaseModel):
    """An operator's correction of a client's store credit (SPEC 11.4)."""

    # the schema says what the validators below check: exactly one of user_id and user_email
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["user_id"], "properties": {"user_id": {"type": "integer"}}},
                {"required": ["user_email"], "properties": {"user_email": {"type": "string"}}},
            ]
        },
    )

    user_id: Annotated[int, Field(ge=1, le=9_223_372_036_854_775_807), JsonInteger] | None = None
    # \s differs between the server's regex engine (Unicode White_Space, with U+0085) and the
    # schema's (ECMA-262, with U+FEFF): naming both makes one set for clients and server alike
    user_email: (
        Annotated[
            str,
            StringConstraints(min_length=3, max_length=320, pattern=r"^[^@\s\x85\uFEFF]+@[^@\s\x85\uFEFF]+$"),
        ]
        | None
    ) = Field(default=None, validate_default=True, description="instead of user_id (any case)")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_lower=True)] | None = Field(
        default=None,
        description="default: the configured currency (CHECKOUT_CURRENCY); credit is kept per currency",
    )
    amount_cents: Annotated[int, Field(ge=-MAX_ADJUSTMENT_CENTS, le=MAX_ADJUSTMENT_CENTS), JsonInteger] = (
        Field(
            description="added to the balance (> 0) or taken from it (< 0); never 0",
            json_schema_extra={"not": {"const": 0}},
        )
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

    @field_validator("user_email")
    @classmethod
    def _exactly_one_user(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("user_id") is None) == (value is None):
            raise ValueError("give exactly one of user_id and user_email")
        return value

    @field_validator("amount_cents")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment moves money: amount_cents must not be 0")
        return value


class CreditAdjustment(BaseModel):
    """The ledger row the adjustment wrote, and the balance after it."""

    id: int
    user_id: int
    kind: Literal["adjustment"]
    amount_cents: int = Field(description="the size of the movement (never negative, like every ledger row)")
    balance_delta_cents: int = Field(description="its effect on the balance: + added, - taken")
    currency: str
    reason: str | None
    created_at: datetime
    balance_cents: int = Field(description="the client's spendable balance after the adjustment")
