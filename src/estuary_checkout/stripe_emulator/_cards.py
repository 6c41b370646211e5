"""Stripe's documented test card numbers and ``pm_card_*`` test tokens."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    # Decline behaviour: (error code, decline_code, message) or None for an approving card.
    decline: tuple[str, str, str] | None = None
    # 3-D Secure: None, "always" (every payment needs authentication) or "unless_setup" (needs it
    # unless the card was set up for future usage in an earlier, authenticated payment).
    three_ds: str | None = None
    # Refunds of the charge: None (succeed at once), "pending" (Stripe's asynchronous-success card:
    # they begin pending and succeed later) or "fail" (Stripe's asynchronous-failure card: they
    # begin succeeded and fail later).
    refund: str | None = None


_GENERIC = ("card_declined", "generic_decline", "Your card was declined.")

CARDS: dict[str, TestCard] = {
    c.number: c
    for c in [
        TestCard("4242424242424242", "visa"),
        TestCard("4000056655665556", "visa", funding="debit"),
        TestCard("5555555555554444", "mastercard"),
        TestCard("2223003122003222", "mastercard"),
        TestCard("5200828282828210", "mastercard", funding="debit"),
        TestCard("378282246310005", "amex"),
        TestCard("371449635398431", "amex"),
        TestCard("6011111111111117", "discover"),
        TestCard("4000000000000002", "visa", decline=_GENERIC),
        # Stripe's "attaches to a customer, but charges fail" card: attaching never charges here,
        # so it is an ordinary declining card (a subscription's renewal fails with it).
        TestCard("4000000000000341", "visa", decline=_GENERIC),
        TestCard(
            "4000000000009995",
            "visa",
            decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
        ),
        TestCard(
            "4000000000009987", "visa", decline=("card_declined", "lost_card", "Your card was declined.")
        ),
        TestCard(
            "4000000000009979", "visa", decline=("card_declined", "stolen_card", "Your card was declined.")
        ),
        TestCard(
            "4000000000000069", "visa", decline=("expired_card", "expired_card", "Your card has expired.")
        ),
        TestCard(
            "4000000000000127",
            "visa",
            decline=("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
        ),
        TestCard(
            "4000000000000119",
            "visa",
            decline=("processing_error", "processing_error", "An error occurred while processing your card."),
        ),
        TestCard("4000002500003155", "visa", three_ds="unless_setup"),
        TestCard("4000002760003184", "visa", three_ds="always"),
        TestCard("4000000000003220", "visa", three_ds="always"),
        TestCard("4000000000007726", "visa", refund="pending"),
        TestCard("4000000000005126", "visa", refund="fail"),
    ]
}

TOKENS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_mastercard_debit": "5200828282828210",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_pendingRefund": "4000000000007726",
    "pm_card_refundFail": "4000000000005126",
}


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def brand_for(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith(("6011", "65", "644", "645", "646", "647", "648", "649")):
        return "discover"
    if number.startswith("35"):
        return "jcb"
    if number.startswith(("36", "300", "301", "302", "303", "304", "305", "38")):
        return "diners"
    return "unknown"


def card_for(number: str) -> TestCard:
    """The test card for a number; any other Luhn-valid number is an approving card."""
    return CARDS.get(number) or TestCard(number, brand_for(number))


def fingerprint(number: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(b"estuary-emulator:" + number.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:16])
