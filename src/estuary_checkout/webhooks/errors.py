from estuary_checkout.errors import AppError


class InvalidSignature(AppError):
    status_code = 400
    code = "INVALID_SIGNATURE"
    message = "Webhook signature verification failed"
