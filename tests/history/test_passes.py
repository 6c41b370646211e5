"""A client's passes (SPEC 11.1): newest first, with the sessions left and the status a client
would expect (used up or past its expiry, even though the row only counts sessions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.checkout.helpers import API, db, make_practitioner, make_service
from tests.history.helpers import all_pages, insert_order

from estuary_checkout.orders.models import OrderLine
from estuary_checkout.passes.models import Pass


async def test_passes_newest_first_with_the_status_a_client_expects(client, factory, new_user):
    user, other = await new_user(), await new_user()
    now = datetime.now(UTC).replace(microsecond=0)
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
        order_id = await insert_order(
            s, user.id, service_id=sid, practitioner_id=pid, created_at=now - timedelta(days=40)
        )
        line_id = (await s.execute(select(OrderLine.id).where(OrderLine.order_id == order_id))).scalar_one()
        # (created days ago, sessions used of 4, expires in days, stored status)
        cases = {
            "active": (4, 1, 30, "active"),
            "exhausted": (3, 4, 30, "active"),
            "expired": (2, 0, -1, "active"),
            "revoked": (1, 0, 30, "revoked"),
        }
        ids = {}
        for name, (ago, used, expires_in, status) in cases.items():
            # one pass per (order, line, service): each case gets a service of its own
            service_id = sid if name == "active" else await make_service(s, pid)
            p = Pass(
                user_id=user.id,
                service_id=service_id,
                practitioner_id=pid,
                source_service_id=sid,
                order_id=order_id,
                order_line_id=line_id,
                sessions_total=4,
                sessions_used=used,
                status=status,
                expires_at=now + timedelta(days=expires_in),
                created_at=now - timedelta(days=ago),
            )
            s.add(p)
            await s.flush()
            ids[name] = p.id

    pages = await all_pages(client, "/passes", user.headers, limit=3)
    assert [len(p) for p in pages] == [3, 1]
    listed = [p for page in pages for p in page]
    assert [p["pass_id"] for p in listed] == [ids[n] for n in ("revoked", "expired", "exhausted", "active")]
    by_id = {p["pass_id"]: p for p in listed}
    assert {n: by_id[ids[n]]["status"] for n in cases} == {n: n for n in cases}
    assert {n: by_id[ids[n]]["sessions_left"] for n in cases} == {
        "active": 3,
        "exhausted": 0,
        "expired": 4,
        "revoked": 4,
    }
    active = by_id[ids["active"]]
    assert set(active) == {
        "pass_id",
        "service_id",
        "practitioner_id",
        "sessions_total",
        "sessions_used",
        "sessions_left",
        "expires_at",
        "source_order_id",
        "status",
        "membership_id",
        "eligible_service_ids",
    }
    assert (active["service_id"], active["practitioner_id"], active["source_order_id"]) == (
        sid,
        pid,
        str(order_id),
    )
    assert (await client.get(f"{API}/passes", headers=other.headers)).json()["data"] == []
