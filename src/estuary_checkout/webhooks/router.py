from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from estuary_checkout.deps import State
from estuary_checkout.errors import error_responses
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentProviderUnavailable
from estuary_checkout.webhooks import service as webhooks_service
from estuary_checkout.webhooks.errors import InvalidSignature

router = APIRouter(prefix=API_PREFIX, tags=["webhooks"])


@router.post(
    "/webhooks/stripe",
    responses=error_responses(InvalidSignature, PaymentProviderUnavailable),
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
    },
)
async def stripe_webhook(
    request: Request,
    state: State,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, Any]:
    """Receive a signed Stripe event (no bearer token: the signature is the authentication)."""
    return await webhooks_service.receive(
        state.session_factory, state.gateway, state.settings, await request.body(), stripe_signature
    )
