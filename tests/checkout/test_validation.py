"""Every validation code through the API: the error envelope, the status, the field, and that
nothing was written (no order row; create and calculate agree)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.checkout.helpers import (
    API,
    assert_error,
    bundle_body,
    create_ok,
    db,
    figures,
    future_slot,
    make_coupon,
    make_practitioner,
    make_service,
    order_count,
    package_body,
    session_body,
)

from estuary_checkout.catalog.models import PackageChild


async def _refused(client, factory, user, body, status, code, *, calculate=True):  # type: ignore[no-untyped-def]
    """create answers the error and writes nothing; calculate-price answers the same error."""
    before = await order_count(factory, user.id)
    resp = await client.post(f"{API}/checkout/create", json=body, headers=user.headers)
    err = assert_error(resp, status, code)
    assert await order_count(factory, user.id) == before
    if calculate:
        q = await client.post(f"{API}/checkout/calculate-price", json=body, headers=user.headers)
        assert_error(q, status, code)
    return err


async def test_service_not_found(client, factory, new_user):
    user = await new_user()
    start, end = future_slot()
    err = await _refused(
        client, factory, user, session_body(start, end, service_id=987654), 404, "SERVICE_NOT_FOUND"
    )
    assert err["details"]["field"] == "items[0].service_id"


async def test_checkout_type_mismatch(client, factory, new_user):
    user = await new_user()
    body = bundle_body()
    body["checkout_type"] = "package"
    err = await _refused(client, factory, user, body, 422, "CHECKOUT_TYPE_MISMATCH")
    assert err["details"]["service_type"] == "bundle"
    start, end = future_slot()
    body = session_body(start, end)
    body["checkout_type"] = "bundle"
    await _refused(client, factory, user, body, 422, "CHECKOUT_TYPE_MISMATCH")


async def test_practitioner_mismatch(client, factory, new_user):
    user = await new_user()
    async with db(factory) as s:
        other_practitioner, _ = await make_practitioner(s)
    start, end = future_slot()
    err = await _refused(
        client,
        factory,
        user,
        session_body(start, end, practitioner_id=other_practitioner),
        422,
        "PRACTITIONER_MISMATCH",
    )
    assert err["details"]["field"] == "items[0].practitioner_id"
    await _refused(
        client,
        factory,
        user,
        session_body(start, end, practitioner_id=2_000_000),
        422,
        "PRACTITIONER_MISMATCH",
    )


async def test_service_not_purchasable(client, factory, new_user):
    user = await new_user()
    now = datetime.now(UTC)
    async with db(factory) as s:
        pid, _ = await make_practitioner(s)
        inactive = await make_service(s, pid, is_active=False)
        not_yet = await make_service(s, pid, available_from=now + timedelta(days=1))
        over = await make_service(s, pid, available_until=now - timedelta(minutes=1))
        window_open = await make_service(
            s, pid, available_from=now - timedelta(days=1), available_until=now + timedelta(days=1)
        )
    for sid in (inactive, not_yet, over):
        start, end = future_slot()
        err = await _refused(
            client,
            factory,
            user,
            session_body(start, end, service_id=sid, practitioner_id=pid),
            422,
            "SERVICE_NOT_PURCHASABLE",
        )
        assert err["details"]["service_id"] == sid
    start, end = future_slot()
    ok = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(start, end, service_id=window_open, practitioner_id=pid),
        headers=user.headers,
    )
    assert ok.status_code == 200, ok.text


async def test_start_in_past_and_within_lead_time(client, factory, new_user):
    user = await new_user()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for start in (now - timedelta(days=1), now + timedelta(minutes=30)):
        body = session_body(start.isoformat(), (start + timedelta(minutes=60)).isoformat())
        err = await _refused(client, factory, user, body, 422, "START_IN_PAST")
        assert err["details"]["field"] == "items[0].start_time"


async def test_invalid_duration(client, factory, new_user):
    user = await new_user()
    start, end = future_slot(minutes=90)
    err = await _refused(client, factory, user, session_body(start, end), 422, "INVALID_DURATION")
    assert err["details"] == {"field": "items[0].end_time", "duration_minutes": 60}
    start, end = future_slot(minutes=-60)  # end before start
    await _refused(client, factory, user, session_body(start, end), 422, "INVALID_DURATION")


async def test_outside_availability(client, factory, new_user):
    user = await new_user()
    start, end = future_slot(hour=19)
    q = await client.post(
        f"{API}/checkout/calculate-price", json=session_body(start, end), headers=user.headers
    )
    assert q.status_code == 200, q.text  # 19:00–20:00 ends exactly when the window closes: allowed
    for hour in (6, 7, 20, 21):  # before 08:00 or after 20:00
        start, end = future_slot(hour=hour)
        err = await _refused(client, factory, user, session_body(start, end), 422, "OUTSIDE_AVAILABILITY")
        assert err["details"]["field"] == "items[0].start_time"
    # straddling the window end (19:30–20:30)
    start, end = future_slot(hour=19)
    s2 = (datetime.fromisoformat(start) + timedelta(minutes=30)).isoformat()
    e2 = (datetime.fromisoformat(end) + timedelta(minutes=30)).isoformat()
    await _refused(client, factory, user, session_body(s2, e2), 422, "OUTSIDE_AVAILABILITY")
    # beyond the booking horizon
    far = (datetime.now(UTC) + timedelta(days=800)).replace(hour=10, minute=0, second=0, microsecond=0)
    await _refused(
        client,
        factory,
        user,
        session_body(far.isoformat(), (far + timedelta(hours=1)).isoformat()),
        422,
        "OUTSIDE_AVAILABILITY",
    )


async def test_slot_unavailable_overlap_and_back_to_back(client, factory, new_user):
    first, second = await new_user(), await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot(hour=10)
    create_ok_body = session_body(start, end, service_id=sid, practitioner_id=pid)
    await create_ok(client, first.headers, create_ok_body)
    # the same slot, and one overlapping it by 30 minutes, are refused for anyone
    err = await _refused(client, factory, second, create_ok_body, 409, "SLOT_UNAVAILABLE", calculate=False)
    assert err["details"] is not None
    s30 = (datetime.fromisoformat(start) + timedelta(minutes=30)).isoformat()
    e30 = (datetime.fromisoformat(end) + timedelta(minutes=30)).isoformat()
    await _refused(
        client,
        factory,
        second,
        session_body(s30, e30, service_id=sid, practitioner_id=pid),
        409,
        "SLOT_UNAVAILABLE",
        calculate=False,
    )
    await _refused(client, factory, first, create_ok_body, 409, "SLOT_UNAVAILABLE", calculate=False)
    # back to back (half-open intervals): 09:00–10:00 and 11:00–12:00 both succeed
    s9 = (datetime.fromisoformat(start) - timedelta(hours=1)).isoformat()
    await create_ok(client, second.headers, session_body(s9, start, service_id=sid, practitioner_id=pid))
    await create_ok(
        client,
        second.headers,
        session_body(
            end,
            (datetime.fromisoformat(end) + timedelta(hours=1)).isoformat(),
            service_id=sid,
            practitioner_id=pid,
        ),
    )
    assert await order_count(factory, second.id) == 2


async def test_two_sessions_in_one_order_must_not_overlap_each_other(client, factory, new_user):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s)
    start, end = future_slot(hour=12)
    item = {"service_id": sid, "practitioner_id": pid, "start_time": start, "end_time": end}
    body = {"checkout_type": "single_session", "items": [item, dict(item)]}
    await _refused(client, factory, user, body, 409, "SLOT_UNAVAILABLE", calculate=False)
    nxt = dict(item, start_time=end, end_time=(datetime.fromisoformat(end) + timedelta(hours=1)).isoformat())
    created = await create_ok(client, user.headers, {"checkout_type": "single_session", "items": [item, nxt]})
    assert figures(created) == (20000, 0, 1750, 0, 21750)


async def test_invalid_child_selection(client, factory, new_user):
    user = await new_user()
    err = await _refused(
        client,
        factory,
        user,
        package_body(child_selections={"123": {"selected": True, "quantity": 1}}),
        422,
        "INVALID_CHILD_SELECTION",
    )
    assert err["details"]["field"] == "items[0].child_selections.123"
    err = await _refused(
        client,
        factory,
        user,
        package_body(child_selections={"101": {"selected": False, "quantity": 1}}),
        422,
        "INVALID_CHILD_SELECTION",
    )
    assert err["details"]["field"] == "items[0].child_selections.101"
    # child selections on a bundle are refused too
    body = bundle_body()
    body["items"][0]["child_selections"] = {"123": {"selected": True, "quantity": 1}}
    await _refused(client, factory, user, body, 422, "INVALID_CHILD_SELECTION")
    # a child quantity outside 1..10 is a schema error naming the field
    resp = await client.post(
        f"{API}/checkout/create",
        json=package_body(child_selections={"102": {"selected": True, "quantity": 11}}),
        headers=user.headers,
    )
    body = assert_error(resp, 422, "VALIDATION_ERROR")
    assert body["details"]["field"] == "items[0].child_selections.102.quantity"


async def test_package_whose_children_are_all_optional_and_deselected(client, factory, new_user):
    user = await new_user()
    async with db(factory) as s:
        pid, child = await make_practitioner(s)
        pkg = await make_service(
            s, pid, type="package", name="Optional only", price_cents=None, duration_minutes=None
        )
        s.add(
            PackageChild(
                package_id=pkg, child_service_id=child, quantity=1, is_required=False, discount_percentage=0
            )
        )
    await _refused(
        client,
        factory,
        user,
        package_body(service_id=pkg, practitioner_id=pid),
        422,
        "INVALID_CHILD_SELECTION",
    )


@pytest.mark.parametrize("quantity", [6, 50])
async def test_quantity_out_of_range(client, factory, new_user, quantity):
    user = await new_user()
    err = await _refused(client, factory, user, bundle_body(quantity=quantity), 422, "QUANTITY_OUT_OF_RANGE")
    assert err["details"] == {"field": "items[0].quantity", "min": 1, "max": 5}


async def test_session_quantity_must_be_one(client, factory, new_user):
    user = await new_user()
    start, end = future_slot()
    body = session_body(start, end)
    body["items"][0]["quantity"] = 2
    await _refused(client, factory, user, body, 422, "QUANTITY_OUT_OF_RANGE")
    body["items"][0]["quantity"] = 0
    resp = await client.post(f"{API}/checkout/create", json=body, headers=user.headers)
    assert assert_error(resp, 422, "VALIDATION_ERROR")["details"]["field"] == "items[0].quantity"


async def test_bundle_quantity_up_to_max_is_priced(client, new_user):
    user = await new_user()
    q = await client.post(
        f"{API}/checkout/calculate-price", json=bundle_body(quantity=5), headers=user.headers
    )
    # 5 × 45000 = 225000; tax 19687.5 → 19688
    assert figures(q.json()) == (225000, 0, 19688, 0, 244688)


async def test_too_many_pending_checkouts(client, factory, new_user, settings):
    user = await new_user()
    assert settings.max_pending_orders == 5
    for _ in range(5):
        await create_ok(client, user.headers, bundle_body())
    err = await _refused(
        client, factory, user, bundle_body(), 409, "TOO_MANY_PENDING_CHECKOUTS", calculate=False
    )
    assert err["details"] == {"max_pending_orders": 5}
    assert await order_count(factory, user.id) == 5
    # another user is not affected by this user's cap
    other = await new_user()
    await create_ok(client, other.headers, bundle_body())


async def test_amount_too_small(client, factory, new_user):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s, price=40)  # 40 + tax 4 (3.5 half up) = 44 < 50
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid)
    err = await _refused(client, factory, user, body, 422, "AMOUNT_TOO_SMALL")
    assert err["details"] == {"total_cents": 44, "minimum_cents": 50, "currency": "usd"}


async def test_amount_too_small_after_coupon(client, factory, new_user):
    user = await new_user()
    async with db(factory) as s:
        pid, sid = await make_practitioner(s, price=1000)
        code = await make_coupon(s, kind="fixed", amount_off={"usd": 960}, percent_off=None)
    start, end = future_slot()
    body = session_body(start, end, service_id=sid, practitioner_id=pid, coupon_code=code)
    await _refused(client, factory, user, body, 422, "AMOUNT_TOO_SMALL")  # 40 + 4 tax = 44


async def test_small_remainder_gives_back_credit(client, factory, new_user):
    """Credits that would leave 0 < total < 50 are reduced so the card is charged exactly 50."""
    user = await new_user(credit=10850)
    start, end = future_slot()
    q = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(start, end, use_credits=True),
        headers=user.headers,
    )
    assert figures(q.json()) == (10000, 0, 875, 10825, 50)
    assert q.json()["credits_available_cents"] == 10850


COUPON_CASES = [
    ("missing", 422, "COUPON_NOT_FOUND"),
    ("expired", 422, "COUPON_EXPIRED"),
    ("not_started", 422, "COUPON_NOT_STARTED"),
    ("inactive", 422, "COUPON_INACTIVE"),
    ("min_subtotal", 422, "COUPON_MIN_SUBTOTAL"),
    ("exhausted", 409, "COUPON_EXHAUSTED"),
    ("wrong_type", 422, "COUPON_NOT_APPLICABLE"),
    ("wrong_service", 422, "COUPON_NOT_APPLICABLE"),
    ("wrong_currency", 422, "COUPON_NOT_APPLICABLE"),
]


@pytest.mark.parametrize(("case", "status", "code"), COUPON_CASES)
async def test_coupon_refusals(client, factory, new_user, case, status, code):
    user = await new_user()
    now = datetime.now(UTC)
    kw = {
        "expired": {"ends_at": now - timedelta(minutes=1)},
        "not_started": {"starts_at": now + timedelta(days=1)},
        "inactive": {"is_active": False},
        "min_subtotal": {"min_subtotal_cents": 10001},
        "exhausted": {"max_redemptions": 3, "redeemed_count": 3},
        "wrong_type": {"allowed_checkout_types": ["bundle", "package"]},
        "wrong_service": {"allowed_service_ids": [101, 102]},
        "wrong_currency": {"kind": "fixed", "percent_off": None, "amount_off": {"eur": 500}},
    }.get(case)
    code_text = "NOSUCHCOUPON-" + case.upper()
    if kw is not None:
        async with db(factory) as s:
            code_text = await make_coupon(s, **kw)
    start, end = future_slot()
    err = await _refused(
        client, factory, user, session_body(start, end, coupon_code=code_text.lower()), status, code
    )
    assert err["details"]["coupon_code"].upper() == code_text.upper()


async def test_coupon_boundaries_accept(client, factory, new_user):
    """The edges of each coupon rule that must still be accepted (min subtotal met exactly, one left,
    a window that is open now, codes are case-insensitive)."""
    user = await new_user()
    now = datetime.now(UTC)
    async with db(factory) as s:
        code = await make_coupon(
            s,
            kind="fixed",
            percent_off=None,
            amount_off={"usd": 2000},
            min_subtotal_cents=10000,
            max_redemptions=3,
            redeemed_count=2,
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(days=1),
            allowed_checkout_types=["single_session"],
            allowed_service_ids=[123],
        )
    start, end = future_slot()
    q = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(start, end, coupon_code=code.lower()),
        headers=user.headers,
    )
    assert q.status_code == 200, q.text
    # 10000 − 2000 = 8000; tax 700
    assert figures(q.json()) == (10000, 2000, 700, 0, 8700)


async def test_coupon_already_used_by_this_user(client, factory, new_user):
    user = await new_user()
    async with db(factory) as s:
        code = await make_coupon(s, percent_off=10, max_per_user=1)
    start, end = future_slot()
    created = await create_ok(client, user.headers, session_body(start, end, coupon_code=code))
    assert figures(created) == (10000, 1000, 788, 0, 9788)  # 9000 × 0.0875 = 787.5 → 788
    start, end = future_slot()
    # a reservation by a pending order counts: the second use is refused (create and calculate)
    await _refused(
        client, factory, user, session_body(start, end, coupon_code=code), 409, "COUPON_ALREADY_USED"
    )
    # another user may still use it
    other = await new_user()
    await create_ok(client, other.headers, session_body(start, end, coupon_code=code))


async def test_naive_times_name_the_field(client, factory, new_user):
    user = await new_user()
    start, end = future_slot()
    for field, value in (("start_time", start[:19]), ("end_time", end[:19])):
        body = session_body(start, end)
        body["items"][0][field] = value
        for route in ("checkout/create", "checkout/calculate-price"):
            resp = await client.post(f"{API}/{route}", json=body, headers=user.headers)
            err = assert_error(resp, 422, "VALIDATION_ERROR")
            assert err["details"]["field"] == f"items[0].{field}"
    assert await order_count(factory, user.id) == 0


async def test_session_without_times(client, factory, new_user):
    user = await new_user()
    body = session_body("x", "y")
    del body["items"][0]["start_time"], body["items"][0]["end_time"]
    err = await _refused(client, factory, user, body, 422, "INVALID_TIMES")
    assert err["details"]["field"] == "items[0].start_time"


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("top", "total_cents", 1),
        ("top", "status", "completed"),
        ("top", "user_id", 1),
        ("top", "credits_applied_cents", 10875),
        ("top", "discount_cents", 10000),
        ("top", "unknown_field", True),
        ("item", "price_cents", 1),
        ("item", "unit_price_cents", 1),
        ("item", "line_total_cents", 0),
    ],
)
async def test_unknown_and_injected_fields_are_refused(client, factory, new_user, where, field, value):
    user = await new_user()
    start, end = future_slot()
    body = session_body(start, end)
    (body if where == "top" else body["items"][0])[field] = value
    for route in ("checkout/create", "checkout/calculate-price"):
        resp = await client.post(f"{API}/{route}", json=body, headers=user.headers)
        err = assert_error(resp, 422, "VALIDATION_ERROR")
        assert err["details"]["field"] == (field if where == "top" else f"items[0].{field}")
    assert await order_count(factory, user.id) == 0
    # the amount is what the catalog says, not what was sent
    clean = session_body(start, end)
    created = await create_ok(client, user.headers, clean)
    assert figures(created) == (10000, 0, 875, 0, 10875) and created["status"] == "pending_payment"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(items=[]), "items"),
        (lambda b: b.update(items=b["items"] * 11), "items"),
        (lambda b: b.update(checkout_type="gift_card"), "checkout_type"),
        (lambda b: b.update(credits_to_apply=-1), "credits_to_apply"),
        (lambda b: b.update(metadata={f"k{i}": "v" for i in range(21)}), "metadata"),
        (lambda b: b.update(metadata={"k": "v" * 501}), "metadata.k"),
        (lambda b: b.update(coupon_code="bad code!"), "coupon_code"),
        (lambda b: b["items"][0].update(service_id=0), "items[0].service_id"),
        (lambda b: b["items"][0].update(service_id="abc"), "items[0].service_id"),
        # JSON types as the schema states them: no "1" or true for an integer, no "yes" or 1 for a
        # boolean, no Unix time for a date-time (pydantic's lax mode took all of these)
        (lambda b: b["items"][0].update(quantity=True), "items[0].quantity"),
        (lambda b: b["items"][0].update(service_id="1"), "items[0].service_id"),
        (lambda b: b.update(credits_to_apply="100"), "credits_to_apply"),
        (lambda b: b.update(use_credits="yes"), "use_credits"),
        (lambda b: b.update(save_payment_method=1), "save_payment_method"),
        (lambda b: b["items"][0].update(start_time=1_900_000_000), "items[0].start_time"),
        (lambda b: b["items"][0].update(start_time="1900000000"), "items[0].start_time"),
        # metadata keys follow the pattern the schema states for every key (propertyNames)
        (lambda b: b.update(metadata={"not a key!": "v"}), "metadata.not a key!"),
    ],
)
async def test_schema_caps(client, factory, new_user, mutate, field):
    user = await new_user()
    start, end = future_slot()
    body = session_body(start, end)
    mutate(body)
    resp = await client.post(f"{API}/checkout/create", json=body, headers=user.headers)
    err = assert_error(resp, 422, "VALIDATION_ERROR")
    assert err["details"]["field"] == field
    assert await order_count(factory, user.id) == 0


async def test_whole_numbers_written_as_floats_are_integers(client, new_user):
    """JSON Schema counts 1.0 as an integer: such a body is accepted like its int twin."""
    user = await new_user()
    start, end = future_slot()
    body = session_body(start, end)
    plain = await client.post(f"{API}/checkout/calculate-price", json=body, headers=user.headers)
    body["items"][0].update(quantity=1.0, service_id=float(body["items"][0]["service_id"]))
    floats = await client.post(f"{API}/checkout/calculate-price", json=body, headers=user.headers)
    assert plain.status_code == floats.status_code == 200, floats.text
    assert floats.json() == plain.json()


async def test_calculate_price_writes_nothing(client, factory, new_user, stripe_emu):
    user = await new_user(credit=2000)
    start, end = future_slot()
    intents_before = len(stripe_emu.state.store.payment_intents)
    q = await client.post(
        f"{API}/checkout/calculate-price",
        json=session_body(start, end, use_credits=True),
        headers=user.headers,
    )
    assert figures(q.json()) == (10000, 0, 875, 2000, 8875)
    assert await order_count(factory, user.id) == 0
    assert len(stripe_emu.state.store.payment_intents) == intents_before
    bal = (await client.get(f"{API}/credits/balance", headers=user.headers)).json()
    assert (bal["balance_cents"], bal["held_cents"]) == (2000, 0)
