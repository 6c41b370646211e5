"""Stripe's asynchronous refund test cards, the refund test helpers, and refund events and replays.

The asynchronous-failure card (4000000000005126, pm_card_refundFail): a refund begins `succeeded`
and later becomes `failed`. The asynchronous-success card (4000000000007726,
pm_card_pendingRefund): a refund begins `pending` and later becomes `succeeded`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import stripe

from estuary_checkout.stripe_emulator.state import DEFAULT_CONFIG
from estuary_checkout.stripe_emulator.testing import EmulatorServer

from .conftest import SECRET_KEY, WebhookReceiver, wait_until

REFUND_EVENT_TYPES = {
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refunded",
    "charge.refund.updated",
}
NEVER = 60_000  # ms: a scheduled transition that will not happen during a test


def pay(client: stripe.StripeClient, payment_method: str = "pm_card_refundFail", amount: int = 5000) -> Any:
    pi = client.v1.payment_intents.create(
        params={"amount": amount, "currency": "usd", "payment_method": payment_method, "confirm": True}
    )
    assert pi.status == "succeeded"
    return pi


def card_pm(client: stripe.StripeClient, number: str) -> str:
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    return pm.id


def refund_events(client: stripe.StripeClient) -> list[tuple[str, str]]:
    """(type, status of data.object) of the refund-related events, oldest first."""
    events = client.v1.events.list(params={"limit": 100}).data
    return [(e.type, e.data.object.status) for e in reversed(events) if e.type in REFUND_EVENT_TYPES]


def events_of(client: stripe.StripeClient, type_: str) -> list[Any]:
    return list(client.v1.events.list(params={"type": type_, "limit": 100}).data)


def raw(obj: Any) -> dict[str, Any]:
    return json.loads(obj.last_response.body)  # type: ignore[no-any-return]


# --- the asynchronous-failure card ----------------------------------------------------------------


def test_refund_fail_card_succeeds_then_fails_on_its_own(
    client: stripe.StripeClient, emulator: EmulatorServer, receiver: WebhookReceiver
) -> None:
    secret = "whsec_refund_fail"
    emulator.register_webhook(receiver.url, secret)
    emulator.set_config(refund_failure_delay_ms=50)
    pi = pay(client)
    re = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 3000})
    assert re.status == "succeeded" and re.failure_reason is None and re.failure_balance_transaction is None
    assert re.balance_transaction.startswith("txn_")
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 3000

    failed = wait_until(lambda: (r := client.v1.refunds.retrieve(re.id)).status == "failed" and r)
    assert failed.failure_reason == "expired_or_canceled_card"
    assert failed.failure_balance_transaction.startswith("txn_")
    assert failed.balance_transaction == re.balance_transaction
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 0 and charge.refunded is False
    assert [(r.id, r.status) for r in charge.refunds.data] == [(re.id, "failed")]

    assert refund_events(client) == [
        ("refund.created", "succeeded"),
        ("charge.refunded", "succeeded"),  # the charge's status
        ("refund.updated", "failed"),
        ("charge.refund.updated", "failed"),
        ("refund.failed", "failed"),
    ]
    updated = events_of(client, "refund.updated")[0]
    assert updated.data.previous_attributes.status == "succeeded"
    assert updated.data.previous_attributes.failure_reason is None
    assert updated.data.previous_attributes.failure_balance_transaction is None
    assert updated.request.id is None and updated.request.idempotency_key is None
    charge_updated = events_of(client, "charge.refund.updated")[0]
    assert charge_updated.data.object.object == "refund"
    assert charge_updated.data.previous_attributes.to_dict() == updated.data.previous_attributes.to_dict()
    refund_failed = events_of(client, "refund.failed")[0]
    assert refund_failed.data.object.id == re.id and refund_failed.data.object.failure_reason

    # and the endpoint receives refund.failed, signed
    got = receiver.wait_for("refund.failed")
    req = next(r for r in receiver.requests if '"refund.failed"' in r["body"])
    event = stripe.Webhook.construct_event(req["body"], req["headers"]["Stripe-Signature"], secret)
    assert event.id == got[0]["id"] and event.data.object.status == "failed"


def test_refund_fail_card_by_number(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_config(refund_failure_delay_ms=0)
    pi = pay(client, card_pm(client, "4000 0000 0000 5126"))
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert re.status == "succeeded" and re.amount == 5000
    wait_until(lambda: client.v1.refunds.retrieve(re.id).status == "failed")
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 0


def test_other_cards_refunds_never_fail(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_config(refund_failure_delay_ms=0)
    pi = pay(client, "pm_card_visa")
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    time.sleep(0.2)
    assert client.v1.refunds.retrieve(re.id).status == "succeeded"
    assert [t for t, _ in refund_events(client)] == ["refund.created", "charge.refunded"]


def test_fail_helper_is_deterministic_and_the_schedule_does_not_fail_twice(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_failure_delay_ms=150)
    pi = pay(client)
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    failed = emulator.fail_refund(re.id, failure_reason="lost_or_stolen_card")
    assert failed["status"] == "failed" and failed["failure_reason"] == "lost_or_stolen_card"
    time.sleep(0.35)  # past the scheduled failure, which must now do nothing
    assert client.v1.refunds.retrieve(re.id).failure_reason == "lost_or_stolen_card"
    assert len(events_of(client, "refund.failed")) == 1
    assert len(events_of(client, "refund.updated")) == 1
    with pytest.raises(RuntimeError, match=r"\(400\).*status of failed"):
        emulator.fail_refund(re.id)


def test_fail_helper_works_on_any_card_and_checks_its_input(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    pi = pay(client, "pm_card_visa")
    re = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    with pytest.raises(RuntimeError, match=r"\(400\).*failure_reason"):
        emulator.fail_refund(re.id, failure_reason="bored")
    with pytest.raises(RuntimeError, match=r"\(404\).*No such refund"):
        emulator.fail_refund("re_missing")
    with pytest.raises(RuntimeError, match=r"\(400\).*status of succeeded"):
        emulator.succeed_refund(re.id)
    assert emulator.fail_refund(re.id)["failure_reason"] == "expired_or_canceled_card"
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 0
    # the control route takes form bodies too
    pi2 = pay(client, "pm_card_visa")
    re2 = client.v1.refunds.create(params={"payment_intent": pi2.id})
    resp = httpx.post(f"{emulator.url}/_emulator/refunds/{re2.id}/fail", data={"failure_reason": "declined"})
    assert resp.status_code == 200 and resp.json()["failure_reason"] == "declined"


def test_failed_refund_amount_can_be_refunded_again(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_failure_delay_ms=NEVER)
    pi = pay(client)
    first = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 3000})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2001})
    assert exc.value.code == "amount_too_large"
    emulator.fail_refund(first.id)
    second = client.v1.refunds.create(params={"payment_intent": pi.id})  # the whole charge again
    assert second.amount == 5000 and second.status == "succeeded"
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 5000 and charge.refunded is True
    assert [(r.id, r.status) for r in charge.refunds.data] == [(second.id, "succeeded"), (first.id, "failed")]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert exc.value.code == "charge_already_refunded"
    emulator.fail_refund(second.id)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 0 and charge.refunded is False


def test_fail_card_with_refund_delay_goes_pending_succeeded_failed(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_delay_ms=40, refund_failure_delay_ms=40)
    pi = pay(client)
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert re.status == "pending" and re.balance_transaction is None
    wait_until(lambda: client.v1.refunds.retrieve(re.id).status == "failed")
    assert [t for t in refund_events(client) if t[0].startswith("refund.")] == [
        ("refund.created", "pending"),
        ("refund.updated", "succeeded"),
        ("refund.updated", "failed"),
        ("refund.failed", "failed"),
    ]


def test_failing_a_pending_refund(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_config(refund_delay_ms=NEVER)
    pi = pay(client, "pm_card_visa")
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    failed = emulator.fail_refund(re.id)
    # nothing left the balance, so there is nothing to give back
    assert failed["status"] == "failed" and failed["failure_balance_transaction"] is None
    assert failed["pending_reason"] is None
    assert events_of(client, "refund.updated")[0].data.previous_attributes.status == "pending"
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 0


# --- the asynchronous-success card ----------------------------------------------------------------


@pytest.mark.parametrize("card", ["pm_card_pendingRefund", "4000000000007726"])
def test_pending_card_refund_begins_pending_then_succeeds(
    client: stripe.StripeClient, emulator: EmulatorServer, card: str
) -> None:
    emulator.set_config(refund_pending_card_delay_ms=40)
    pi = pay(client, card if card.startswith("pm_") else card_pm(client, card))
    re = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2000})
    assert re.status == "pending" and re.pending_reason == "processing" and re.balance_transaction is None
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 2000  # counted while pending
    done = wait_until(lambda: (r := client.v1.refunds.retrieve(re.id)).status == "succeeded" and r)
    assert done.balance_transaction.startswith("txn_") and done.pending_reason is None
    assert refund_events(client) == [
        ("refund.created", "pending"),
        ("charge.refunded", "succeeded"),
        ("refund.updated", "succeeded"),
        ("charge.refund.updated", "succeeded"),
    ]
    previous = events_of(client, "refund.updated")[0].data.previous_attributes
    assert previous.status == "pending" and previous.balance_transaction is None
    time.sleep(0.1)
    assert client.v1.refunds.retrieve(re.id).status == "succeeded"  # and stays so


def test_pending_card_is_pending_even_without_refund_delay(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_pending_card_delay_ms=0, refund_delay_ms=0)
    pi = pay(client, "pm_card_pendingRefund")
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert re.status == "pending"
    wait_until(lambda: client.v1.refunds.retrieve(re.id).status == "succeeded")


def test_succeed_helper_settles_a_pending_refund_now(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_pending_card_delay_ms=NEVER)
    pi = pay(client, "pm_card_pendingRefund")
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert client.v1.refunds.retrieve(re.id).status == "pending"
    settled = emulator.succeed_refund(re.id)
    assert settled["status"] == "succeeded" and settled["balance_transaction"].startswith("txn_")
    assert client.v1.refunds.retrieve(re.id).status == "succeeded"
    assert len(events_of(client, "refund.updated")) == 1


# --- replays, lists, metadata, events ---------------------------------------------------------------


def test_idempotent_refund_replays_and_schedules_one_failure(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_failure_delay_ms=80)
    pi = pay(client)
    params: Any = {"payment_intent": pi.id, "amount": 1200, "metadata": {"order": "o-1"}}
    first = client.v1.refunds.create(params=params, options={"idempotency_key": "refund-o-1"})
    again = client.v1.refunds.create(params=params, options={"idempotency_key": "refund-o-1"})
    assert again.id == first.id and again.last_response.headers["Idempotent-Replayed"] == "true"
    assert raw(again) == raw(first)
    wait_until(lambda: client.v1.refunds.retrieve(first.id).status == "failed")
    time.sleep(0.25)  # a second scheduled failure, if any, would have run by now
    # after the failure, a replay still answers the original response, and creates nothing
    late = client.v1.refunds.create(params=params, options={"idempotency_key": "refund-o-1"})
    assert late.id == first.id and late.status == "succeeded"
    assert [r.id for r in client.v1.refunds.list(params={"payment_intent": pi.id}).data] == [first.id]
    assert len(events_of(client, "refund.created")) == 1
    assert len(events_of(client, "refund.failed")) == 1
    assert len(events_of(client, "charge.refund.updated")) == 1
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 0
    created = events_of(client, "refund.created")[0]
    assert created.request.idempotency_key == "refund-o-1"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.refunds.create(
            params={"payment_intent": pi.id, "amount": 1300}, options={"idempotency_key": "refund-o-1"}
        )


def test_list_and_retrieve_show_the_current_status_and_metadata_survives(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_config(refund_failure_delay_ms=NEVER)
    pi = pay(client)
    other = pay(client, "pm_card_visa")
    re = client.v1.refunds.create(
        params={"payment_intent": pi.id, "amount": 1000, "metadata": {"refund_row": "r-7"}}
    )
    client.v1.refunds.create(params={"payment_intent": other.id, "amount": 1000})
    emulator.fail_refund(re.id)
    listed = client.v1.refunds.list(params={"payment_intent": pi.id}).data
    assert [(r.id, r.status, r.failure_reason) for r in listed] == [
        (re.id, "failed", "expired_or_canceled_card")
    ]
    assert listed[0].metadata.to_dict() == {"refund_row": "r-7"}
    by_charge = client.v1.refunds.list(params={"charge": pi.latest_charge}).data
    assert [(r.id, r.status) for r in by_charge] == [(re.id, "failed")]
    nested = httpx.get(f"{emulator.url}/v1/charges/{pi.latest_charge}/refunds", auth=(SECRET_KEY, "")).json()
    assert [(r["id"], r["status"]) for r in nested["data"]] == [(re.id, "failed")]
    updated = client.v1.refunds.update(re.id, params={"metadata": {"note": "fell back to credit"}})
    assert updated.status == "failed"
    assert updated.metadata.to_dict() == {"refund_row": "r-7", "note": "fell back to credit"}


def test_charge_refunded_event_carries_previous_attributes(client: stripe.StripeClient) -> None:
    pi = pay(client, "pm_card_visa")
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2000})
    client.v1.refunds.create(params={"payment_intent": pi.id})
    second, first = events_of(client, "charge.refunded")
    assert first.data.previous_attributes.to_dict() == {"amount_refunded": 0}
    assert second.data.previous_attributes.to_dict() == {"amount_refunded": 2000, "refunded": False}
    assert second.data.object.amount_refunded == 5000 and second.data.object.refunded is True


def test_refund_after_partial_capture_can_refund_all_that_was_captured(
    client: stripe.StripeClient,
) -> None:
    held = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": True,
        }
    )
    pi = client.v1.payment_intents.capture(held.id, params={"amount_to_capture": 3000})
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_captured == 3000 and charge.amount_refunded == 2000  # the released part
    re = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert re.amount == 3000
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 5000 and charge.refunded is True


def test_refund_config_keys(emulator: EmulatorServer) -> None:
    config = emulator.get_config()
    assert config["refund_failure_delay_ms"] == DEFAULT_CONFIG["refund_failure_delay_ms"] == 200
    assert config["refund_pending_card_delay_ms"] == DEFAULT_CONFIG["refund_pending_card_delay_ms"] == 200
    assert emulator.set_config(refund_failure_delay_ms=5)["refund_failure_delay_ms"] == 5
    with pytest.raises(RuntimeError, match="must be >= 0"):
        emulator.set_config(refund_failure_delay_ms=-1)
    assert EmulatorServer(refund_failure_delay_ms=7).state.config["refund_failure_delay_ms"] == 7
