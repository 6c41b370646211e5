from estuary_checkout.errors import AppError


class InsufficientCredit(AppError):
    status_code = 409
    code = "INSUFFICIENT_CREDIT"
    message = "Not enough store credit; the balance changed, price the cart again"
