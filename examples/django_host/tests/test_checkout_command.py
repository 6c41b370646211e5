"""manage.py test_stripe_checkout: a whole purchase of the host's own (pushed) services against
the served stack — price, create, pay at the Stripe emulator, confirm, status."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import HostCatalog, Stack

EXAMPLE_DIR = Path(__file__).resolve().parent.parent


def _email() -> str:
    return f"buyer-{uuid.uuid4().hex[:8]}@example.com"


def test_session_purchase_from_the_command_line(stack: Stack, pushed_catalog: HostCatalog) -> None:
    email = _email()
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "test_stripe_checkout",
            "--user-email",
            email,
            "--checkout-type",
            "session",
            "--service",
            pushed_catalog.session.external_id,
            "--base-url",
            stack.url,
        ],
        cwd=EXAMPLE_DIR,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines() if line.strip())
    assert lines["status"] == "completed (payment paid)"
    assert lines["paid"] == "at Stripe with pm_card_visa: succeeded"
    assert lines["price"] == "subtotal 90.00 USD, discount 0.00 USD, tax 7.88 USD, total 97.88 USD"
    assert lines["bookings"].strip().isdigit()  # one booking, confirmed with the order
    assert lines["user"].startswith(email)


@pytest.mark.parametrize(
    ("kind", "subtotal"),
    [
        ("bundle", 40000),
        # computed: the required child at 10 % off, twice (the optional one is out by default)
        ("package", 2 * 8100),
    ],
)
def test_bundle_and_package_purchases(
    stack: Stack, pushed_catalog: HostCatalog, kind: str, subtotal: int
) -> None:
    out = io.StringIO()
    service = pushed_catalog.bundle if kind == "bundle" else pushed_catalog.package
    call_command(
        "test_stripe_checkout",
        user_email=_email(),
        checkout_type=kind,
        service=service.external_id,
        base_url=stack.url,
        json=True,
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert result["quote"]["subtotal_cents"] == subtotal
    assert result["created"]["total_cents"] == result["quote"]["total_cents"]
    assert result["paid"]["status"] == "succeeded"
    assert result["confirmed"]["status"] == "completed"
    status = result["status"]
    assert (status["status"], status["payment_status"], status["booking_ids"]) == ("completed", "paid", [])


def test_a_declined_card_stops_with_the_decline(stack: Stack, pushed_catalog: HostCatalog) -> None:
    with pytest.raises(CommandError, match="card declined"):
        call_command(
            "test_stripe_checkout",
            user_email=_email(),
            checkout_type="bundle",
            service=pushed_catalog.bundle.external_id,
            base_url=stack.url,
            card="pm_card_chargeDeclined",
            stdout=io.StringIO(),
        )


def test_an_unpushed_catalog_is_named(stack: Stack) -> None:
    with pytest.raises(CommandError, match="run push_catalog first"):
        call_command(
            "test_stripe_checkout",
            user_email=_email(),
            checkout_type="bundle",
            service="no-such-service",
            base_url=stack.url,
            stdout=io.StringIO(),
        )
