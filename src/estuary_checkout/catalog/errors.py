"""Catalog and availability errors (checkout raises them too, for the items it validates)."""

from estuary_checkout.errors import AppError


class ServiceNotFound(AppError):
    status_code = 404
    code = "SERVICE_NOT_FOUND"
    message = "Service not found"


class PractitionerNotFound(AppError):
    status_code = 404
    code = "PRACTITIONER_NOT_FOUND"
    message = "Practitioner not found"


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
