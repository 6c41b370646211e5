"""Selling in the client's currency (SPEC 14): the request's `currency`, the service's price in it,
the worked numbers of the demo session, per-currency tax rates, fixed coupons per currency, and
the PaymentIntent made in that currency for exactly that amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import stripe
from tests.aftersale.conftest import policy_client  # noqa: F401
from tests.checkout.helpers import (
    API,
    assert_error,
    bundle_body,
    create_ok,
    future_slot,
    session_body,
)

FIGURES = ("subtotal_cents", "discount_cents", "tax_cents", "total_cents", "currency")


def in_currency(currency: str | None, **extra: Any) -> dict[str, Any]:
    # far out, so orders made here hold no demo slot that the catalog tests count
    start, end = future_slot(days_ahead=500)
    body = session_body(start, end, service_id=123, practitioner_id=456, **extra)
    if currency is not None:
        body["currency"] = currency
    return body


@pytest.mark.parametrize(
    ("currency", "figures"),
    [
        (None, (10000, 0, 875, 10875, "usd")),
        ("usd", (10000, 0, 875, 10875, "usd")),
        ("eur", (9000, 0, 788, 9788, "eur")),
        ("gbp", (8000, 0, 700, 8700, "gbp")),
        ("jpy", (15000, 0, 1313, 16313, "jpy")),  # zero-decimal: whole yen
        ("kwd", (35000, 0, 3060, 38060, "kwd")),  # three decimals: the tax ends in 0 (3.060 KWD)
    ],
)
async def test_the_demo_session_in_each_currency(client, auth, currency, figures):
    r = await client.post(f"{API}/checkout/calculate-price", json=in_currency(currency), headers=auth())
    assert r.status_code == 200, r.text
    assert tuple(r.json()[k] for k in FIGURES) == figures


async def test_an_order_is_made_and_charged_in_its_currency(client, auth, stripe_api_base, settings):
    headers = auth()
    created = await create_ok(client, headers, in_currency("jpy"))
    assert (created["currency"], created["total_cents"]) == ("jpy", 16313)
    intent = stripe.StripeClient(settings.stripe_secret_key, base_addresses={"api": stripe_api_base})
    pi = intent.v1.payment_intents.retrieve(created["payment_intent_id"])
    assert (pi.currency, pi.amount) == ("jpy", 16313)
    status = await client.post(
        f"{API}/checkout/status", json={"order_id": created["order_id"]}, headers=headers
    )
    assert status.json()["currency"] == "jpy"


async def test_a_service_not_sold_in_the_currency_is_refused(client, auth):
    body = assert_error(
        await client.post(
            f"{API}/checkout/calculate-price", json=bundle_body(currency="eur"), headers=auth()
        ),
        422,
        "CURRENCY_NOT_OFFERED",
    )
    assert body["details"]["field"] == "items[0].service_id"
    body = assert_error(
        await client.post(f"{API}/checkout/create", json=in_currency("chf"), headers=auth()),
        422,
        "CURRENCY_NOT_OFFERED",
    )
    assert body["details"]["field"] == "currency"
    for bad in ("EUR", "euro", "e1r"):
        r = await client.post(f"{API}/checkout/calculate-price", json=in_currency(bad), headers=auth())
        assert r.status_code == 422 and r.json()["details"]["field"] == "currency"


async def test_a_fixed_coupon_only_in_its_currencies(client, auth):
    # SAVE20 is 20.00 off in USD only; a percent coupon works in any currency
    assert_error(
        await client.post(
            f"{API}/checkout/calculate-price", json=in_currency("eur", coupon_code="SAVE20"), headers=auth()
        ),
        422,
        "COUPON_NOT_APPLICABLE",
    )
    r = await client.post(
        f"{API}/checkout/calculate-price", json=in_currency("jpy", coupon_code="WELCOME10"), headers=auth()
    )
    assert r.status_code == 200, r.text
    assert tuple(r.json()[k] for k in FIGURES) == (15000, 1500, 1181, 14681, "jpy")  # 13500 × 8.75 %


async def test_a_tax_rate_per_currency(policy_client, auth):  # noqa: F811
    api = await policy_client(tax_rates={"eur": Decimal("0.2")})
    eur = (await api.post(f"{API}/checkout/calculate-price", json=in_currency("eur"), headers=auth())).json()
    usd = (await api.post(f"{API}/checkout/calculate-price", json=in_currency("usd"), headers=auth())).json()
    assert (eur["tax_cents"], eur["total_cents"]) == (1800, 10800)
    assert (usd["tax_cents"], usd["total_cents"]) == (875, 10875)  # the default rate elsewhere
