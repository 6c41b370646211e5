"""Cancel and reschedule a booking: the client's own (SPEC 11.2) and an operator's cancel (11.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from estuary_checkout.bookings import changes
from estuary_checkout.bookings import errors as e
from estuary_checkout.bookings.changes_schemas import (
    AdminCancelRequest,
    CancelRequest,
    CancelResult,
    RescheduleRequest,
)
from estuary_checkout.bookings.schemas import BookingView
from estuary_checkout.catalog import errors as catalog_errors
from estuary_checkout.deps import AdminActor, CurrentUser, DbSession, SettingsDep, State
from estuary_checkout.errors import Forbidden, error_responses
from estuary_checkout.paths import API_PREFIX
from estuary_checkout.payments.errors import PaymentProviderUnavailable
from estuary_checkout.refunds.errors import RefundExceedsRefundable

router = APIRouter(prefix=API_PREFIX, tags=["bookings"])

BookingId = Annotated[int, Path(ge=1, le=2**53)]
CANCEL_ERRORS = (
    e.BookingNotFound,
    e.CancelWindowClosed,
    e.BookingNotCancelable,
    RefundExceedsRefundable,
    PaymentProviderUnavailable,
)


@router.post(
    "/bookings/{booking_id}/cancel", response_model=CancelResult, responses=error_responses(*CANCEL_ERRORS)
)
async def cancel_booking(
    booking_id: BookingId, body: CancelRequest, user: CurrentUser, session: DbSession, state: State
) -> CancelResult:
    """Cancel your booking under its policy; a second call answers the same and moves nothing."""
    return await changes.cancel_for_client(session, state.gateway, user, booking_id, body)


@router.post(
    "/bookings/{booking_id}/reschedule",
    response_model=BookingView,
    responses=error_responses(
        e.BookingNotFound,
        e.BookingNotReschedulable,
        e.RescheduleWindowClosed,
        e.RescheduleLimitReached,
        catalog_errors.InvalidDuration,
        catalog_errors.OutsideAvailability,
        catalog_errors.StartInPast,
        catalog_errors.SlotUnavailable,
    ),
)
async def reschedule_booking(
    booking_id: BookingId,
    body: RescheduleRequest,
    user: CurrentUser,
    session: DbSession,
    settings: SettingsDep,
) -> BookingView:
    """Move your booking to another free slot of the same service and practitioner; the payment stays."""
    return await changes.reschedule_for_client(session, settings, user, booking_id, body)


@router.post(
    "/admin/bookings/{booking_id}/cancel",
    response_model=CancelResult,
    responses=error_responses(*CANCEL_ERRORS, Forbidden),
)
async def admin_cancel_booking(
    booking_id: BookingId, body: AdminCancelRequest, actor: AdminActor, session: DbSession, state: State
) -> CancelResult:
    """The practitioner or the operator cancels: the whole paid share back whatever the window."""
    return await changes.cancel_by_operator(session, state.gateway, actor, booking_id, body)
