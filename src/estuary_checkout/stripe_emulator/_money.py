"""Currencies the emulator accepts, their minimum charge amounts and zero-decimal handling."""

from __future__ import annotations

# Stripe's zero-decimal currencies: amounts are in whole units (500 = ¥500).
ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)

# Minimum charge amount in the currency's minor unit (Stripe's documented minimums; for currencies
# Stripe does not list, roughly the USD 0.50 equivalent, which is how Stripe applies the limit).
MINIMUMS: dict[str, int] = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "jpy": 50,
    "krw": 700,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "chf": 50,
    "sgd": 50,
    "inr": 50,
    "brl": 50,
    "hkd": 400,
    "sek": 300,
    "nok": 300,
    "dkk": 250,
    "pln": 200,
    "czk": 1500,
    "mxn": 1000,
    "huf": 17500,
    "ron": 200,
    "bgn": 100,
    "aed": 200,
    "thb": 1000,
    "myr": 200,
}

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "cad": "$", "aud": "$", "nzd": "$"}

MAX_AMOUNT = 99_999_999


def format_amount(amount: int, currency: str) -> str:
    sym = SYMBOLS.get(currency, "")
    if currency in ZERO_DECIMAL:
        return f"{sym}{amount}"
    return f"{sym}{amount // 100}.{amount % 100:02d}"
