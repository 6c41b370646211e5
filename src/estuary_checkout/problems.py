"""Field-level problems found before a write, named by their path in the input.

The admin API raises them as one 422 (`InvalidFields`, the same details shape as a request
validation error); the catalog import collects them for a whole file, each prefixed with the
entry's path in the file (`services[2].package.children[0].service`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from estuary_checkout.errors import Unprocessable, field_path


def join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if not field:
        return prefix
    return prefix + field if field.startswith("[") else f"{prefix}.{field}"


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    type: str = "value_error"

    def under(self, prefix: str) -> Problem:
        return Problem(join(prefix, self.field), self.message, self.type)


def from_validation_error(exc: ValidationError) -> list[Problem]:
    return [Problem(field_path(e["loc"]), e["msg"], e["type"]) for e in exc.errors()]


def under(prefix: str, problems: Iterable[Problem]) -> list[Problem]:
    return [p.under(prefix) for p in problems]


class InvalidFields(Unprocessable):
    """422 VALIDATION_ERROR naming every bad field, shaped like FastAPI's own validation errors."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"Invalid request: {first.field}: {first.message}",
            details={
                "field": first.field,
                "errors": [{"field": p.field, "message": p.message, "type": p.type} for p in problems],
            },
        )
        self.problems = list(problems)


def raise_any(problems: Sequence[Problem]) -> None:
    if problems:
        raise InvalidFields(problems)
