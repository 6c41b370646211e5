"""The membership workflow's activities against the real database, run twice where Temporal might."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from estuary_checkout.db.session import session_scope
from estuary_checkout.memberships.models import Membership
from estuary_checkout.state import AppState
from estuary_checkout.workflows.membership_activities import MembershipActivities
from estuary_checkout.workflows.types import MembershipSnapshot

from .conftest import RecordingSender, create_membership, membership_notices

RENEWAL = "membership_renewal_upcoming"
FAILED = "membership_payment_failed"
ENDED = "membership_ended"


def _period_end(days: int = 20) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


@pytest.fixture
def run():  # type: ignore[no-untyped-def]
    return ActivityEnvironment().run


async def _set(app_state: AppState, membership_id: int, **values: object) -> None:
    async for session in session_scope(app_state.session_factory):
        membership = await session.get(Membership, membership_id)
        assert membership is not None
        for name, value in values.items():
            setattr(membership, name, value)


async def test_read_membership_answers_the_row(
    app_state: AppState, membership_activities: MembershipActivities, run
) -> None:
    end = _period_end()
    refs = await create_membership(app_state, period_end=end, latest_invoice_id="in_r1")
    snapshot = await run(membership_activities.read_membership, refs.membership_id)
    assert snapshot == MembershipSnapshot(
        status="active",
        current_period_end=end.isoformat(),
        cancel_at_period_end=False,
        latest_invoice_id="in_r1",
        latest_invoice_status="paid",
    )


async def test_a_missing_membership_is_not_retried(membership_activities: MembershipActivities, run) -> None:
    for activity_fn, args in (
        (membership_activities.read_membership, (987_654_320,)),
        (membership_activities.send_membership_notice, (987_654_320, ENDED, "canceled")),
    ):
        with pytest.raises(ApplicationError) as raised:
            await run(activity_fn, *args)
        assert (raised.value.type, raised.value.non_retryable) == ("MembershipNotFound", True)


async def test_notice_is_written_and_sent_once(
    app_state: AppState, membership_activities: MembershipActivities, sender: RecordingSender, run
) -> None:
    end = _period_end()
    refs = await create_membership(app_state, period_end=end, latest_invoice_id="in_n1")
    key = refs.key(RENEWAL, end.isoformat())

    assert (
        await run(membership_activities.send_membership_notice, refs.membership_id, RENEWAL, end.isoformat())
        == "sent"
    )
    assert (
        await run(membership_activities.send_membership_notice, refs.membership_id, RENEWAL, end.isoformat())
        == "duplicate"
    )

    rows = await membership_notices(app_state, refs)
    assert list(rows) == [key]
    row = rows[key]
    assert (row.kind, row.user_id, row.booking_id, row.channel) == (RENEWAL, refs.user_id, None, "test")
    assert row.sent_at is not None
    assert row.payload["membership_id"] == refs.membership_id
    assert row.payload["period_end"] == end.isoformat()
    assert (row.payload["invoice_id"], row.payload["amount_cents"], row.payload["currency"]) == (
        "in_n1",
        3000,
        "usd",
    )
    assert sender.count(key) == 1


async def test_notice_the_row_no_longer_supports_is_skipped(
    app_state: AppState, membership_activities: MembershipActivities, run
) -> None:
    """Between the workflow's read and the send a webhook may change the row: no renewal notice
    for a membership set to cancel, none for a past invoice, no "ended" for a live one."""
    end = _period_end()
    refs = await create_membership(app_state, period_end=end, latest_invoice_id="in_s1")
    send = membership_activities.send_membership_notice

    await _set(app_state, refs.membership_id, cancel_at_period_end=True)
    assert await run(send, refs.membership_id, RENEWAL, end.isoformat()) == "skipped"
    await _set(app_state, refs.membership_id, cancel_at_period_end=False)
    assert await run(send, refs.membership_id, RENEWAL, (end - timedelta(days=30)).isoformat()) == "skipped"
    assert await run(send, refs.membership_id, FAILED, "in_s1") == "skipped"  # active: nothing failed
    assert await run(send, refs.membership_id, ENDED, "canceled") == "skipped"

    await _set(app_state, refs.membership_id, status="past_due", latest_invoice_id="in_s2")
    assert await run(send, refs.membership_id, FAILED, "in_s1") == "skipped"
    assert await run(send, refs.membership_id, FAILED, "in_s2") == "sent"
    assert set(await membership_notices(app_state, refs)) == {refs.key(FAILED, "in_s2")}


async def test_failed_send_stores_nothing_and_the_retry_sends(app_state: AppState, run) -> None:
    class FlakySender:
        channel = "flaky"

        def __init__(self) -> None:
            self.calls = 0

        async def send(self, notification) -> None:  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("mail server down")

    flaky = FlakySender()
    acts = MembershipActivities(app_state.session_factory, app_state.gateway, flaky)
    refs = await create_membership(
        app_state, period_end=_period_end(), status="past_due", latest_invoice_id="in_f1"
    )
    with pytest.raises(ConnectionError):
        await run(acts.send_membership_notice, refs.membership_id, FAILED, "in_f1")
    assert await membership_notices(app_state, refs) == {}
    assert await run(acts.send_membership_notice, refs.membership_id, FAILED, "in_f1") == "sent"
    assert await run(acts.send_membership_notice, refs.membership_id, FAILED, "in_f1") == "duplicate"
    assert flaky.calls == 2


async def test_unknown_kind_is_refused(
    app_state: AppState, membership_activities: MembershipActivities, run
) -> None:
    refs = await create_membership(app_state, period_end=_period_end())
    with pytest.raises(ApplicationError) as raised:
        await run(membership_activities.send_membership_notice, refs.membership_id, "reminder", "x")
    assert raised.value.non_retryable
    assert await membership_notices(app_state, refs) == {}
