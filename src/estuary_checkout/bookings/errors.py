from estuary_checkout.errors import AppError, NotFound


class BookingNotFound(NotFound):
    code = "BOOKING_NOT_FOUND"
    message = "Booking not found"


class CancelWindowClosed(AppError):
    status_code = 409
    code = "CANCEL_WINDOW_CLOSED"
    message = "The session has started or is over: it can no longer be canceled"


class BookingNotCancelable(AppError):
    status_code = 409
    code = "BOOKING_NOT_CANCELABLE"
    message = "Only a paid, confirmed booking can be canceled (an unpaid one simply expires)"


class RescheduleWindowClosed(AppError):
    status_code = 409
    code = "RESCHEDULE_WINDOW_CLOSED"
    message = "The session is too close to move"


class RescheduleLimitReached(AppError):
    status_code = 409
    code = "RESCHEDULE_LIMIT_REACHED"
    message = "This booking has been moved as often as its policy allows"


class BookingNotReschedulable(AppError):
    status_code = 409
    code = "BOOKING_NOT_RESCHEDULABLE"
    message = "Only a paid, confirmed booking can be moved"
