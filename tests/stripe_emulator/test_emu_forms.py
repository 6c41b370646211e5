"""Unit tests of Stripe's form decoding (arrays in the ``a[]`` form the SDK never sends)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from estuary_checkout.stripe_emulator._errors import StripeError
from estuary_checkout.stripe_emulator._forms import parse_pairs


def parse(qs: str) -> dict:
    return parse_pairs(parse_qsl(qs, keep_blank_values=True))


def test_nested_hashes_and_arrays() -> None:
    assert parse("a=1&b[c]=2&b[d][e]=3") == {"a": "1", "b": {"c": "2", "d": {"e": "3"}}}
    assert parse("expand[]=x&expand[]=y") == {"expand": ["x", "y"]}
    assert parse("expand[1]=y&expand[0]=x") == {"expand": ["x", "y"]}
    assert parse("items[0][price]=p&items[0][qty]=2&items[1][price]=q") == {
        "items": [{"price": "p", "qty": "2"}, {"price": "q"}]
    }
    assert parse("metadata[k]=") == {"metadata": {"k": ""}}


def test_conflicting_shapes_are_rejected() -> None:
    with pytest.raises(StripeError):
        parse("a=1&a[b]=2")
    with pytest.raises(StripeError):
        parse("a[b]=2&a=1")
