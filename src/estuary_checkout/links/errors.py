from estuary_checkout.errors import AppError, Forbidden, NotFound, Unprocessable


class LinkNotFound(NotFound):
    code = "LINK_NOT_FOUND"
    message = "No such payment link"


class LinkUnavailable(AppError):
    """Inactive, expired or used up: the link's own `inactive_message` is the error text."""

    status_code = 410
    code = "LINK_UNAVAILABLE"
    message = "This link is no longer available"


class LinkRestricted(Forbidden):
    code = "LINK_RESTRICTED"
    message = "This link is reserved for another customer"


class LinkLimitReached(AppError):
    status_code = 409
    code = "LINK_LIMIT_REACHED"
    message = "You have already used this link as often as it allows"


class CouponCodesNotAllowed(Unprocessable):
    code = "COUPON_CODES_NOT_ALLOWED"
    message = "This link does not take coupon codes"


class CurrencyNotOffered(Unprocessable):
    code = "CURRENCY_NOT_OFFERED"
    message = "The service is not sold in this currency"


class RedirectNotAllowed(Unprocessable):
    code = "REDIRECT_NOT_ALLOWED"
    message = "after_completion.url must be https (or http on localhost in development)"
