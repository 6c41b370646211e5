"""The host's pages and endpoints that touch the checkout."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from host import checkout_tokens
from marketplace.models import ReceivedEvent

log = logging.getLogger(__name__)
MAX_WEBHOOK_ID = 255


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/home.html", {"checkout_prefix": settings.CHECKOUT_PREFIX})


@never_cache
@require_GET
def checkout_token(request: HttpRequest) -> JsonResponse:
    """A short-lived checkout JWT for the signed-in user, for the front end's bearer calls."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Sign in first", "code": "NOT_SIGNED_IN"}, status=401)
    token, exp = checkout_tokens.for_user(request.user)
    return JsonResponse(
        {
            "token": token,
            "token_type": "Bearer",
            "expires_at": datetime.fromtimestamp(exp, UTC).isoformat(),
        }
    )


def _bad_event(message: str) -> JsonResponse:
    return JsonResponse({"error": message, "code": "INVALID_EVENT"}, status=400)


@csrf_exempt  # a server-to-server call, authenticated by its Standard Webhooks signature
@require_POST
def receive_event(request: HttpRequest) -> JsonResponse:
    """An outbound event of the checkout: verified, then stored once per webhook-id."""
    secret = settings.CHECKOUT_EVENTS_SECRET
    if not secret:
        log.error("HOST_CHECKOUT_EVENTS_SECRET is not set: refusing checkout events")
        return JsonResponse({"error": "Event endpoint not configured", "code": "NOT_CONFIGURED"}, status=503)
    try:
        # checks the signature over id, timestamp and the raw body, and the timestamp's age (5 min)
        event = Webhook(secret).verify(request.body, dict(request.headers))
    except (WebhookVerificationError, ValueError) as exc:
        # ValueError: a malformed signature header, non-UTF-8 or non-JSON body
        log.warning("checkout event refused: %s", exc)
        return _bad_event("Signature verification failed")
    webhook_id = request.headers["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID:
        return _bad_event("webhook-id too long")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return _bad_event("Not an event: expected an object with a type")
    try:
        created_at = parse_datetime(event["created_at"]) if isinstance(event.get("created_at"), str) else None
    except ValueError:
        created_at = None
    # at-least-once delivery: a repeat of a webhook-id is acknowledged and changes nothing
    _, created = ReceivedEvent.objects.get_or_create(
        webhook_id=webhook_id,
        defaults={"type": event["type"][:100], "payload": event, "created_at": created_at},
    )
    return JsonResponse({"received": True, "duplicate": not created})
