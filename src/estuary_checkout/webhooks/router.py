from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

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
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True},
        # Declared here rather than as a Header() parameter: a missing header is a failed signature
        # check (400 INVALID_SIGNATURE) like any other, not a 422 from request validation.
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
                "description": "Stripe's signature of the raw body (t=<timestamp>,v1=<HMAC-SHA256>): "
                "missing, malformed, stale or not made with CHECKOUT_STRIPE_WEBHOOK_SECRET is "
                "400 INVALID_SIGNATURE",
            }
        ],
    },
)
async def stripe_webhook(request: Request, state: State) -> dict[str, Any]:
    """Receive a signed Stripe event (no bearer token: the signature is the authentication)."""
    return await webhooks_service.receive(
        state.session_factory,
        state.gateway,
        state.settings,
        await request.body(),
        request.headers.get("Stripe-Signature"),
    )
