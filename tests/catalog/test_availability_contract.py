"""SPEC 10.1's contract, property-tested through the API: at the moment of the call, every slot
`GET /catalog/availability` lists is accepted by calculate-price and by create, and every start
it does not list is refused by create. Random weekly windows (some across local midnight), time
zones with DST and Lord Howe's half-hour shift, ranges on the days the clocks change, steps,
buffers, time off and existing bookings (with buffers of their own)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.checkout.helpers import API, make_user

from estuary_checkout.bookings.models import Booking
from estuary_checkout.catalog.models import AvailabilityWindow, Practitioner, Service, TimeOff
from estuary_checkout.db.session import session_scope

CHANGE_DAYS = {
    "America/New_York": [date(2027, 3, 14), date(2027, 11, 7)],
    "Europe/London": [date(2027, 3, 28), date(2027, 10, 31)],
    "Australia/Lord_Howe": [date(2027, 4, 4), date(2027, 10, 3)],
    "Asia/Kathmandu": [date(2027, 1, 12)],  # UTC+05:45, no DST
    "UTC": [date(2027, 2, 1)],
}
FIVE = timedelta(minutes=5)
# listed slots this close to now + lead may become "too soon" while the test runs: not asserted
LEAD_MARGIN = timedelta(minutes=10)

minutes = st.integers(0, 287).map(lambda n: n * 5)


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    tz = draw(st.sampled_from(sorted(CHANGE_DAYS)))
    soon = draw(st.booleans()) if tz == "UTC" else False
    if soon:
        local_day = datetime.now(ZoneInfo(tz)).date()
    else:
        local_day = draw(st.sampled_from(CHANGE_DAYS[tz]))
    weekday = local_day.weekday()
    windows: list[tuple[int, int, int]] = []
    for _ in range(draw(st.integers(1, 4))):
        day = (weekday + draw(st.sampled_from([0, 0, 0, 1, -1]))) % 7
        start = draw(minutes)
        end = draw(st.integers(start // 5 + 1, 288).map(lambda n: n * 5))
        if all(d != day or end <= s or e <= start for d, s, e in windows):
            windows.append((day, start, end))
    if draw(st.booleans()):  # an evening that crosses local midnight
        late = draw(st.integers(180, 285).map(lambda n: n * 5))
        pair = [(weekday, late, 1440), ((weekday + 1) % 7, 0, draw(st.integers(1, 36).map(lambda n: n * 5)))]
        if all(all(d != pd or e <= ps or pe <= s for d, s, e in windows) for pd, ps, pe in pair):
            windows.extend(pair)
    return {
        "tz": tz,
        "soon": soon,
        "local_day": local_day,
        "windows": windows,
        "step": draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60])),
        "buffer": draw(st.sampled_from([0, 5, 10, 15, 30])),
        "duration": draw(st.sampled_from([30, 45, 60, 90])),
        # (offset from the range start, length) in minutes
        "time_off": draw(st.lists(st.tuples(minutes, st.integers(1, 60).map(lambda n: n * 5)), max_size=2)),
        "bookings": draw(
            st.lists(
                st.tuples(minutes, st.integers(3, 24).map(lambda n: n * 5), st.sampled_from([0, 5, 15, 30])),
                max_size=4,
            )
        ),
    }


async def _setup(factory, sc, range_start: datetime) -> tuple[int, int, int, str]:  # type: ignore[no-untyped-def]
    async for s in session_scope(factory):
        p = Practitioner(
            name="Property", timezone=sc["tz"], slot_step_minutes=sc["step"], buffer_minutes=sc["buffer"]
        )
        s.add(p)
        await s.flush()
        for d, start, end in sc["windows"]:
            s.add(AvailabilityWindow(practitioner_id=p.id, weekday=d, start_minute=start, end_minute=end))
        svc = Service(
            type="session",
            name="Property",
            practitioner_id=p.id,
            price_cents=5000,
            duration_minutes=sc["duration"],
        )
        s.add(svc)
        for offset, length in sc["time_off"]:
            at = range_start + timedelta(minutes=offset)
            s.add(TimeOff(practitioner_id=p.id, start_at=at, end_at=at + timedelta(minutes=length)))
        user = await make_user(s)
        await s.flush()
        ids = (p.id, svc.id, user.id, user.external_id)
    for offset, length, buffer in sc["bookings"]:
        at = range_start + timedelta(minutes=offset)
        end = at + timedelta(minutes=length)
        try:  # an overlapping draw is refused by the database guard; the others stay
            async for s in session_scope(factory):
                s.add(
                    Booking(
                        user_id=ids[2],
                        practitioner_id=ids[0],
                        service_id=ids[1],
                        start_at=at,
                        end_at=end,
                        blocked_until=end + timedelta(minutes=buffer),
                        status="confirmed",
                    )
                )
        except (IntegrityError, DBAPIError):
            pass
    return ids


def _body(sid: int, pid: int, start: datetime, duration: int) -> dict:
    return {
        "checkout_type": "single_session",
        "items": [
            {
                "service_id": sid,
                "practitioner_id": pid,
                "start_time": start.isoformat(),
                "end_time": (start + timedelta(minutes=duration)).isoformat(),
            }
        ],
    }


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sc=scenarios())
async def test_listing_and_create_agree(sc, client, app_state, make_token):
    tz = ZoneInfo(sc["tz"])
    if sc["soon"]:
        range_start = datetime.now(UTC).replace(second=0, microsecond=0)
        range_start -= timedelta(minutes=range_start.minute % 5)
    else:
        range_start = datetime(*sc["local_day"].timetuple()[:3], tzinfo=tz).astimezone(UTC)
    range_end = range_start + timedelta(days=1)
    pid, sid, _uid, sub = await _setup(app_state.session_factory, sc, range_start)
    headers = {"Authorization": f"Bearer {make_token(sub)}"}

    listed_at = datetime.now(UTC)
    r = await client.get(
        f"{API}/catalog/availability",
        params={"service_id": sid, "from": range_start.isoformat(), "to": range_end.isoformat()},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == sc["tz"] and body["practitioner_id"] == pid
    listed = [datetime.fromisoformat(s["start_time"]) for s in body["slots"]]
    assert listed == sorted(set(listed)), "slots ascending, no duplicates"
    for s in body["slots"]:
        start, end = datetime.fromisoformat(s["start_time"]), datetime.fromisoformat(s["end_time"])
        assert end - start == timedelta(minutes=sc["duration"]) and range_start <= start < range_end
    boundary = listed_at + timedelta(minutes=app_state.settings.min_lead_minutes)

    def settled(start: datetime) -> bool:
        return abs(start - boundary) > LEAD_MARGIN

    # every listed slot is quoted
    for start in listed:
        if settled(start):
            q = await client.post(
                f"{API}/checkout/calculate-price",
                json=_body(sid, pid, start, sc["duration"]),
                headers=headers,
            )
            assert q.status_code == 200, (start, q.text)

    # every start not listed (the 5-minute lattice holds every grid start of these rules) is refused
    listed_set = set(listed)
    at = range_start
    while at < range_end:
        if at not in listed_set and settled(at):
            c = await client.post(
                f"{API}/checkout/create", json=_body(sid, pid, at, sc["duration"]), headers=headers
            )
            assert c.status_code in (409, 422), (at.isoformat(), c.status_code, c.text)
            assert c.json()["code"] in ("OUTSIDE_AVAILABILITY", "SLOT_UNAVAILABLE", "START_IN_PAST"), c.text
        at += FIVE

    # listed slots are accepted by create: take a few that cannot clash with each other
    taken: list[datetime] = []
    span = timedelta(minutes=sc["duration"] + sc["buffer"])
    for start in listed:
        if len(taken) == 3:
            break
        if settled(start) and all(start >= t + span or t >= start + span for t in taken):
            c = await client.post(
                f"{API}/checkout/create", json=_body(sid, pid, start, sc["duration"]), headers=headers
            )
            assert c.status_code == 201, (start.isoformat(), c.text)
            taken.append(start)
    # and once booked, a slot is listed no more
    if taken:
        again = await client.get(
            f"{API}/catalog/availability",
            params={"service_id": sid, "from": range_start.isoformat(), "to": range_end.isoformat()},
            headers=headers,
        )
        still = {datetime.fromisoformat(s["start_time"]) for s in again.json()["slots"]}
        assert not still & set(taken)
