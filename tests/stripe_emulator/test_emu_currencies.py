"""The emulator refuses what Stripe refuses, per currency (SPEC 14), through the official SDK:
unknown currencies, amounts under the currency's minimum or over 8 digits, three-decimal amounts
not ending in 0 and ISK/UGX amounts that are not whole units — on PaymentIntent create and update,
on capture and on refunds. The rules are the currency registry's."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from estuary_checkout import currencies


def refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call()
    err = info.value
    assert err.http_status == 400 and err.error is not None
    assert err.error.type == "invalid_request_error"
    return err


def create(client: stripe.StripeClient, amount: int, currency: str, **extra: Any) -> Any:
    return client.v1.payment_intents.create(params={"amount": amount, "currency": currency, **extra})


def paid(client: stripe.StripeClient, amount: int, currency: str, **extra: Any) -> Any:
    return create(client, amount, currency, payment_method="pm_card_visa", confirm=True, **extra)


def test_unknown_currency(client: stripe.StripeClient) -> None:
    err = refused(lambda: create(client, 1000, "xyz"))
    assert err.param == "currency" and err.code is None
    assert err.user_message.startswith(
        "Invalid currency: xyz. Stripe currently supports these currencies: usd, aed,"
    )
    assert "kwd" in err.user_message and "hrk" not in err.user_message
    pi = create(client, 1000, "usd")
    err = refused(lambda: client.v1.payment_intents.update(pi.id, params={"currency": "abc"}))
    assert err.param == "currency"
    assert client.v1.payment_intents.retrieve(pi.id).currency == "usd"


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (49, "usd", "Amount must be at least $0.50 usd"),
        (190, "kwd", "Amount must be at least 0.200 kwd"),
        (17499, "huf", "Amount must be at least 175.00 huf"),
        (9900, "isk", "Amount must be at least 100.00 isk"),
    ],
)
def test_below_the_minimum(client: stripe.StripeClient, amount: int, currency: str, message: str) -> None:
    err = refused(lambda: create(client, amount, currency))
    assert (err.code, err.param, err.user_message) == ("amount_too_small", "amount", message)
    assert err.json_body["error"]["doc_url"] == "https://stripe.com/docs/error-codes/amount-too-small"


def test_above_eight_digits(client: stripe.StripeClient) -> None:
    assert create(client, 99_999_999, "usd").amount == 99_999_999
    err = refused(lambda: create(client, 100_000_000, "usd"))
    assert (err.code, err.param) == ("amount_too_large", "amount")
    assert err.user_message == "Amount must be no more than $999999.99 usd"
    err = refused(lambda: create(client, 100_000_000, "jpy"))
    assert err.code == "amount_too_large"


@pytest.mark.parametrize(
    ("amount", "currency", "step"),
    [(38065, "kwd", 10), (5124, "bhd", 10), (12345, "tnd", 10), (50050, "isk", 100), (500001, "ugx", 100)],
)
def test_amounts_the_currency_cannot_be_charged_in(
    client: stripe.StripeClient, amount: int, currency: str, step: int
) -> None:
    err = refused(lambda: create(client, amount, currency))
    assert (err.code, err.param) == ("invalid_charge_amount", "amount")
    assert err.user_message.startswith(f"Invalid amount. Currency {currency.upper()} ")
    assert f"evenly divisible by {step}." in err.user_message
    ok = create(client, amount - amount % step, currency)
    assert ok.amount == amount - amount % step and ok.currency == currency


def test_every_currency_of_the_registry(client: stripe.StripeClient) -> None:
    """At the minimum accepted; one step below refused; off the step refused."""
    for code in currencies.CODES:
        cur = currencies.get(code)
        assert create(client, cur.minimum, code).amount == cur.minimum, code
        if cur.minimum > cur.step:
            assert (
                refused(lambda c=cur: create(client, c.minimum - c.step, c.code)).code == "amount_too_small"
            )
        if cur.step > 1:
            assert (
                refused(lambda c=cur: create(client, c.minimum + 1, c.code)).code == "invalid_charge_amount"
            )


def test_update_checks_the_amount_in_the_currency(client: stripe.StripeClient) -> None:
    pi = create(client, 38060, "kwd")
    assert refused(lambda: client.v1.payment_intents.update(pi.id, params={"amount": 38065})).code == (
        "invalid_charge_amount"
    )
    # changing the currency re-checks the amount: 38060 is fine in JPY, but 150 is not KWD's minimum
    assert client.v1.payment_intents.update(pi.id, params={"currency": "jpy"}).amount == 38060
    small = create(client, 150, "jpy")
    assert refused(lambda: client.v1.payment_intents.update(small.id, params={"currency": "kwd"})).code == (
        "amount_too_small"
    )
    assert client.v1.payment_intents.retrieve(small.id).currency == "jpy"


def test_a_kwd_payment_refund_and_capture(client: stripe.StripeClient) -> None:
    pi = paid(client, 38060, "kwd")
    assert pi.status == "succeeded" and pi.amount_received == 38060 and pi.currency == "kwd"
    err = refused(lambda: client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1005}))
    assert (err.code, err.param) == ("invalid_charge_amount", "amount")
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    assert refund.amount == 1000 and refund.currency == "kwd"
    assert client.v1.refunds.create(params={"payment_intent": pi.id}).amount == 37060  # the rest
    held = paid(client, 38060, "kwd", capture_method="manual")
    assert held.status == "requires_capture"
    err = refused(lambda: client.v1.payment_intents.capture(held.id, params={"amount_to_capture": 20005}))
    assert (err.code, err.param) == ("invalid_charge_amount", "amount_to_capture")
    captured = client.v1.payment_intents.capture(held.id, params={"amount_to_capture": 20000})
    assert captured.status == "succeeded" and captured.amount_received == 20000


def test_zero_decimal_and_whole_unit_payments(client: stripe.StripeClient) -> None:
    assert paid(client, 16313, "jpy").amount_received == 16313  # ¥16,313
    assert paid(client, 500000, "ugx").amount_received == 500000  # UGX 5,000 in hundredths
    assert paid(client, 17550, "huf").amount_received == 17550  # HUF charges keep their fillér
