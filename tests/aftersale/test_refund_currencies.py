"""Refunds stay in the order's currency (SPEC 14) and are sent in what the currency can be
charged in: a share of a Kuwaiti-dinar order that is not a multiple of 10 fils goes back to the
card rounded down to 10, and the rest as store credit in dinars."""

from __future__ import annotations

import uuid
from datetime import timedelta

import stripe
from tests.aftersale.helpers import quarter_hour, refunds_of, slot_body
from tests.checkout.helpers import create_ok, db, pay_and_confirm

from estuary_checkout.catalog.models import AvailabilityWindow, Practitioner, Service
from estuary_checkout.credits import service as credits_service
from estuary_checkout.orders import repository as orders_repo
from estuary_checkout.refunds import service as refunds_service


async def _dinar_session(factory) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        p = Practitioner(name="Dinar Hours", timezone="UTC")
        s.add(p)
        await s.flush()
        s.add_all(
            AvailabilityWindow(practitioner_id=p.id, weekday=d, start_minute=0, end_minute=1440)
            for d in range(7)
        )
        svc = Service(
            type="session",
            name="Dinar Session",
            practitioner_id=p.id,
            price_cents=35000,
            currency="kwd",
            duration_minutes=60,
        )
        s.add(svc)
        await s.flush()
        return p.id, svc.id


async def test_a_dinar_refund_goes_to_the_card_in_whole_steps_and_the_rest_to_credit(
    client, factory, new_user, app_state, stripe_api_base, settings
):
    pid, sid = await _dinar_session(factory)
    user = await new_user()
    created = await create_ok(
        client, user.headers, slot_body(pid, sid, quarter_hour(timedelta(days=3)), currency="kwd")
    )
    assert (created["currency"], created["total_cents"]) == ("kwd", 38060)
    await pay_and_confirm(client, user.headers, created, stripe_api_base)

    async with db(factory) as s:
        order = await orders_repo.get(s, uuid.UUID(created["order_id"]), for_update=True)
        assert order is not None
        rows = await refunds_service.give_back(
            s,
            app_state.gateway,
            order,
            key=f"test:{uuid.uuid4().hex}",
            from_card=12345,
            from_credit=0,
            card_to_credit=False,
            reason=refunds_service.Reason("service_issue", created_by="admin", note="a share"),
        )
    assert sorted((r.destination, r.amount_cents, r.currency, r.status) for r in rows) == [
        ("card", 12340, "kwd", "succeeded"),
        ("credit", 5, "kwd", "succeeded"),
    ]
    card = next(r for r in await refunds_of(factory, created["order_id"]) if r.destination == "card")
    at_stripe = stripe.StripeClient(settings.stripe_secret_key, base_addresses={"api": stripe_api_base})
    refund = at_stripe.v1.refunds.retrieve(card.stripe_refund_id)
    assert (refund.amount, refund.currency) == (12340, "kwd")
    async with db(factory) as s:
        assert await credits_service.available_cents(s, user.id, "kwd") == 5
        assert await credits_service.available_cents(s, user.id, "usd") == 0  # never another currency
