from estuary_checkout.catalog.errors import (  # noqa: F401 - checkout raises these for its items too
    InvalidDuration,
    OutsideAvailability,
    PractitionerMismatch,
    ServiceNotFound,
    ServiceNotPurchasable,
    SlotUnavailable,
    StartInPast,
)
from estuary_checkout.errors import AppError


class CheckoutTypeMismatch(AppError):
    status_code = 422
    code = "CHECKOUT_TYPE_MISMATCH"
    message = "The checkout type does not match the item's service type"


class CurrencyNotOffered(AppError):
    status_code = 422
    code = "CURRENCY_NOT_OFFERED"
    message = "Not sold in this currency"


class CurrencyMismatch(AppError):
    status_code = 422
    code = "CURRENCY_MISMATCH"
    message = "All items of one checkout must be in one currency"


class TimesRequired(AppError):
    status_code = 422
    code = "INVALID_TIMES"
    message = "A session needs start_time and end_time; other items must not have them"


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
