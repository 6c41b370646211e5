"""Schemathesis over the served OpenAPI schema: every chosen operation fuzzed with a token, each
response checked (no 5xx; status, content type and body as the schema says)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def fuzz(
    url: str,
    token: str,
    *,
    include: Callable[[Any], bool] = lambda operation: True,
    checks_for: Callable[[Any], list[Any]] = lambda operation: CHECKS,
) -> list[str]:
    """Fuzz the operations of the app served at `url` that `include` picks; their labels."""
    schema = schemathesis.openapi.from_url(f"{url}/stripe/fastapi/stripe/openapi.json")
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not include(operation):
            continue
        op_checks = checks_for(operation)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(
                base_url=f"{url}/stripe/fastapi",
                headers={"Authorization": f"Bearer {token}"},
                checks=op_checks,  # noqa: B023 - run() is called right below
            )

        run()
        tested.append(operation.label)
    return tested
