"""Apportioning an order's money over its lines, exactly (SPEC 11.2, "a booking's paid share").

Every split uses the largest-remainder method: each part gets the floor of its exact
proportional share, and the cents left over go, one each, to the parts with the largest
fractional remainders (ties to the earlier part). So the parts always add up to the whole, and
each part is within one cent of its exact proportion. Integers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights` (non-negative); all zero when the weights are."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("non-negative total and weights required")
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(parts)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class LineShare:
    discount_cents: int
    tax_cents: int
    credit_cents: int
    card_cents: int

    @property
    def paid_cents(self) -> int:
        """What the client paid for the line: its total − its discount + its tax."""
        return self.credit_cents + self.card_cents


def line_shares(
    line_totals: Sequence[int],
    discount_eligible: Sequence[bool],
    *,
    discount_cents: int,
    tax_cents: int,
    credits_cents: int,
    card_cents: int,
) -> list[LineShare]:
    """Each line's part of the order's discount (over the lines the coupon applied to), tax (over
    each line's taxable amount, total − discount), store credit and card charge (over each line's
    paid amount). The shares of each kind add up exactly to the order's figure."""
    paid_total = sum(line_totals) - discount_cents + tax_cents
    if credits_cents + card_cents != paid_total:
        raise ValueError("credits + card must equal subtotal − discount + tax")
    discounts = largest_remainder(
        discount_cents,
        [t if eligible else 0 for t, eligible in zip(line_totals, discount_eligible, strict=True)],
    )
    taxable = [t - d for t, d in zip(line_totals, discounts, strict=True)]
    if discount_cents and not any(discount_eligible):  # a discount with no eligible line: spread over all
        discounts = largest_remainder(discount_cents, list(line_totals))
        taxable = [t - d for t, d in zip(line_totals, discounts, strict=True)]
    taxes = largest_remainder(tax_cents, taxable)
    paid = [b + x for b, x in zip(taxable, taxes, strict=True)]
    credits = largest_remainder(credits_cents, paid)
    return [
        LineShare(discount_cents=d, tax_cents=x, credit_cents=c, card_cents=p - c)
        for d, x, c, p in zip(discounts, taxes, credits, paid, strict=True)
    ]


def split_refund(amount: int, credit_part: int, card_part: int) -> tuple[int, int]:
    """`amount` of a share split back to (credit, card) in the proportion they paid it."""
    credit, card = largest_remainder(amount, [credit_part, card_part]) if amount else (0, 0)
    return credit, card
