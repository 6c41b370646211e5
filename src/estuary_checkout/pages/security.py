"""The headers every hosted page carries: a Content-Security-Policy that allows our own origin and
Stripe's only, and no framing, sniffing or referrer leaks."""

from __future__ import annotations

from urllib.parse import urlsplit

from estuary_checkout.config import Settings
from estuary_checkout.payments.service import stripe_js_url

__all__ = ["headers", "stripe_js_url", "stripe_origins"]

REAL_STRIPE = ("https://js.stripe.com", "https://api.stripe.com", "https://hooks.stripe.com")


def stripe_origins(settings: Settings) -> tuple[str, ...]:
    parts = urlsplit(settings.stripe_api_base)
    if stripe_js_url(settings).startswith("https://js.stripe.com"):
        return REAL_STRIPE
    return (f"{parts.scheme}://{parts.netloc}",)


def headers(settings: Settings) -> dict[str, str]:
    stripe = " ".join(stripe_origins(settings))
    policy = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {stripe}",
            f"frame-src {stripe}",
            f"connect-src 'self' {stripe}",
            "img-src 'self' data:",
            "style-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
