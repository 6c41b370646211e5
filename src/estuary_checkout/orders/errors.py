from estuary_checkout.errors import AppError


class ServiceNotFound(AppError):
    status_code = 404
    code = "SERVICE_NOT_FOUND"
    message = "Service not found"


class CheckoutTypeMismatch(AppError):
    status_code = 422
    code = "CHECKOUT_TYPE_MISMATCH"
    message = "The checkout type does not match the item's service type"


class PractitionerMismatch(AppError):
    status_code = 422
    code = "PRACTITIONER_MISMATCH"
    message = "This practitioner does not offer this service"


class ServiceNotPurchasable(AppError):
    status_code = 422
    code = "SERVICE_NOT_PURCHASABLE"
    message = "This service cannot be bought now"


class CurrencyMismatch(AppError):
    status_code = 422
    code = "CURRENCY_MISMATCH"
    message = "All items of one checkout must be in one currency"


class TimesRequired(AppError):
    status_code = 422
    code = "INVALID_TIMES"
    message = "A session needs start_time and end_time; other items must not have them"


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


class InvalidChildSelection(AppError):
    status_code = 422
    code = "INVALID_CHILD_SELECTION"
    message = "Invalid package child selection"


class QuantityOutOfRange(AppError):
    status_code = 422
    code = "QUANTITY_OUT_OF_RANGE"
    message = "Quantity out of range"


class TooManyPendingCheckouts(AppError):
    status_code = 409
    code = "TOO_MANY_PENDING_CHECKOUTS"
    message = "Too many unpaid checkouts; pay or wait for one to expire"


class OrderNotFound(AppError):
    status_code = 404
    code = "ORDER_NOT_FOUND"
    message = "Order not found"


class PassUnavailable(AppError):
    status_code = 409
    code = "PASS_UNAVAILABLE"
    message = "The pass covering this session has no sessions left"
