"""Card refunds as Stripe settles them (SPEC 11.3): a refund that fails after succeeding turns
into store credit once and the client is told; pending ones are followed by webhooks or the
reconciler; events out of order or twice change nothing more; refunds made at Stripe directly
are recorded against what the card paid."""

from __future__ import annotations

from datetime import timedelta

import stripe
from sqlalchemy import select
from tests.aftersale.helpers import CANCEL, around_the_clock, order_row, quarter_hour, refunds_of
from tests.checkout.helpers import credit_state, db
from tests.webhooks.test_webhooks import deliver, stripe_event

from estuary_checkout.credits.models import CreditLedgerEntry
from estuary_checkout.orders import reconciler
from estuary_checkout.workflows.models import Notification


def _sk(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_checkout_tests", base_addresses={"api": url}, http_client=stripe.HTTPXClient()
    )


async def _notices(factory, user_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async with db(factory) as s:
        rows = await s.execute(
            select(Notification.kind, Notification.dedupe_key)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
        return [(k, d) for k, d in rows]


async def test_failed_card_refund_falls_back_to_credit_once(
    client, factory, paid_order, stripe_emu, stripe_api_base
):
    stripe_emu.set_config(refund_failure_delay_ms=600_000)  # failed below, on our signal
    try:
        pid, sid = await around_the_clock(factory)
        paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)), card="pm_card_refundFail")
        r = await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=paid.headers)
        assert r.status_code == 200 and r.json()["refund"]["card_cents"] == 10875, r.text
        (card,) = await refunds_of(factory, paid.order_id)
        assert card.status == "succeeded"
        assert await _notices(factory, paid.user_id) == [("refund_succeeded", f"refund:{card.id}:succeeded")]

        stripe_emu.fail_refund(card.stripe_refund_id)
        failed = await stripe_event(stripe_api_base, "refund.failed", card.stripe_refund_id)
        updated = await stripe_event(stripe_api_base, "refund.updated", card.stripe_refund_id)
        for event in (
            failed,
            updated,
            failed,
            {**updated, "id": updated["id"] + "_again"},
        ):  # twice, both orders
            resp = await deliver(client, event)
            assert resp.status_code == 200, resp.text

        refunds = await refunds_of(factory, paid.order_id)
        assert [(x.destination, x.status, x.amount_cents, x.replaces_refund_id) for x in refunds] == [
            ("card", "failed", 10875, None),
            ("credit", "succeeded", 10875, card.id),
        ]
        assert refunds[0].failure_reason == "expired_or_canceled_card"
        async with db(factory) as s:
            keys = list(
                (
                    await s.execute(
                        select(CreditLedgerEntry.key).where(
                            CreditLedgerEntry.user_id == paid.user_id, CreditLedgerEntry.kind == "refund"
                        )
                    )
                ).scalars()
            )
        assert keys == [f"refund:{card.id}:fallback"]
        state = await credit_state(factory, paid.user_id)
        assert state["balance"] == state["ledger_balance"] == 10875
        order = await order_row(factory, paid.order_id)
        assert (order.status, order.refunded_cents, order.refund_from_card_cents) == (
            "refunded",
            10875,
            10875,
        )
        assert [k for k, _ in await _notices(factory, paid.user_id)] == ["refund_succeeded", "refund_failed"]
        # the cancel's answer is what the cancel did
        again = await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=paid.headers)
        assert again.json() == r.json()
    finally:
        stripe_emu.set_config(refund_failure_delay_ms=200)


async def test_pending_refund_is_settled_by_the_reconciler(
    client, factory, paid_order, stripe_emu, app_state
):
    stripe_emu.set_config(refund_delay_ms=600_000)
    try:
        pid, sid = await around_the_clock(factory)
        paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
        r = await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=paid.headers)
        assert r.status_code == 200, r.text
        (card,) = await refunds_of(factory, paid.order_id)
        assert card.status == "pending"
        order = await order_row(factory, paid.order_id)
        assert (order.status, order.refunded_cents, order.refund_from_card_cents) == ("completed", 0, 10875)

        stripe_emu.succeed_refund(card.stripe_refund_id)  # its event is lost: only the reconciler looks
        counts = await reconciler.refunds_pending(
            app_state.session_factory, app_state.gateway, older_than=timedelta(0)
        )
        assert counts["orders"] >= 1 and counts["errors"] == 0
        (card,) = await refunds_of(factory, paid.order_id)
        assert card.status == "succeeded"
        order = await order_row(factory, paid.order_id)
        assert (order.status, order.refunded_cents) == ("refunded", 10875)
    finally:
        stripe_emu.set_config(refund_delay_ms=0)


async def test_refund_made_at_stripe_is_recorded_against_the_card(
    client, factory, paid_order, stripe_api_base
):
    pid, sid = await around_the_clock(factory)
    paid = await paid_order(pid, sid, quarter_hour(timedelta(days=3)))
    sk = _sk(stripe_api_base)
    made = await sk.v1.refunds.create_async(
        params={"payment_intent": paid.created["payment_intent_id"], "amount": 4000}
    )
    event = await stripe_event(stripe_api_base, "refund.created", made.id)
    assert (await deliver(client, event)).json()["status"] == "processed"
    (row,) = await refunds_of(factory, paid.order_id)
    assert (row.key, row.created_by, row.amount_cents, row.status) == (
        f"stripe:{made.id}",
        "stripe",
        4000,
        "succeeded",
    )
    order = await order_row(factory, paid.order_id)
    assert (order.status, order.refunded_cents, order.refund_from_card_cents) == (
        "partially_refunded",
        4000,
        4000,
    )
    # the client's cancel now gives back only what the card has left
    r = await client.post(CANCEL.format(paid.booking_ids[0]), json={}, headers=paid.headers)
    assert r.json()["refund"]["card_cents"] == 10875 - 4000
