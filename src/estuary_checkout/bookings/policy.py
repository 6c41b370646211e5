"""The cancellation and reschedule policy (SPEC 11.2): pure rules over a booking's snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from estuary_checkout.bookings.models import Booking
from estuary_checkout.pricing.allocation import split_refund
from estuary_checkout.pricing.service import PERCENT, percent_of


@dataclass(frozen=True)
class Policy:
    full_refund_hours: int
    late_cancel_refund_percent: int
    reschedule_cutoff_hours: int
    max_reschedules: int


def policy_of(booking: Booking) -> Policy:
    """The policy snapshotted on the booking when it was made."""
    return Policy(
        full_refund_hours=booking.policy_full_refund_hours,
        late_cancel_refund_percent=booking.policy_late_cancel_refund_percent,
        reschedule_cutoff_hours=booking.policy_reschedule_cutoff_hours,
        max_reschedules=booking.policy_max_reschedules,
    )


@dataclass(frozen=True)
class CancelTerms:
    """What canceling now would do: the percent of the paid share refunded and whether a
    pass-covered session goes back on the pass; `closed` says why it cannot be canceled."""

    closed: Literal["not_confirmed", "started"] | None
    refund_percent: int
    pass_session_returned: bool


def cancel_terms(
    policy: Policy,
    *,
    status: str,
    start_at: datetime,
    now: datetime,
    covered_by_pass: bool,
    by_operator: bool = False,
) -> CancelTerms:
    """The client's terms; an operator (or the practitioner) cancels with the full share back and
    the pass session returned whatever the window, but not after the start either."""
    if status != "confirmed":
        return CancelTerms("not_confirmed", 0, False)
    if now >= start_at and not by_operator:
        return CancelTerms("started", 0, False)
    if by_operator or start_at - now >= timedelta(hours=policy.full_refund_hours):
        return CancelTerms(None, PERCENT, covered_by_pass)
    return CancelTerms(None, policy.late_cancel_refund_percent, False)


def refund_split(percent: int, *, credit_share: int, card_share: int) -> tuple[int, int]:
    """(credit, card) refunded for `percent` of a booking's paid share: the amount is rounded
    half up, then split back in the proportion credit and card paid it (largest remainder)."""
    amount = percent_of(credit_share + card_share, percent)
    return split_refund(amount, credit_share, card_share)


def reschedule_refusal(
    policy: Policy, *, status: str, start_at: datetime, now: datetime, reschedule_count: int
) -> Literal["not_confirmed", "window_closed", "limit_reached"] | None:
    if status != "confirmed":
        return "not_confirmed"
    if start_at - now < timedelta(hours=policy.reschedule_cutoff_hours):
        return "window_closed"
    if reschedule_count >= policy.max_reschedules:
        return "limit_reached"
    return None
