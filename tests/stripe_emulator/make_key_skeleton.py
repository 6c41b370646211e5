"""Regenerate `stripe_key_skeleton.json` from Stripe's published fixtures (fixtures3.json).

The skeleton keeps only what the shape test compares: key names (nested), and each nested
object's `object` value; every other value is null. Run:

    python tests/stripe_emulator/make_key_skeleton.py path/to/fixtures3.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TYPES = (
    "customer",
    "payment_method",
    "payment_intent",
    "charge",
    "refund",
    "event",
    "webhook_endpoint",
    # Billing
    "product",
    "price",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "invoice_payment",
    "test_helpers.test_clock",
    "deleted_product",
    "deleted_test_helpers.test_clock",
)
OUT = Path(__file__).with_name("stripe_key_skeleton.json")


def skeleton(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v if k == "object" and isinstance(v, str) else skeleton(v)) for k, v in value.items()}
    return None


def build(fixtures: dict[str, Any]) -> dict[str, Any]:
    return {t: skeleton(fixtures["resources"][t]) for t in TYPES}


if __name__ == "__main__":
    data = build(json.loads(Path(sys.argv[1]).read_text()))
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
