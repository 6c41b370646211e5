from estuary_checkout.errors import AppError


class PaymentFailed(AppError):
    status_code = 402
    code = "PAYMENT_FAILED"
    message = "The payment was declined"


class PaymentProviderUnavailable(AppError):
    status_code = 503
    code = "PAYMENT_PROVIDER_UNAVAILABLE"
    message = "The payment provider is unavailable; nothing was charged, try again"


class PaymentMethodNotFound(AppError):
    status_code = 404
    code = "PAYMENT_METHOD_NOT_FOUND"
    message = "Payment method not found"


class PaymentProviderRejected(AppError):
    status_code = 422
    code = "PAYMENT_PROVIDER_REJECTED"
    message = "The payment provider rejected the request"


class PaymentMismatch(AppError):
    status_code = 409
    code = "PAYMENT_MISMATCH"
    message = "The payment does not match the order"


class PaymentNotFound(AppError):
    status_code = 404
    code = "PAYMENT_NOT_FOUND"
    message = "Payment not found"


class CustomerMissing(AppError):
    """Our stored Stripe customer no longer exists at Stripe (deleted, or a reset test account)."""

    status_code = 503
    code = "PAYMENT_PROVIDER_UNAVAILABLE"
    message = "The payment provider lost the customer record; retry"
