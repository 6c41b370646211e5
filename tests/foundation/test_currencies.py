"""The currency registry (SPEC 14) against Stripe's published rules, and its arithmetic,
property-tested over every currency in it. Oracles use Decimal/Fraction written here, not the
module's own helpers."""

from __future__ import annotations

import ast
import inspect
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from babel.numbers import get_currency_precision
from hypothesis import given, settings
from hypothesis import strategies as st

from estuary_checkout import currencies

PROPS = settings(max_examples=300, deadline=None)
codes = st.sampled_from(currencies.CODES)

# docs.stripe.com/currencies, read 2026-12-02
STRIPE_ZERO_DECIMAL = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".lower().split()
STRIPE_THREE_DECIMAL = "BHD JOD KWD OMR TND".lower().split()
# "Minimum and maximum charge amounts": the currencies Stripe publishes a minimum for
STRIPE_MINIMUMS = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip
# SPEC 14's list
SPEC_MINIMUMS = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "chf": 50, "nzd": 50, "sgd": 50, "gbp": 30,
                 "jpy": 50, "hkd": 400, "mxn": 1000}  # fmt: skip


def test_coverage_is_stripes_card_currencies():
    assert len(currencies.CODES) == 139
    assert list(currencies.CODES) == sorted(currencies.CODES)
    assert all(len(c) == 3 and c.isalpha() and c.islower() for c in currencies.CODES)
    for code in [*STRIPE_ZERO_DECIMAL, *STRIPE_THREE_DECIMAL, *STRIPE_MINIMUMS, "isk", "twd", "idr", "kes"]:
        assert currencies.is_supported(code), code
    # withdrawn ISO 4217 codes older Stripe lists still carry, and codes Stripe never took
    for code in ["eek", "hrk", "ltl", "lvl", "mro", "sll", "std", "vef", "xau", "xts", "iqd", "irr", "xyz"]:
        assert not currencies.is_supported(code), code


def test_decimal_digits_as_stripes_api_counts_them():
    for code in currencies.CODES:
        cur = currencies.get(code)
        if code in ("ugx", "isk"):
            # Stripe's special cases: zero-decimal in fact, sent with two decimals that are 00
            assert (cur.digits, cur.step) == (2, 100), code
        elif code in STRIPE_ZERO_DECIMAL:
            assert (cur.digits, cur.step) == (0, 1), code
        elif code in STRIPE_THREE_DECIMAL:
            assert (cur.digits, cur.step) == (3, 10), code
        else:
            assert (cur.digits, cur.step) == (2, 1), code
    # HUF and TWD: "divisible by 100" is a payout rule; charges take two decimals
    assert currencies.check_amount(17501, "huf") is None
    assert currencies.check_amount(2001, "twd") is None


def test_minimums_are_stripes_where_published_and_chargeable_everywhere():
    for code, minimum in STRIPE_MINIMUMS.items():
        assert currencies.minimum_charge(code) == minimum, code
        assert currencies.get(code).minimum_source == currencies.STRIPE
    for code, minimum in SPEC_MINIMUMS.items():
        assert currencies.minimum_charge(code) == minimum, code
    for code in currencies.CODES:
        cur = currencies.get(code)
        assert cur.minimum_source in (currencies.STRIPE, currencies.ESTIMATE)
        assert (cur.minimum_source == currencies.STRIPE) == (code in STRIPE_MINIMUMS), code
        assert 1 <= cur.minimum < cur.maximum == 99_999_999, code
        # the minimum itself can be charged: the pricing rule "give back credit down to the minimum"
        # relies on it
        assert currencies.check_amount(cur.minimum, code) is None, code
    # the estimates, spot-checked against the emulator's earlier table and USD 0.50
    assert currencies.minimum_charge("krw") == 1000
    assert currencies.minimum_charge("kwd") == 200  # 0.200 KWD ≈ USD 0.65
    assert currencies.minimum_charge("isk") == 10000  # ISK 100, in hundredths


@pytest.mark.parametrize(
    ("amount", "code", "expected"),
    [
        (49, "usd", "amount_too_small"),
        (50, "usd", None),
        (99_999_999, "usd", None),
        (100_000_000, "usd", "amount_too_large"),
        (29, "gbp", "amount_too_small"),
        (30, "gbp", None),
        (49, "jpy", "amount_too_small"),
        (15000, "jpy", None),
        (16313, "jpy", None),  # zero-decimal: any whole yen
        (399, "hkd", "amount_too_small"),
        (999, "mxn", "amount_too_small"),
        (38060, "kwd", None),
        (38065, "kwd", "invalid_charge_amount"),  # three-decimal: must end in 0
        (5124, "kwd", "invalid_charge_amount"),  # Stripe's example: round 5.124 to 5120 or 5130
        (5120, "kwd", None),
        (190, "kwd", "amount_too_small"),
        (50000, "isk", None),
        (50050, "isk", "invalid_charge_amount"),  # whole krónur only
        (500000, "ugx", None),
        (500001, "ugx", "invalid_charge_amount"),
        (0, "eur", "amount_too_small"),
        (-50, "eur", "amount_too_small"),
    ],
)
def test_check_amount_table(amount, code, expected):
    assert currencies.check_amount(amount, code) == expected


@pytest.mark.parametrize("code", ["xyz", "", "usdd", "us", "XTS"])
def test_unknown_currencies_are_refused(code):
    assert not currencies.is_supported(code)
    with pytest.raises(currencies.UnknownCurrency) as info:
        currencies.get(code)
    assert info.value.code == code
    for fn in (currencies.minimum_charge, currencies.chargeable_step, currencies.decimal_digits):
        with pytest.raises(currencies.UnknownCurrency):
            fn(code)
    with pytest.raises(currencies.UnknownCurrency):
        currencies.check_amount(1000, code)


def test_codes_are_case_insensitive():
    assert currencies.get("KWD") is currencies.get("kwd") is currencies.get("Kwd")
    assert currencies.is_supported("JPY") and currencies.chargeable_step("KWD") == 10


@PROPS
@given(code=codes, amount=st.integers(-(10**9), 10**9))
def test_check_amount_property(code, amount):
    cur = currencies.get(code)
    ok = cur.minimum <= amount <= 99_999_999 and amount % cur.step == 0
    got = currencies.check_amount(amount, code)
    assert (got is None) == ok
    if amount < cur.minimum:
        assert got == "amount_too_small"
    elif amount > 99_999_999:
        assert got == "amount_too_large"
    elif not ok:
        assert got == "invalid_charge_amount"


def _oracle_half_up(x: Fraction, step: int) -> int:
    return (
        int((Decimal(x.numerator) / Decimal(x.denominator) / step).quantize(Decimal(1), ROUND_HALF_UP)) * step
    )


exact_amounts = st.one_of(
    st.integers(-(10**10), 10**10),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
    st.fractions(min_value=-(10**9), max_value=10**9, max_denominator=1000),
)


@PROPS
@given(code=codes, amount=exact_amounts)
def test_round_to_chargeable_is_half_up_to_the_step(code, amount):
    step = currencies.chargeable_step(code)
    got = currencies.round_to_chargeable(amount, code)
    x = Fraction(amount)
    assert type(got) is int
    assert got % step == 0
    assert abs(got - x) <= Fraction(step, 2)
    assert got == _oracle_half_up(x, step)


@PROPS
@given(code=codes, amount=st.integers(0, 10**10))
def test_floor_to_chargeable(code, amount):
    step = currencies.chargeable_step(code)
    got = currencies.floor_to_chargeable(amount, code)
    assert type(got) is int and got % step == 0 and 0 <= amount - got < step


def test_rounding_examples_and_no_floats():
    assert currencies.round_to_chargeable(Decimal("1312.5"), "jpy") == 1313  # JPY 15000 × 8.75 %
    assert currencies.round_to_chargeable(Decimal("3062.5"), "kwd") == 3060  # KWD 35.000 × 8.75 %
    assert currencies.round_to_chargeable(3065, "kwd") == 3070
    assert currencies.round_to_chargeable(Decimal("787.5"), "eur") == 788
    assert currencies.round_to_chargeable(14950, "isk") == 15000
    assert currencies.round_to_chargeable(14949, "isk") == 14900
    with pytest.raises(TypeError):
        currencies.round_to_chargeable(787.5, "eur")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        currencies.to_decimal(10.0, "eur")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        currencies.from_decimal(10.5, "eur")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        currencies.floor_to_chargeable(-1, "eur")


@PROPS
@given(code=codes, amount=st.integers(-(10**12), 10**12))
def test_to_decimal_and_back_are_exact(code, amount):
    digits = currencies.decimal_digits(code)
    value = currencies.to_decimal(amount, code)
    assert isinstance(value, Decimal)
    assert value.as_tuple().exponent == -digits
    assert value * (10**digits) == amount
    assert currencies.from_decimal(value, code) == amount
    assert currencies.from_decimal(str(value), code) == amount


def test_to_decimal_examples():
    assert (
        currencies.to_decimal(35000, "kwd") == Decimal("35.000")
        and str(currencies.to_decimal(35000, "kwd")) == "35.000"
    )
    assert str(currencies.to_decimal(15000, "jpy")) == "15000"
    assert str(currencies.to_decimal(9788, "eur")) == "97.88"
    assert str(currencies.to_decimal(500, "isk")) == "5.00"
    assert currencies.from_decimal("35.5", "kwd") == 35500
    with pytest.raises(ValueError):
        currencies.from_decimal("35.0005", "kwd")
    with pytest.raises(ValueError):
        currencies.from_decimal("1.5", "jpy")
    assert currencies.format_amount(38060, "kwd") == "38.060 KWD"
    assert currencies.format_amount(16313, "jpy") == "16313 JPY"


@pytest.mark.parametrize(
    ("amount", "code", "locale", "shown"),
    [
        (9788, "eur", "de_DE", "97,88\xa0€"),
        (9788, "eur", "en_US", "€97.88"),
        (8700, "gbp", "en_GB", "£87.00"),
        (16313, "jpy", "ja_JP", "￥16,313"),
        (16313, "jpy", "en_US", "¥16,313"),
        (38060, "kwd", "en_US", "KWD38.060"),
        (123456789, "usd", "en_US", "$1,234,567.89"),
        (500, "isk", "is_IS", "5\xa0kr."),  # sent as 500, shown as 5 krónur
        (17500, "huf", "hu_HU", "175\xa0Ft"),
        (17550, "huf", "en_US", "HUF175.50"),  # CLDR shows no fillér; a fraction is never hidden
    ],
)
def test_format_money_with_babel(amount, code, locale, shown):
    assert currencies.format_money(amount, code, locale) == shown


@PROPS
@given(
    code=codes,
    amount=st.integers(0, 99_999_999),
    locale=st.sampled_from(["en_US", "de_DE", "fr_FR", "hi_IN"]),
)
def test_format_money_never_loses_value(code, amount, locale):
    """Whatever CLDR's digits, the number shown is the amount: the digits in the output, read
    as an integer, are the amount (without the zeros CLDR drops, or with those it adds)."""
    amount -= amount % currencies.chargeable_step(code)
    text = currencies.format_money(amount, code, locale)
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    shown = get_currency_precision(code.upper())
    api = currencies.decimal_digits(code)
    dropped = max(0, api - shown)
    if dropped and amount % 10**dropped == 0:
        assert int(digits) == amount // 10**dropped  # CLDR's way: 'ISK5' for 500
    else:
        assert int(digits) == amount * 10 ** max(0, shown - api)


def test_the_module_is_pure():
    """Imports nothing from the service: the emulator (which must stand alone) uses it."""
    tree = ast.parse(inspect.getsource(currencies))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {
        "__future__",
        "copy",
        "math",
        "dataclasses",
        "decimal",
        "fractions",
        "typing",
        "babel",
    }
