"""What Stripe requires of an amount, per ISO 4217 currency (SPEC 14): one table for the whole project.

Pure: imports nothing from the service, so pricing, the payments code and the Stripe emulator all
read the same rules. Codes are lowercase, as Stripe's API spells them; amounts are integers in
the minor unit *as Stripe's API counts it* (which is not always ISO 4217's exponent: see below).

Where the table comes from (Stripe's "Supported currencies" page, docs.stripe.com/currencies, its
API reference and its API's own error messages; read 2026-12-02):

* the currencies: Stripe's presentment currencies for card payments, 139 codes. The base is the
  list Stripe's API returns with an ``Invalid currency`` error (140 codes in 2020); left out are
  the codes ISO 4217 has withdrawn or replaced since (EEK, HRK, LTL, LVL, MRO, SLL, STD, VEF);
  added are the successors BYN and SLE and the five three-decimal currencies. A currency missing
  here is refused by pricing and by the emulator.
* digits: 0 for Stripe's zero-decimal currencies, 3 for its three-decimal ones, 2 for the rest.
  UGX is on Stripe's zero-decimal list but, like ISK, its "special cases" say the API keeps two
  decimals for backwards compatibility: 5 UGX is sent as 500, and the amount must be evenly
  divisible by 100. HUF and TWD are charged with two decimals; their "divisible by 100" rule is
  for payouts only, so it is not a charge rule here.
* step: three-decimal currencies must end in 0 (Stripe: "round amounts to the nearest ten"), ISK
  and UGX must be whole units (multiples of 100); every other currency can be charged to 1.
* minimum: Stripe publishes a minimum charge for the currencies it settles in (STRIPE below).
  For the others it converts the charge and asks for "at least 50 cents" in the settlement
  currency, which no static table can know; ESTIMATE rows hold USD 0.50 at approximate 2025–26
  rates, rounded up to 1, 2 or 5 × 10ⁿ minor units (and to the step): between USD 0.50 and about
  1.25 then. A currency that loses value can fall below Stripe's limit; the table is then to be
  raised.
* maximum: "The amount value supports up to eight digits", 99 999 999 minor units, for every
  currency.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal

from babel import Locale
from babel.numbers import format_currency, get_currency_precision

MAX_AMOUNT: Final = 99_999_999

STRIPE: Final = "stripe"  # Stripe's published minimum charge
ESTIMATE: Final = "estimate"  # about USD 0.50 (see the module docstring)

ZERO_DECIMAL: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL: Final = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# zero-decimal in fact, sent with two decimals that must be 00 (Stripe's "special cases")
WHOLE_UNITS_IN_HUNDREDTHS: Final = frozenset({"isk", "ugx"})

AmountError = Literal["amount_too_small", "amount_too_large", "invalid_charge_amount"]


class UnknownCurrency(ValueError):
    """A code that is not in the table (not ISO 4217, or not chargeable at Stripe)."""

    def __init__(self, code: object) -> None:
        super().__init__(f"unknown or unsupported currency: {code!r}")
        self.code = code


@dataclass(frozen=True)
class Currency:
    code: str  # lowercase ISO 4217
    digits: int  # decimal digits of an API amount: the amount is value × 10**digits
    step: int  # an amount sent to Stripe must be a multiple of this
    minimum: int  # smallest charge, minor units
    minimum_source: str  # STRIPE or ESTIMATE
    maximum: int = MAX_AMOUNT

    @property
    def minor_per_unit(self) -> int:
        return 10**self.digits


# code, digits, minimum charge (minor units), where the minimum comes from
_ROWS: tuple[tuple[str, int, int, str], ...] = (
    ("aed", 2, 200, STRIPE),
    ("afn", 2, 5_000, ESTIMATE),
    ("all", 2, 5_000, ESTIMATE),
    ("amd", 2, 20_000, ESTIMATE),
    ("ang", 2, 100, ESTIMATE),
    ("aoa", 2, 50_000, ESTIMATE),
    ("ars", 2, 100_000, ESTIMATE),
    ("aud", 2, 50, STRIPE),
    ("awg", 2, 100, ESTIMATE),
    ("azn", 2, 100, ESTIMATE),
    ("bam", 2, 100, ESTIMATE),
    ("bbd", 2, 100, ESTIMATE),
    ("bdt", 2, 10_000, ESTIMATE),
    ("bgn", 2, 100, STRIPE),
    ("bhd", 3, 200, ESTIMATE),
    ("bif", 0, 2_000, ESTIMATE),
    ("bmd", 2, 50, ESTIMATE),
    ("bnd", 2, 100, ESTIMATE),
    ("bob", 2, 500, ESTIMATE),
    ("brl", 2, 50, STRIPE),
    ("bsd", 2, 50, ESTIMATE),
    ("bwp", 2, 1_000, ESTIMATE),
    ("byn", 2, 200, ESTIMATE),
    ("bzd", 2, 100, ESTIMATE),
    ("cad", 2, 50, STRIPE),
    ("cdf", 2, 200_000, ESTIMATE),
    ("chf", 2, 50, STRIPE),
    ("clp", 0, 500, ESTIMATE),
    ("cny", 2, 500, ESTIMATE),
    ("cop", 2, 200_000, ESTIMATE),
    ("crc", 2, 50_000, ESTIMATE),
    ("cve", 2, 5_000, ESTIMATE),
    ("czk", 2, 1_500, STRIPE),
    ("djf", 0, 100, ESTIMATE),
    ("dkk", 2, 250, STRIPE),
    ("dop", 2, 5_000, ESTIMATE),
    ("dzd", 2, 10_000, ESTIMATE),
    ("egp", 2, 5_000, ESTIMATE),
    ("etb", 2, 10_000, ESTIMATE),
    ("eur", 2, 50, STRIPE),
    ("fjd", 2, 200, ESTIMATE),
    ("fkp", 2, 50, ESTIMATE),
    ("gbp", 2, 30, STRIPE),
    ("gel", 2, 200, ESTIMATE),
    ("gip", 2, 50, ESTIMATE),
    ("gmd", 2, 5_000, ESTIMATE),
    ("gnf", 0, 5_000, ESTIMATE),
    ("gtq", 2, 500, ESTIMATE),
    ("gyd", 2, 20_000, ESTIMATE),
    ("hkd", 2, 400, STRIPE),
    ("hnl", 2, 2_000, ESTIMATE),
    ("htg", 2, 10_000, ESTIMATE),
    ("huf", 2, 17_500, STRIPE),
    ("idr", 2, 1_000_000, ESTIMATE),
    ("ils", 2, 200, ESTIMATE),
    ("inr", 2, 50, STRIPE),
    ("isk", 2, 10_000, ESTIMATE),
    ("jmd", 2, 10_000, ESTIMATE),
    ("jod", 3, 500, ESTIMATE),
    ("jpy", 0, 50, STRIPE),
    ("kes", 2, 10_000, ESTIMATE),
    ("kgs", 2, 5_000, ESTIMATE),
    ("khr", 2, 200_000, ESTIMATE),
    ("kmf", 0, 500, ESTIMATE),
    ("krw", 0, 1_000, ESTIMATE),
    ("kwd", 3, 200, ESTIMATE),
    ("kyd", 2, 50, ESTIMATE),
    ("kzt", 2, 50_000, ESTIMATE),
    ("lak", 2, 2_000_000, ESTIMATE),
    ("lbp", 2, 5_000_000, ESTIMATE),
    ("lkr", 2, 20_000, ESTIMATE),
    ("lrd", 2, 10_000, ESTIMATE),
    ("lsl", 2, 1_000, ESTIMATE),
    ("mad", 2, 500, ESTIMATE),
    ("mdl", 2, 1_000, ESTIMATE),
    ("mga", 0, 5_000, ESTIMATE),
    ("mkd", 2, 5_000, ESTIMATE),
    ("mmk", 2, 200_000, ESTIMATE),
    ("mnt", 2, 200_000, ESTIMATE),
    ("mop", 2, 500, ESTIMATE),
    ("mur", 2, 5_000, ESTIMATE),
    ("mvr", 2, 1_000, ESTIMATE),
    ("mwk", 2, 100_000, ESTIMATE),
    ("mxn", 2, 1_000, STRIPE),
    ("myr", 2, 200, STRIPE),
    ("mzn", 2, 5_000, ESTIMATE),
    ("nad", 2, 1_000, ESTIMATE),
    ("ngn", 2, 100_000, ESTIMATE),
    ("nio", 2, 2_000, ESTIMATE),
    ("nok", 2, 300, STRIPE),
    ("npr", 2, 10_000, ESTIMATE),
    ("nzd", 2, 50, STRIPE),
    ("omr", 3, 200, ESTIMATE),
    ("pab", 2, 50, ESTIMATE),
    ("pen", 2, 200, ESTIMATE),
    ("pgk", 2, 500, ESTIMATE),
    ("php", 2, 5_000, ESTIMATE),
    ("pkr", 2, 20_000, ESTIMATE),
    ("pln", 2, 200, STRIPE),
    ("pyg", 0, 5_000, ESTIMATE),
    ("qar", 2, 200, ESTIMATE),
    ("ron", 2, 200, STRIPE),
    ("rsd", 2, 5_000, ESTIMATE),
    ("rub", 2, 5_000, ESTIMATE),
    ("rwf", 0, 1_000, ESTIMATE),
    ("sar", 2, 200, ESTIMATE),
    ("sbd", 2, 500, ESTIMATE),
    ("scr", 2, 1_000, ESTIMATE),
    ("sek", 2, 300, STRIPE),
    ("sgd", 2, 50, STRIPE),
    ("shp", 2, 50, ESTIMATE),
    ("sle", 2, 2_000, ESTIMATE),
    ("sos", 2, 50_000, ESTIMATE),
    ("srd", 2, 2_000, ESTIMATE),
    ("svc", 2, 500, ESTIMATE),
    ("szl", 2, 1_000, ESTIMATE),
    ("thb", 2, 1_000, STRIPE),
    ("tjs", 2, 500, ESTIMATE),
    ("tnd", 3, 2_000, ESTIMATE),
    ("top", 2, 200, ESTIMATE),
    ("try", 2, 5_000, ESTIMATE),
    ("ttd", 2, 500, ESTIMATE),
    ("twd", 2, 2_000, ESTIMATE),
    ("tzs", 2, 200_000, ESTIMATE),
    ("uah", 2, 5_000, ESTIMATE),
    ("ugx", 2, 200_000, ESTIMATE),
    ("usd", 2, 50, STRIPE),
    ("uyu", 2, 2_000, ESTIMATE),
    ("uzs", 2, 1_000_000, ESTIMATE),
    ("vnd", 0, 20_000, ESTIMATE),
    ("vuv", 0, 100, ESTIMATE),
    ("wst", 2, 200, ESTIMATE),
    ("xaf", 0, 500, ESTIMATE),
    ("xcd", 2, 200, ESTIMATE),
    ("xof", 0, 500, ESTIMATE),
    ("xpf", 0, 100, ESTIMATE),
    ("yer", 2, 20_000, ESTIMATE),
    ("zar", 2, 1_000, ESTIMATE),
    ("zmw", 2, 2_000, ESTIMATE),
)


def _step(code: str) -> int:
    if code in THREE_DECIMAL:
        return 10
    if code in WHOLE_UNITS_IN_HUNDREDTHS:
        return 100
    return 1


REGISTRY: Final[dict[str, Currency]] = {
    code: Currency(code, digits, _step(code), minimum, source) for code, digits, minimum, source in _ROWS
}
CODES: Final[tuple[str, ...]] = tuple(sorted(REGISTRY))


def get(code: str) -> Currency:
    """The currency for `code` (any case); UnknownCurrency if Stripe cannot charge in it."""
    found = REGISTRY.get(code.lower()) if isinstance(code, str) else None
    if found is None:
        raise UnknownCurrency(code)
    return found


def is_supported(code: str) -> bool:
    return isinstance(code, str) and code.lower() in REGISTRY


def decimal_digits(code: str) -> int:
    return get(code).digits


def chargeable_step(code: str) -> int:
    """1; 10 for three-decimal currencies; 100 for ISK and UGX (whole units in hundredths)."""
    return get(code).step


def minimum_charge(code: str) -> int:
    return get(code).minimum


def maximum_charge(code: str) -> int:
    return get(code).maximum


def is_chargeable_step(amount: int, code: str) -> bool:
    """Whether `amount` is a multiple of what the currency can be charged in."""
    return amount % get(code).step == 0


def round_to_chargeable(amount: int | Decimal | Fraction, code: str) -> int:
    """`amount` (minor units, exact) rounded half up to a multiple of the currency's step.

    Half up means ties away from zero, as Decimal's ROUND_HALF_UP: 1312.5 JPY → 1313,
    3062.5 KWD fils → 3060, 3065 → 3070. Floats are refused: they are not exact.
    """
    if isinstance(amount, float | bool) or not isinstance(amount, int | Decimal | Fraction):
        raise TypeError(f"an exact amount is required, not {type(amount).__name__}")
    step = get(code).step
    x = Fraction(amount) / step
    half = Fraction(1, 2)
    steps = math.floor(x + half) if x >= 0 else -math.floor(-x + half)
    return steps * step


def floor_to_chargeable(amount: int, code: str) -> int:
    """The largest multiple of the currency's step that is ≤ `amount` (a non-negative int)."""
    if amount < 0:
        raise ValueError("a non-negative amount is required")
    step = get(code).step
    return amount - amount % step


def check_amount(amount: int, code: str) -> AmountError | None:
    """What Stripe answers a charge of `amount` in `code` with, or None when it accepts it.

    `amount_too_small` / `amount_too_large` are Stripe's error codes for the minimum and the
    8-digit maximum; an amount that is not a multiple of the step (a three-decimal amount not
    ending in 0, ISK or UGX not in whole units) gets `invalid_charge_amount`. Raises
    UnknownCurrency for a currency Stripe does not take.
    """
    cur = get(code)
    if amount < cur.minimum:
        return "amount_too_small"
    if amount > cur.maximum:
        return "amount_too_large"
    if amount % cur.step:
        return "invalid_charge_amount"
    return None


def to_decimal(amount_minor: int, code: str) -> Decimal:
    """Minor units as an exact Decimal of the currency's unit: 35000 KWD → Decimal('35.000')."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError("amounts are integers in minor units")
    return Decimal(amount_minor).scaleb(-get(code).digits)


def from_decimal(value: Decimal | str | int, code: str) -> int:
    """An amount in the currency's unit (Decimal or its string) as minor units, exactly:
    '35.5' KWD → 35500. ValueError when it has more digits than the currency."""
    if isinstance(value, float | bool):
        raise TypeError("floats are not exact: pass a Decimal or a string")
    minor = Decimal(value).scaleb(get(code).digits)
    if minor != minor.to_integral_value():
        raise ValueError(f"{value} has more than {get(code).digits} decimal digits for {code.upper()}")
    return int(minor)


def format_amount(amount_minor: int, code: str) -> str:
    """Plain and locale-free, for logs and messages: '35.000 KWD', '15000 JPY', '5.00 ISK'."""
    return f"{to_decimal(amount_minor, code)} {code.upper()}"


def format_money(amount_minor: int, code: str, locale: str = "en_US") -> str:
    """For people, in their locale, with CLDR's symbol, grouping and digits (Babel):
    format_money(35000, 'kwd') == 'KWD35.000', format_money(15000, 'jpy', 'de_DE') == '15.000\xa0¥'.

    CLDR shows some currencies with fewer digits than Stripe's API counts (ISK and UGX, sent in
    hundredths of a unit; HUF, IDR, LBP… whose minor unit is out of use): an amount with no
    fraction there shows CLDR's way ('ISK5'), one with a fraction shows all of it ('HUF175.50'),
    never rounded away.
    """
    cur = get(code)
    value = to_decimal(amount_minor, cur.code)
    shown = get_currency_precision(cur.code.upper())
    if shown >= cur.digits or amount_minor % 10 ** (cur.digits - shown) == 0:
        return format_currency(value, cur.code.upper(), locale=locale)
    pattern = copy.copy(Locale.parse(locale).currency_formats["standard"])
    pattern.frac_prec = (cur.digits, cur.digits)
    return pattern.apply(value, locale, currency=cur.code.upper(), currency_digits=False)
