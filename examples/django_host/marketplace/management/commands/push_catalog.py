"""python manage.py push_catalog [--base-url URL]: the host's catalog into the checkout's."""

from __future__ import annotations

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from host import checkout_tokens
from marketplace.catalog_push import CheckoutAdmin, PushError, push_catalog


class Command(BaseCommand):
    help = "Create or update this platform's practitioners and services in the checkout catalog (by external_id)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--base-url", default=settings.CHECKOUT_BASE_URL, help="the checkout service")

    def handle(self, *args, base_url: str, **options) -> None:  # type: ignore[no-untyped-def]
        token, _ = checkout_tokens.for_catalog_sync()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
                report = push_catalog(CheckoutAdmin(http))
        except (PushError, httpx.HTTPError) as exc:
            raise CommandError(f"push failed: {exc}") from exc
        for kind, external_id, outcome, checkout_id in report.rows:
            self.stdout.write(f"{kind:<13} {external_id:<32} {outcome:<10} checkout id {checkout_id}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.count('created')} created, {report.count('updated')} updated, "
                f"{report.count('unchanged')} unchanged"
            )
        )
