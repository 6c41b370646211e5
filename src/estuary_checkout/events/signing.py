"""Standard Webhooks signing (https://www.standardwebhooks.com), done by the `standardwebhooks`
package: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>`, one
signature per active secret (space-separated) while a rotated secret is still honoured."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the format Standard Webhooks libraries read)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def signed_headers(*, event_id: str, body: str, secrets_: Iterable[str], at: datetime) -> dict[str, str]:
    signatures = [Webhook(secret).sign(msg_id=event_id, timestamp=at, data=body) for secret in secrets_]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "estuary-checkout-webhooks/1",
    }
