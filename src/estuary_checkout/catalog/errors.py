"""Catalog and availability errors (checkout raises them too, for the items it validates)."""

from estuary_checkout.errors import AppError, Conflict, NotFound


class ServiceNotFound(NotFound):
    code = "SERVICE_NOT_FOUND"
    message = "Service not found"


class PractitionerNotFound(NotFound):
    code = "PRACTITIONER_NOT_FOUND"
    message = "Practitioner not found"


class TimeOffNotFound(NotFound):
    code = "TIME_OFF_NOT_FOUND"
    message = "Time off not found"


class ExternalIdTaken(Conflict):
    code = "EXTERNAL_ID_TAKEN"
    message = "Another row of this kind already has this external_id"


class PractitionerMismatch(AppError):
    status_code = 422
    code = "PRACTITIONER_MISMATCH"
    message = "This practitioner does not offer this service"


class ServiceNotPurchasable(AppError):
    status_code = 422
    code = "SERVICE_NOT_PURCHASABLE"
    message = "This service cannot be bought now"


class NotASession(AppError):
    status_code = 422
    code = "NOT_A_SESSION"
    message = "Only session services have times to book"


class RangeTooLarge(AppError):
    status_code = 422
    code = "RANGE_TOO_LARGE"
    message = "The time range is too large"


class InvalidRange(AppError):
    status_code = 422
    code = "INVALID_RANGE"
    message = "`to` must be after `from`"


class StartInPast(AppError):
    status_code = 422
    code = "START_IN_PAST"
    message = "The session must start in the future, after the minimum lead time"


class InvalidDuration(AppError):
    status_code = 422
    code = "INVALID_DURATION"
    message = "end_time − start_time must equal the service's duration"


class OutsideAvailability(AppError):
    status_code = 422
    code = "OUTSIDE_AVAILABILITY"
    message = "The practitioner is not available at that time"


class SlotUnavailable(AppError):
    status_code = 409
    code = "SLOT_UNAVAILABLE"
    message = "That time slot is no longer available"
