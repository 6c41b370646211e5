from estuary_checkout.errors import AppError


class AmountTooSmall(AppError):
    status_code = 422
    code = "AMOUNT_TOO_SMALL"
    message = "The amount to pay is below the smallest charge the payment provider accepts"


class AmountTooLarge(AppError):
    status_code = 422
    code = "AMOUNT_TOO_LARGE"
    message = "The amount to pay is above the largest charge the payment provider accepts"


class CurrencyNotChargeable(AppError):
    status_code = 422
    code = "CURRENCY_NOT_CHARGEABLE"
    message = "The payment provider cannot charge in this currency"
