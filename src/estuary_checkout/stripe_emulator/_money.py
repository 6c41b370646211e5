"""Amounts as the emulator checks and shows them; the rules are the project's currency registry
(``estuary_checkout.currencies``, pure and shared with pricing), so the emulator refuses exactly
what the service is built not to send."""

from __future__ import annotations

from estuary_checkout import currencies

from ._errors import StripeError, invalid, missing_param

MAX_AMOUNT = currencies.MAX_AMOUNT
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "cad": "$", "aud": "$", "nzd": "$"}
# Stripe lists USD first, then the rest in order, in its "Invalid currency" message.
SUPPORTED = ", ".join(["usd", *(c for c in currencies.CODES if c != "usd")])


def is_zero_decimal(currency: str) -> bool:
    return currencies.decimal_digits(currency) == 0


def format_amount(amount: int, currency: str) -> str:
    """'$10.00', '¥500', '35.000' (KWD): the amount in the currency's unit, as Stripe's messages
    write it, without grouping."""
    return f"{SYMBOLS.get(currency, '')}{currencies.to_decimal(amount, currency)}"


def check_currency(currency: str | None) -> str:
    """The lowercase code, or Stripe's 400 for a missing or unknown currency."""
    if not currency:
        raise missing_param("currency")
    cur = currency.lower()
    if not currencies.is_supported(cur):
        raise invalid(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: {SUPPORTED}",
            param="currency",
        )
    return cur


def step_error(currency: str, param: str) -> StripeError:
    """An amount that is not a multiple of what the currency can be charged in."""
    step = currencies.chargeable_step(currency)
    if currency in currencies.THREE_DECIMAL:
        reason = "is a three-decimal currency and"
        anchor = "three-decimal"
    else:
        reason = "has become effectively zero-decimal and"
        anchor = "zero-decimal"
    return invalid(
        f"Invalid amount. Currency {currency.upper()} {reason} charged amounts must be evenly divisible "
        f"by {step}. See https://stripe.com/docs/currencies#{anchor} for more information.",
        param=param,
        code="invalid_charge_amount",
    )


def check_amount(amount: int | None, currency: str, param: str = "amount") -> int:
    """A charge amount as Stripe checks it: present, ≥ 1, ≥ the minimum, ≤ 8 digits, and a
    multiple of the currency's step (three-decimal amounts end in 0; ISK and UGX whole units)."""
    if amount is None:
        raise missing_param(param)
    if amount < 1:
        raise invalid(
            "This value must be greater than or equal to 1.",
            param=param,
            code="parameter_invalid_integer",
        )
    problem = currencies.check_amount(amount, currency)
    if problem == "amount_too_small":
        unit = "" if is_zero_decimal(currency) else " "
        minimum = currencies.minimum_charge(currency)
        raise invalid(
            f"Amount must be at least {format_amount(minimum, currency)}{unit}{currency}",
            param=param,
            code="amount_too_small",
        )
    if problem == "amount_too_large":
        raise invalid(
            f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)} {currency}",
            param=param,
            code="amount_too_large",
        )
    if problem == "invalid_charge_amount":
        raise step_error(currency, param)
    return amount


def check_step(amount: int, currency: str, param: str = "amount") -> None:
    """Refunds and captures have no minimum at Stripe, but the step rule applies to them too."""
    if not currencies.is_chargeable_step(amount, currency):
        raise step_error(currency, param)


def check_unit_amount(amount: int | None, currency: str, param: str = "unit_amount") -> int:
    """A Price's unit amount: present, ≥ 0 (a free price is allowed), ≤ 8 digits, and a multiple of
    the currency's step when not 0 (the invoices it makes are charged). No minimum: Stripe lets a
    price be below the minimum charge."""
    if amount is None:
        raise missing_param(param)
    if amount < 0:
        raise invalid(
            "This value must be greater than or equal to 0.",
            param=param,
            code="parameter_invalid_integer",
        )
    if amount > MAX_AMOUNT:
        raise invalid(
            f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)} {currency}",
            param=param,
            code="amount_too_large",
        )
    if amount:
        check_step(amount, currency, param)
    return amount
