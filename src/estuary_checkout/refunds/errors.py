from estuary_checkout.errors import AppError


class RefundExceedsRefundable(AppError):
    status_code = 422
    code = "REFUND_EXCEEDS_REFUNDABLE"
    message = "That is more than is left to refund on this order"


class OrderNotRefundable(AppError):
    status_code = 409
    code = "ORDER_NOT_REFUNDABLE"
    message = "The order has not been paid, so there is nothing to refund"
