from estuary_checkout.errors import AppError, Conflict, NotFound


class CouponNotFound(AppError):
    status_code = 422
    code = "COUPON_NOT_FOUND"
    message = "This coupon code does not exist"


class CouponInactive(AppError):
    status_code = 422
    code = "COUPON_INACTIVE"
    message = "This coupon is not active"


class CouponNotStarted(AppError):
    status_code = 422
    code = "COUPON_NOT_STARTED"
    message = "This coupon is not valid yet"


class CouponExpired(AppError):
    status_code = 422
    code = "COUPON_EXPIRED"
    message = "This coupon has expired"


class CouponMinimumNotMet(AppError):
    status_code = 422
    code = "COUPON_MIN_SUBTOTAL"
    message = "The cart is below this coupon's minimum"


class CouponNotApplicable(AppError):
    status_code = 422
    code = "COUPON_NOT_APPLICABLE"
    message = "This coupon does not apply to this cart"


class CouponExhausted(AppError):
    status_code = 409
    code = "COUPON_EXHAUSTED"
    message = "This coupon has no redemptions left"


class CouponAlreadyUsed(AppError):
    status_code = 409
    code = "COUPON_ALREADY_USED"
    message = "You have already used this coupon"


class UnknownCoupon(NotFound):
    """An admin route's coupon path: a missing resource (checkout answers 422 COUPON_NOT_FOUND)."""

    code = "COUPON_NOT_FOUND"
    message = "Coupon not found"


class CouponCodeTaken(Conflict):
    code = "COUPON_CODE_TAKEN"
    message = "A coupon with this code already exists"
