"""When a session can be booked: the one piece of code behind the availability listing, quotes,
checkout create and reschedule. Pure functions over already-loaded rules; no I/O.

The rules, in the practitioner's IANA time zone:

* **Windows** are weekly wall-clock intervals (`weekday`, start and end minute, end exclusive,
  1440 = midnight at the end of the day). Windows that touch or overlap once placed on the
  calendar form one stretch of availability, so Friday 20:00–24:00 followed by Saturday
  00:00–02:00 is one evening across local midnight.
* **Grid**: a slot starts at a window's start plus a whole number of `step`s, before that
  window's end; the session must fit in the stretch the start lies in. Steps are counted in
  elapsed time from the window's start, so a window across a DST change keeps even steps.
* **Local times to instants** follow RFC 5545 (and Python's `fold=0`): a wall time that occurs
  twice (autumn) is its first occurrence; one that does not exist (spring gap) is read with the
  UTC offset before the gap. A 09:00–17:00 window in America/New_York is therefore 14:00–22:00
  UTC in January and 13:00–21:00 UTC in July, and Australia/Lord_Howe's 30-minute shift needs
  nothing special.
* **Lead and horizon**: a slot starts at least `min_lead` after now and at most `HORIZON` ahead.
* **Time off**: no part of the session may fall in a time-off period ([start, end) instants).
* **Bookings**: a pending or confirmed booking occupies [start, blocked_until), i.e. its session
  plus the buffer after it as it was when it was booked. A candidate [s, e) needs
  [s, e + buffer) to be clear of those, so two sessions always lie at least a buffer apart, on
  both sides. The database enforces exactly this (the exclusion constraint / trigger over
  [start_at, blocked_until)), so a concurrent create cannot squeeze into a buffer either.

`slots` lists every grid start in a range that `refusal` accepts, and create, quotes and
reschedule ask `refusal` about one start: listing and accepting cannot disagree.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

HORIZON = timedelta(days=730)
MINUTES_PER_DAY = 1440
_LATEST = datetime.max.replace(tzinfo=UTC)

Refusal = Literal["outside_availability", "time_off", "too_soon", "too_far", "busy"]


@dataclass(frozen=True)
class Window:
    weekday: int  # Monday = 0
    start_minute: int
    end_minute: int  # exclusive; 1440 = the end of the day


@dataclass(frozen=True)
class Rules:
    tz: ZoneInfo
    windows: tuple[Window, ...]
    step: timedelta
    buffer: timedelta


class Intervals:
    """Half-open [start, end) intervals, answering "does anything overlap [s, e)?" in O(log n).

    Sorted by start with a running maximum of the ends: some interval starting before `e` ends
    after `s` exactly when the largest end among those starting before `e` is after `s`. No
    assumption that the intervals are disjoint.
    """

    __slots__ = ("_max_end", "_starts")

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]] = ()) -> None:
        ordered = sorted(intervals)
        self._starts = [s for s, _ in ordered]
        self._max_end: list[datetime] = []
        for _, end in ordered:
            self._max_end.append(end if not self._max_end or end > self._max_end[-1] else self._max_end[-1])

    def __len__(self) -> int:
        return len(self._starts)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_left(self._starts, end)
        return i > 0 and self._max_end[i - 1] > start


NOTHING = Intervals()


def local_instant(tz: ZoneInfo, day: date, minute: int) -> datetime:
    """The UTC instant of wall time `minute` (0..1440) on local `day` (RFC 5545 rules, see above)."""
    if minute >= MINUTES_PER_DAY:
        day, minute = day + timedelta(days=minute // MINUTES_PER_DAY), minute % MINUTES_PER_DAY
    naive = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _placed(rules: Rules, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
    """Each window on each local date from `first` to `last`, as UTC instants (empty ones dropped)."""
    by_day: dict[int, list[Window]] = {}
    for w in rules.windows:
        by_day.setdefault(w.weekday, []).append(w)
    day = first
    while day <= last:
        for w in by_day.get(day.weekday(), ()):
            start = local_instant(rules.tz, day, w.start_minute)
            end = local_instant(rules.tz, day, w.end_minute)
            if start < end:
                yield start, end
        day += timedelta(days=1)


def _stretches(placed: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Windows merged where they touch or overlap."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(placed):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _within(stretches: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    i = bisect.bisect_right(stretches, (start, _LATEST)) - 1
    return i >= 0 and stretches[i][0] <= start and end <= stretches[i][1]


def _local_dates(rules: Rules, start: datetime, end: datetime) -> tuple[date, date]:
    """Local dates whose windows can touch [start, end] (a day of margin for DST and midnight)."""
    return (
        start.astimezone(rules.tz).date() - timedelta(days=1),
        end.astimezone(rules.tz).date() + timedelta(days=1),
    )


def _grid(
    placed: Iterable[tuple[datetime, datetime]], step: timedelta, since: datetime, until: datetime
) -> Iterator[datetime]:
    """The grid starts in [since, until): each window's start plus whole steps, before its end."""
    for start, end in placed:
        at = start if since <= start else start + -((start - since) // step) * step
        stop = min(end, until)
        while at < stop:
            yield at
            at += step


def _on_grid(placed: Iterable[tuple[datetime, datetime]], step: timedelta, at: datetime) -> bool:
    return any(start <= at < end and (at - start) % step == timedelta(0) for start, end in placed)


def _too_soon_or_far(start: datetime, *, now: datetime, min_lead: timedelta) -> Refusal | None:
    if start < now + min_lead:
        return "too_soon"
    if start > now + HORIZON:
        return "too_far"
    return None


def _taken(
    rules: Rules, start: datetime, end: datetime, *, time_off: Intervals, busy: Intervals | None
) -> Refusal | None:
    if time_off.overlaps(start, end):
        return "time_off"
    if busy is not None and busy.overlaps(start, end + rules.buffer):
        return "busy"
    return None


def refusal(
    rules: Rules,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    min_lead: timedelta,
    time_off: Intervals = NOTHING,
    busy: Intervals | None = None,
) -> Refusal | None:
    """Why [start, end) cannot be booked now, or None if it can. `busy=None` skips the bookings
    (price quotes, which do not read them; create and reschedule always pass them)."""
    timing = _too_soon_or_far(start, now=now, min_lead=min_lead)
    if timing is not None:
        return timing
    first, last = _local_dates(rules, start, end)
    placed = list(_placed(rules, first, last))
    if not _on_grid(placed, rules.step, start) or not _within(_stretches(placed), start, end):
        return "outside_availability"
    return _taken(rules, start, end, time_off=time_off, busy=busy)


def slots(
    rules: Rules,
    duration: timedelta,
    range_start: datetime,
    range_end: datetime,
    *,
    now: datetime,
    min_lead: timedelta,
    time_off: Intervals = NOTHING,
    busy: Intervals | None = None,
) -> list[tuple[datetime, datetime]]:
    """Every bookable [start, start + duration) with range_start <= start < range_end, ascending."""
    first, last = _local_dates(rules, range_start, range_end + duration)
    placed = list(_placed(rules, first, last))
    stretches = _stretches(placed)
    out = []
    for start in sorted(set(_grid(placed, rules.step, range_start, range_end))):
        end = start + duration
        if (
            _too_soon_or_far(start, now=now, min_lead=min_lead) is None
            and _within(stretches, start, end)
            and _taken(rules, start, end, time_off=time_off, busy=busy) is None
        ):
            out.append((start, end))
    return out
