"""No bare 100 in money code: `amount / 100` assumes two decimals and is wrong for JPY (0), KWD (3)
and ISK/UGX (whole units in hundredths). Money code converts through `estuary_checkout.currencies`
(to_decimal, format_money, round_to_chargeable…); percentages go through `pricing.service.PERCENT`
/ `percent_of`, the one place a percent's denominator is written.

The check reads the modules' syntax trees: a literal 100 (or 10 ** 2) as an operand of `*`, `/`,
`//`, `%` (also in `x /= 100` and `divmod(x, 100)`), or as an argument of a division helper
(`round_half_up_div(x, 100)`), is a finding. `Field(le=100)`, `"limit": 100` and `PERCENT = 100`
are not arithmetic and pass."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import estuary_checkout

PACKAGE = Path(estuary_checkout.__file__).parent
MONEY_CODE = [
    "pricing",
    "orders",
    "credits",
    "coupons",
    "refunds",
    "links",
    "payments",
    "bookings",
    "passes",
    "demo.py",
]
# Findings known and owned elsewhere: (path relative to the package, the expression's source).
KNOWN: set[tuple[str, str]] = set()

ARITHMETIC = (ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)


def _is_hundred(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return isinstance(node.value, int | float) and node.value == 100
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return (
            isinstance(node.left, ast.Constant)
            and node.left.value == 10
            and isinstance(node.right, ast.Constant)
            and node.right.value == 2
        )
    return False


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def findings(source: str) -> list[tuple[int, str]]:
    """(line, expression) for each use of a bare 100 in arithmetic in `source`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        hit = False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ARITHMETIC):
            hit = _is_hundred(node.left) or _is_hundred(node.right)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ARITHMETIC):
            hit = _is_hundred(node.value)
        elif isinstance(node, ast.Call):
            name = _call_name(node).lower()
            if name == "divmod" or "div" in name:
                hit = any(_is_hundred(a) for a in node.args) or any(
                    _is_hundred(k.value) for k in node.keywords
                )
        if hit:
            found.append((node.lineno, ast.get_source_segment(source, node) or ast.dump(node)))
    return sorted(found)


def _money_modules() -> list[Path]:
    paths: list[Path] = []
    for entry in MONEY_CODE:
        target = PACKAGE / entry
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return paths


def test_money_code_has_no_bare_100():
    modules = _money_modules()
    assert len(modules) > 30, "the money modules were not found"
    problems = []
    for path in modules:
        rel = path.relative_to(PACKAGE).as_posix()
        for line, expr in findings(path.read_text(encoding="utf-8")):
            if (rel, expr) not in KNOWN:
                problems.append(f"{rel}:{line}: {expr}")
    assert not problems, (
        "a bare 100 in money arithmetic (use estuary_checkout.currencies for minor units, "
        "pricing.service.PERCENT / percent_of for percentages):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    "code",
    [
        "dollars = amount / 100",
        "cents = int(value * 100)",
        "units, rest = amount // 100, amount % 100",
        "amount /= 100",
        "amount *= 100.0",
        "x = price * 10 ** 2",
        "q, r = divmod(amount, 100)",
        "share = round_half_up_div(total * pct, 100)",
        "share = pricing.round_half_up_div(total * pct, denominator=100)",
        "label = f'{cents / 100:.2f}'",
        "x = 100 * amount",
    ],
)
def test_the_check_finds_a_bare_100(code):
    assert findings(code), code


@pytest.mark.parametrize(
    "code",
    [
        "PERCENT = 100",
        "quantity: int = Field(ge=1, le=100)",
        "params = {'limit': 100}",
        "x = amount - 100",
        "ok = percent <= 100",
        "share = percent_of(total, pct)",
        "x = amount * 1000",
        "x = PERCENT - pct",
    ],
)
def test_the_check_passes_what_is_not_arithmetic_on_100(code):
    assert not findings(code), code
