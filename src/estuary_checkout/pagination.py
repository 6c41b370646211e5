"""Cursor pagination for every list route (SPEC part two, "Lists").

Keyset pagination, newest first: rows are ordered by a tuple of columns, all descending (e.g.
`(created_at, id)`), and the cursor holds the last row's values of that tuple. The next page is
the rows strictly after it in that order, so rows added between two page reads land before the
cursor (on an earlier page) and never shift, duplicate or hide the rows still to come. A list
that says so is ordered ascending instead (`descending=False`: a client's upcoming bookings,
soonest first); the cursor works the same way, so a row added between two reads lands on an
earlier page if it sorts before the cursor or on a later one if after it, and the rows that
were there are neither repeated nor skipped. The cursor is opaque to clients (base64url JSON)
but carries no authority: the route's own filters (the caller, the admin role) still apply to
every page. Its values must have their columns' types (a forged cursor is a 422, not a 500).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, TypeVarTuple

from pydantic import BaseModel
from sqlalchemy import Select, TypeDecorator, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from estuary_checkout.errors import Unprocessable

T = TypeVar("T")
U = TypeVar("U")
Ts = TypeVarTuple("Ts")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class InvalidCursor(Unprocessable):
    code = "INVALID_CURSOR"
    message = "The cursor is not one this list returned"


class Page(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


@dataclass(frozen=True)
class PageOf(Generic[T]):
    """A page of rows as the repository returns it (the router maps rows to public items)."""

    rows: list[T]
    has_more: bool
    next_cursor: str | None

    def map(self, fn: Callable[[T], U]) -> PageOf[U]:
        """The same page with each row turned into what the route returns (the cursor stays)."""
        return PageOf([fn(row) for row in self.rows], self.has_more, self.next_cursor)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "t" in value and isinstance(value["t"], str):
            parsed = datetime.fromisoformat(value["t"])
            if parsed.tzinfo is None:
                raise ValueError("naive time in cursor")
            return parsed
        if "u" in value and isinstance(value["u"], str):
            return uuid.UUID(value["u"])
        raise ValueError("unknown cursor value")
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise ValueError("unknown cursor value")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("wrong width")
        return [_decode_value(v) for v in values]
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(details={"field": "cursor"}) from exc


def _typed(columns: Sequence[InstrumentedAttribute[Any]], values: list[Any]) -> list[Any]:
    """The cursor's values, each of its column's type: a cursor of another list (or a forged
    one) must be a 422, not a comparison the database refuses."""
    for column, value in zip(columns, values, strict=True):
        column_type = column.type
        if isinstance(column_type, TypeDecorator):  # e.g. UTCDateTime: its python_type is `object`
            column_type = column_type.impl_instance
        try:
            expected = column_type.python_type
        except NotImplementedError:  # a type that does not say: leave it to the database
            continue
        if isinstance(value, bool) or not isinstance(value, expected):
            raise InvalidCursor(details={"field": "cursor"})
    return values


def _after(columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], *, descending: bool) -> Any:
    """Rows strictly after `values` in the order of `columns` (a lexicographic `<`, or `>` when
    ascending)."""
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal, column < values[i] if descending else column > values[i]))
    return or_(*clauses)


def keyset(
    stmt: Select[*Ts],
    columns: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> Select[*Ts]:
    """`stmt` ordered by `columns` (descending unless told), after `cursor`, one row more than
    `limit` (to tell whether another page exists)."""
    if cursor is not None:
        values = _typed(columns, decode_cursor(cursor, len(columns)))
        stmt = stmt.where(_after(columns, values, descending=descending))
    return stmt.order_by(*(c.desc() if descending else c.asc() for c in columns)).limit(limit + 1)


def page_of(rows: Sequence[T], limit: int, key: Any) -> PageOf[T]:
    """Cut the `limit + 1` rows a keyset query returned into a page; `key(row)` gives the
    row's values of the ordering columns."""
    has_more = len(rows) > limit
    kept = list(rows[:limit])
    return PageOf(kept, has_more, encode_cursor(key(kept[-1])) if has_more and kept else None)
