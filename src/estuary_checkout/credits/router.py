from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from estuary_checkout.credits import service as credits_service
from estuary_checkout.credits.errors import InsufficientCredit
from estuary_checkout.credits.schemas import (
    CreditAdjustment,
    CreditAdjustmentCreate,
    CreditBalancePublic,
    CurrencyBalancePublic,
    CurrencyCode,
)
from estuary_checkout.deps import AdminActor, AdminUser, CurrentUser, DbSession, RequiredIdempotencyKey, State
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.idempotency import service as idempotency
from estuary_checkout.idempotency.errors import IdempotencyInProgress, IdempotencyKeyReused
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.users.errors import UserNotFound

router = APIRouter(prefix=API_PREFIX, tags=["credits"])


CurrencyQuery = Annotated[
    CurrencyCode | None,
    Query(
        description="the currency of the top-level figures (3 lower-case letters); default: CHECKOUT_CURRENCY"
    ),
]


@router.get("/credits/balance", response_model=CreditBalancePublic, responses=error_responses())
async def credit_balance(
    user: CurrentUser, session: DbSession, state: State, currency: CurrencyQuery = None
) -> CreditBalancePublic:
    """The caller's store credit per currency: spendable balance and the part held by unpaid orders."""
    b = await credits_service.get_balance(session, user.id, currency or state.settings.currency)
    return CreditBalancePublic(
        balance_cents=b.balance_cents,
        currency=b.currency,
        held_cents=b.held_cents,
        last_updated=b.last_updated,
        balances=[
            CurrencyBalancePublic(currency=c.currency, balance_cents=c.balance_cents, held_cents=c.held_cents)
            for c in b.balances
        ],
    )


@router.post(
    "/admin/credits/adjustments",
    tags=["admin"],
    status_code=201,
    response_model=CreditAdjustment,
    responses=error_responses(
        Forbidden,
        UserNotFound,
        InsufficientCredit,
        IdempotencyKeyReused,
        IdempotencyInProgress,
    ),
)
async def adjust_credit(
    body: CreditAdjustmentCreate,
    admin: AdminUser,
    actor: AdminActor,
    session: DbSession,
    state: State,
    idempotency_key: RequiredIdempotencyKey,
) -> Response:
    """Operators: add to or take from a client's store credit (one ledger row; never below zero)."""
    stored = await idempotency.run(
        state.session_factory,
        session,
        user_id=admin.id,
        route="admin/credits/adjustments",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        status_code=201,
        work=lambda: credits_service.adjust_for_operator(
            session,
            admin,
            body,
            idempotency_key=idempotency_key,
            default_currency=state.settings.currency,
            actor=actor,
        ),
    )
    return Response(stored.body, status_code=stored.status, media_type="application/json")
