"""Membership plans (admin) and the public plan list: Stripe Product + recurring Prices."""

from __future__ import annotations

from tests.checkout.helpers import API, assert_error
from tests.memberships.helpers import eligible_services, make_plan, plan_body, sk

PLANS = f"{API}/admin/membership-plans"


async def test_a_plan_is_a_stripe_product_with_a_recurring_price_per_currency(
    client, session, auth, stripe_api_base
):
    _, services = await eligible_services(session)
    await session.commit()
    admin = auth(roles=["admin"])
    plan = await make_plan(
        client,
        admin,
        services,
        prices=[{"currency": "usd", "amount_cents": 30000}, {"currency": "eur", "amount_cents": 28000}],
    )
    assert plan["credits_per_period"] == 4 and plan["rollover_cap"] == 2 and plan["is_active"] is True
    assert [p["currency"] for p in plan["prices"]] == ["eur", "usd"]
    stripe = sk(stripe_api_base)
    product = await stripe.v1.products.retrieve_async(plan["stripe_product_id"])
    assert product.name == "Monthly Flow" and product.metadata["plan_id"] == str(plan["id"])
    for p in plan["prices"]:
        price = await stripe.v1.prices.retrieve_async(p["stripe_price_id"])
        assert (price.currency, price.unit_amount, price.recurring.interval, price.product) == (
            p["currency"],
            p["amount_cents"],
            "month",
            plan["stripe_product_id"],
        )
    listed = (await client.get(PLANS, headers=admin)).json()["data"]
    assert plan["id"] in [p["id"] for p in listed]
    one = await client.get(f"{PLANS}/{plan['id']}", headers=admin)
    assert one.json() == plan
    audit = (
        await client.get(f"{API}/admin/audit", params={"entity": "membership_plan"}, headers=admin)
    ).json()
    assert any(e["entity_id"] == str(plan["id"]) and e["action"] == "create" for e in audit["data"])


async def test_a_new_price_is_a_new_stripe_price_and_the_old_one_is_retired(
    client, session, auth, stripe_api_base
):
    _, services = await eligible_services(session)
    await session.commit()
    admin = auth(roles=["admin"])
    plan = await make_plan(client, admin, services)
    [old] = plan["prices"]
    resp = await client.patch(
        f"{PLANS}/{plan['id']}",
        json={
            "name": "Monthly Flow+",
            "prices": [{"currency": "usd", "amount_cents": 32000}],
            "rollover_cap": 0,
        },
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    [new] = body["prices"]
    assert (body["name"], body["rollover_cap"], new["amount_cents"]) == ("Monthly Flow+", 0, 32000)
    assert new["stripe_price_id"] != old["stripe_price_id"]
    stripe = sk(stripe_api_base)
    assert (await stripe.v1.prices.retrieve_async(old["stripe_price_id"])).active is False
    assert (await stripe.v1.products.retrieve_async(plan["stripe_product_id"])).name == "Monthly Flow+"
    # the same amount again keeps the Price it has
    same = await client.patch(
        f"{PLANS}/{plan['id']}", json={"prices": [{"currency": "usd", "amount_cents": 32000}]}, headers=admin
    )
    assert same.json()["prices"] == body["prices"]


async def test_only_active_plans_are_offered_to_clients(client, session, auth):
    _, services = await eligible_services(session)
    await session.commit()
    admin = auth(roles=["admin"])
    on = await make_plan(client, admin, services, name="On offer")
    off = await make_plan(client, admin, services, name="Retired", is_active=False)
    seen = []
    cursor = None
    while True:
        page = (
            await client.get(
                f"{API}/membership-plans",
                params={"limit": 100} | ({"cursor": cursor} if cursor else {}),
                headers=auth(),
            )
        ).json()
        seen += page["data"]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    ids = {p["id"] for p in seen}
    assert on["id"] in ids and off["id"] not in ids
    mine = next(p for p in seen if p["id"] == on["id"])
    assert "stripe_product_id" not in mine and mine["prices"] == [{"currency": "usd", "amount_cents": 30000}]


async def test_bad_plans_are_refused_naming_the_field_and_nothing_is_written(
    client, session, auth, stripe_api_base
):
    pid, services = await eligible_services(session)
    from estuary_checkout.catalog.models import Service

    bundle = Service(
        type="bundle",
        name="B",
        practitioner_id=pid,
        price_cents=100,
        sessions_included=2,
        bundle_child_service_id=services[0],
    )
    session.add(bundle)
    await session.commit()
    admin = auth(roles=["admin"])
    before = len((await client.get(PLANS, params={"limit": 100}, headers=admin)).json()["data"])
    cases = [
        (plan_body(services, prices=[{"currency": "xyz", "amount_cents": 100}]), "prices[0].currency"),
        (plan_body(services, prices=[{"currency": "usd", "amount_cents": 10}]), "prices[0].amount_cents"),
        (
            plan_body(
                services,
                prices=[{"currency": "usd", "amount_cents": 100}, {"currency": "usd", "amount_cents": 200}],
            ),
            "prices[1].currency",
        ),
        (plan_body([*services, 2_000_000_000]), "eligible_service_ids[2]"),
        (plan_body([bundle.id]), "eligible_service_ids[0]"),
    ]
    for body, field in cases:
        err = assert_error(await client.post(PLANS, json=body, headers=admin), 422, "VALIDATION_ERROR")
        assert err["details"]["field"] == field, err
    for body in (
        plan_body(services, interval="week"),
        plan_body(services, credits_per_period=0),
        plan_body(services, eligible_service_ids=[]),
    ):
        assert_error(await client.post(PLANS, json=body, headers=admin), 422, "VALIDATION_ERROR")
    assert len((await client.get(PLANS, params={"limit": 100}, headers=admin)).json()["data"]) == before
    assert_error(await client.post(PLANS, json=plan_body(services), headers=auth()), 403, "FORBIDDEN")
    assert_error(await client.get(f"{PLANS}/999999999", headers=admin), 404, "PLAN_NOT_FOUND")
    plan = await make_plan(client, admin, services)
    assert_error(
        await client.patch(f"{PLANS}/{plan['id']}", json={"name": None}, headers=admin),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        await client.patch(f"{PLANS}/{plan['id']}", json={"interval": "year"}, headers=admin),
        422,
        "VALIDATION_ERROR",
    )
    assert (await client.get(f"{PLANS}/{plan['id']}", headers=admin)).json() == plan
