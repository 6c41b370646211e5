"""Builds the platform's one ASGI application (host/dispatch.py); host/asgi.py serves it."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from host.dispatch import ASGIApp, HostDispatcher


def build_application(*, checkout_app: ASGIApp | None = None) -> HostDispatcher:
    """Django plus the checkout. Tests pass a checkout app built with their own settings; by
    default the service reads its CHECKOUT_* environment as `estuary-checkout serve` does."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host.settings")
    django_app = get_asgi_application()  # sets Django up before anything imports a model
    from django.conf import settings

    if checkout_app is None:
        from estuary_checkout.app import create_app

        checkout_app = create_app()
    return HostDispatcher(
        django_app=django_app,
        checkout_app=checkout_app,
        prefix=settings.CHECKOUT_PREFIX,
        session_cookie=settings.SESSION_COOKIE_NAME if settings.CHECKOUT_ACCEPT_SESSION_COOKIE else None,
    )
