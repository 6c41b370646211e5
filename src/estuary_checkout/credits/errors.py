from estuary_checkout.errors import AppError


class InsufficientCredit(AppError):
    status_code = 409
    code = "INSUFFICIENT_CREDIT"
    message = "Not enough store credit; the balance changed, price the cart again"


class CreditCurrencyNotSupported(AppError):
    status_code = 422
    code = "CURRENCY_NOT_SUPPORTED"
    message = "Store credit is kept in the service currency only"
