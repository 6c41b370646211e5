"""Schemathesis hooks for tests/security/fuzz.py (loaded through SCHEMATHESIS_HOOKS).

`--checks all` holds the API to its schema. A failure is dropped here only when the behaviour is
right and no OpenAPI schema can state the rule: it depends on earlier requests or on rows in the
database, or it relates two values (JSON Schema has no "end after start"). Each rule names one
check and the exact answer it forgives, and says why; anything else the checks find fails the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import schemathesis


class Known(NamedTuple):
    check: str
    why: str
    matches: Callable[[Any, dict[str, Any]], bool]  # (case, response body) -> bool


def _code(*codes: str) -> Callable[[Any, dict[str, Any]], bool]:
    return lambda case, body: body.get("code") in codes


# 422 VALIDATION_ERROR entries that come from rules between fields or rows: (field, message) patterns
RULES_BEYOND_A_SCHEMA = (
    # an order or a span between two fields
    (r".*", r"must be after"),
    (r"end_time", r"time off may last at most \d+ days"),
    (r"windows\[\d+\]\.start", r"overlaps window \[\d+\]"),
    # what a service needs depends on its type; a package's or bundle's children on their rows
    (r"type", r"cannot change a \w+ into a \w+"),
    (r"duration_minutes", r"a session needs a duration|only sessions have a duration"),
    (r"price_cents", r"a \w+ needs a price"),
    (r"prices", r"a package priced from its children has no prices of its own"),
    (r"bundle|package", r"a \w+ needs (its terms|at least one child service)|only \w+ have"),
    (r"prices\[\d+\]\.\w+", r"is already in prices\[\d+\]|must agree with price_cents"),
    (r".*", r"holds sessions only|offered by (another|its) practitioner|is priced in|cannot contain itself"),
    # the coupon's current discount or redemptions decide (a PATCH changes part of a coupon)
    (r"percent_off|amount_off", r"give percent_off or amount_off"),
    (r"max_redemptions", r"already redeemed \d+ times"),
    # a membership plan's price: Stripe's minimum and step depend on the currency beside it; what a
    # credit buys depends on the service row's type
    (r"prices\[\d+\]\.amount_cents", r"below Stripe's minimum charge|must be a multiple of"),
    (r"eligible_service_ids\[\d+\]", r"credits buy single sessions"),
)


def _rules_beyond_a_schema(case: Any, body: dict[str, Any]) -> bool:
    """A 422 VALIDATION_ERROR each of whose errors is a reference to a row that does not exist
    (type unknown_reference: the database answers, as a 404 would) or one of the rules above."""
    errors = (body.get("details") or {}).get("errors") or []
    if body.get("code") != "VALIDATION_ERROR" or not errors:
        return False
    if case.method.upper() == "POST" and "/admin/coupons" in case.path:
        # a new coupon's "exactly one of percent_off and amount_off" is in its schema (oneOf)
        errors = [e for e in errors if "give percent_off or amount_off" not in e.get("message", "")] or [{}]
    return all(
        e.get("type") == "unknown_reference"
        or any(
            re.fullmatch(field, e.get("field", "")) and re.search(message, e.get("message", ""))
            for field, message in RULES_BEYOND_A_SCHEMA
        )
        for e in errors
    )


KNOWN = (
    Known(
        "not_a_server_error",
        "/ready answers 503 NOT_READY while a dependency is down, by design; tests run without Temporal",
        lambda case, body: case.path == "/stripe/ready" and body.get("code") == "NOT_READY",
    ),
    Known(
        "positive_data_acceptance",
        "a cursor is opaque and issued by the list itself: any other string is 422 INVALID_CURSOR "
        "(docs/decisions.md, 'A forged cursor is a 422')",
        _code("INVALID_CURSOR"),
    ),
    Known(
        "positive_data_acceptance",
        "an Idempotency-Key replayed with another body is 422 by design; generated keys repeat "
        "across cases (the answer depends on earlier requests, not on this one's data)",
        _code("IDEMPOTENCY_KEY_REUSED"),
    ),
    Known(
        "positive_data_acceptance",
        "Stripe-Signature is an HMAC of the body with the endpoint's secret: no generated value is valid",
        _code("INVALID_SIGNATURE"),
    ),
    Known(
        "positive_data_acceptance",
        "`to` after `from`, at most N days apart: rules between two parameters",
        _code("INVALID_RANGE", "RANGE_TOO_LARGE"),
    ),
    Known(
        "positive_data_acceptance",
        "a checkout or refund rule refused a well-formed request: the answer depends on the catalog "
        "rows the ids name (a service's type, duration, practitioner, currency, availability), on "
        "the clock, on a coupon's terms or on an order's payments, none of which a schema holds",
        _code(
            "AMOUNT_TOO_LARGE",
            "AMOUNT_TOO_SMALL",
            "CHECKOUT_TYPE_MISMATCH",
            "COUPON_EXPIRED",
            "COUPON_INACTIVE",
            "COUPON_MIN_SUBTOTAL",
            "COUPON_NOT_APPLICABLE",
            "COUPON_NOT_FOUND",
            "COUPON_NOT_STARTED",
            "CURRENCY_MISMATCH",
            "CURRENCY_NOT_OFFERED",
            "CURRENCY_NOT_CHARGEABLE",
            "INVALID_CHILD_SELECTION",
            "INVALID_DURATION",
            "INVALID_TIMES",
            "NOT_A_SESSION",
            "OUTSIDE_AVAILABILITY",
            "PAYMENT_PROVIDER_REJECTED",
            "PRACTITIONER_MISMATCH",
            "QUANTITY_OUT_OF_RANGE",
            "REFUND_EXCEEDS_REFUNDABLE",
            "SERVICE_NOT_PURCHASABLE",
            "START_IN_PAST",
        ),
    ),
    Known(
        "positive_data_acceptance",
        "where events may be sent and a paid page may redirect depends on what the host name "
        "resolves to, the port's range and the environment (SSRF and open-redirect rules, "
        "docs/decisions.md); the schema states the URL's shape",
        _code("URL_NOT_ALLOWED", "REDIRECT_NOT_ALLOWED"),
    ),
    Known(
        "positive_data_acceptance",
        "a subscribe refused for what the plan row says: retired (is_active false), not sold in the "
        "currency asked, or starting with a trial that needs a saved card",
        _code("PLAN_INACTIVE", "PAYMENT_METHOD_REQUIRED"),
    ),
    Known(
        "positive_data_acceptance",
        "rules between fields or rows (RULES_BEYOND_A_SCHEMA), or a reference to a row that does not exist",
        _rules_beyond_a_schema,
    ),
)


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but the known ones above."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    checks = type(failure).checks
    return not any(k.check in checks and k.matches(case, body) for k in KNOWN)
