from __future__ import annotations

from fastapi import APIRouter

from estuary_checkout.credits import service as credits_service
from estuary_checkout.credits.schemas import CreditBalancePublic
from estuary_checkout.deps import CurrentUser, DbSession
from estuary_checkout.errors import error_responses
from estuary_checkout.paths import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["credits"])


@router.get("/credits/balance", response_model=CreditBalancePublic, responses=error_responses())
async def credit_balance(user: CurrentUser, session: DbSession) -> CreditBalancePublic:
    """The caller's store credit: spendable balance and the part held by unpaid orders."""
    b = await credits_service.get_balance(session, user.id)
    return CreditBalancePublic(
        balance_cents=b.balance_cents,
        currency=b.currency,
        held_cents=b.held_cents,
        last_updated=b.last_updated,
    )
