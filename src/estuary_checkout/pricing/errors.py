from estuary_checkout.errors import AppError


class AmountTooSmall(AppError):
    status_code = 422
    code = "AMOUNT_TOO_SMALL"
    message = "The amount to pay is below the smallest charge the payment provider accepts"
