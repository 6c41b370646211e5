"""The availability rules on their own (no database): time zones and DST, the grid, windows
across midnight, lead time, time off and buffers. The API-level contract (listing == create)
is in test_availability_contract.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from estuary_checkout.catalog.availability import (
    HORIZON,
    Intervals,
    Rules,
    Window,
    local_instant,
    refusal,
    slots,
)

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
LEAD = timedelta(minutes=60)
H = timedelta(hours=1)


def rules(tz: str, windows, step: int = 15, buffer: int = 0) -> Rules:  # type: ignore[no-untyped-def]
    return Rules(
        ZoneInfo(tz), tuple(Window(*w) for w in windows), timedelta(minutes=step), timedelta(minutes=buffer)
    )


def z(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_new_york_window_follows_daylight_saving():
    """09:00–17:00 in New York is 14:00–22:00 UTC in January and 13:00–21:00 UTC in July."""
    r = rules("America/New_York", [(0, 540, 1020)])  # Mondays
    january = slots(r, 90 * timedelta(minutes=1), z(2027, 1, 4), z(2027, 1, 5), now=NOW, min_lead=LEAD)
    july = slots(r, 90 * timedelta(minutes=1), z(2027, 7, 5), z(2027, 7, 6), now=NOW, min_lead=LEAD)
    assert january[0] == (z(2027, 1, 4, 14), z(2027, 1, 4, 15, 30))
    assert january[-1] == (z(2027, 1, 4, 20, 30), z(2027, 1, 4, 22))
    assert july[0][0] == z(2027, 7, 4 + 1, 13) and july[-1][1] == z(2027, 7, 5, 21)
    assert len(january) == len(july) == (8 * 60 - 90) // 15 + 1


def test_london_spring_forward_day():
    """On 28 March 2027 London moves from GMT to BST at 01:00: a 09:00 window is 08:00 UTC."""
    r = rules("Europe/London", [(6, 540, 600)])  # Sundays 09:00–10:00
    assert slots(r, H, z(2027, 3, 21), z(2027, 3, 22), now=NOW, min_lead=LEAD) == [
        (z(2027, 3, 21, 9), z(2027, 3, 21, 10))
    ]
    assert slots(r, H, z(2027, 3, 28), z(2027, 3, 29), now=NOW, min_lead=LEAD) == [
        (z(2027, 3, 28, 8), z(2027, 3, 28, 9))
    ]


def test_lord_howe_half_hour_shift():
    """Lord Howe Island moves its clocks by 30 minutes (02:00 → 02:30 on 3 October 2027). A window
    00:00–06:00 that night lasts 5.5 real hours; its grid keeps even 60-minute steps in elapsed time."""
    tz = "Australia/Lord_Howe"
    r = rules(tz, [(6, 0, 360)], step=60)  # Sundays
    start, end = (
        local_instant(ZoneInfo(tz), datetime(2027, 10, 3).date(), 0),
        local_instant(ZoneInfo(tz), datetime(2027, 10, 3).date(), 360),
    )
    assert end - start == timedelta(hours=5, minutes=30)
    found = slots(r, H, start - H, end, now=NOW, min_lead=LEAD)
    assert [s for s, _ in found] == [start + k * H for k in range(5)]
    # the clock reads 00:00, 01:00, 02:30, 03:30, 04:30 local: even steps of elapsed time
    assert [s.astimezone(ZoneInfo(tz)).strftime("%H:%M") for s, _ in found] == [
        "00:00",
        "01:00",
        "02:30",
        "03:30",
        "04:30",
    ]
    for s, e in found:
        assert refusal(r, s, e, now=NOW, min_lead=LEAD) is None


def test_window_across_midnight():
    """Friday 20:00–24:00 and Saturday 00:00–02:00 are one evening: a 2-hour session at 23:00 fits."""
    r = rules("Europe/London", [(4, 1200, 1440), (5, 0, 120)], step=60)
    friday_23 = z(2027, 1, 8, 23)  # GMT = UTC in January
    assert refusal(r, friday_23, friday_23 + 2 * H, now=NOW, min_lead=LEAD) is None
    assert (
        refusal(r, friday_23 + H, friday_23 + 4 * H, now=NOW, min_lead=LEAD) == "outside_availability"
    )  # to 03:00
    listed = slots(r, 2 * H, z(2027, 1, 8), z(2027, 1, 10), now=NOW, min_lead=LEAD)
    assert [s.hour for s, _ in listed] == [20, 21, 22, 23, 0]


def test_off_grid_and_outside_window_are_refused():
    r = rules("UTC", [(d, 480, 1200) for d in range(7)], step=15)
    s = z(2027, 2, 1, 10)
    assert refusal(r, s, s + H, now=NOW, min_lead=LEAD) is None
    assert (
        refusal(r, s + timedelta(minutes=5), s + timedelta(minutes=65), now=NOW, min_lead=LEAD)
        == "outside_availability"
    )
    assert (
        refusal(r, z(2027, 2, 1, 19, 30), z(2027, 2, 1, 20, 30), now=NOW, min_lead=LEAD)
        == "outside_availability"
    )
    assert refusal(r, z(2027, 2, 1, 7), z(2027, 2, 1, 8), now=NOW, min_lead=LEAD) == "outside_availability"


def test_lead_time_and_horizon():
    r = rules("UTC", [(d, 0, 1440) for d in range(7)], step=15)
    assert (
        refusal(r, NOW + timedelta(minutes=45), NOW + timedelta(minutes=105), now=NOW, min_lead=LEAD)
        == "too_soon"
    )
    assert refusal(r, NOW + LEAD, NOW + LEAD + H, now=NOW, min_lead=LEAD) is None
    far = NOW + HORIZON + timedelta(minutes=15)
    assert refusal(r, far, far + H, now=NOW, min_lead=LEAD) == "too_far"
    listed = slots(r, H, NOW - H, NOW + 3 * H, now=NOW, min_lead=LEAD)
    assert listed[0][0] == NOW + LEAD


def test_time_off_and_buffers():
    r = rules("UTC", [(d, 480, 1200) for d in range(7)], step=15, buffer=15)
    day = z(2027, 2, 1)
    # a booking 10:00–11:00 made with a 15-minute buffer holds 10:00–11:15
    busy = Intervals([(day + 10 * H, day + 11 * H + timedelta(minutes=15))])
    at = lambda h, m=0: day + timedelta(hours=h, minutes=m)  # noqa: E731
    assert refusal(r, at(11), at(12), now=NOW, min_lead=LEAD, busy=busy) == "busy"
    assert refusal(r, at(11, 15), at(12, 15), now=NOW, min_lead=LEAD, busy=busy) is None
    # before it, the candidate's own buffer must end by 10:00
    assert refusal(r, at(8, 45), at(9, 45), now=NOW, min_lead=LEAD, busy=busy) is None
    assert refusal(r, at(9), at(10), now=NOW, min_lead=LEAD, busy=busy) == "busy"
    off = Intervals([(at(14), at(15))])
    assert refusal(r, at(13), at(14), now=NOW, min_lead=LEAD, time_off=off) is None
    assert refusal(r, at(13, 30), at(14, 30), now=NOW, min_lead=LEAD, time_off=off) == "time_off"
    listed = {s for s, _ in slots(r, H, at(8), at(16), now=NOW, min_lead=LEAD, time_off=off, busy=busy)}
    assert at(8, 45) in listed and at(9) not in listed and at(11, 15) in listed and at(13, 30) not in listed


intervals = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 60)).map(lambda t: (t[0], t[0] + t[1])), max_size=12
)


@settings(max_examples=300)
@given(intervals, st.integers(0, 260), st.integers(1, 60))
def test_intervals_overlap_matches_brute_force(items, s, length):
    base = z(2027, 1, 1)
    as_time = [(base + timedelta(minutes=a), base + timedelta(minutes=b)) for a, b in items]
    got = Intervals(as_time).overlaps(base + timedelta(minutes=s), base + timedelta(minutes=s + length))
    assert got == any(a < s + length and s < b for a, b in items)
