from estuary_checkout.errors import AppError, NotFound, Unprocessable


class PlanNotFound(NotFound):
    code = "PLAN_NOT_FOUND"
    message = "No such membership plan"


class PlanInactive(Unprocessable):
    code = "PLAN_INACTIVE"
    message = "This membership plan is not offered any more"


class PlanCurrencyNotOffered(Unprocessable):
    code = "CURRENCY_NOT_OFFERED"
    message = "The plan is not sold in this currency"


class InvalidPlan(Unprocessable):
    code = "INVALID_PLAN"
    message = "The plan's terms are not valid"


class MembershipNotFound(NotFound):
    code = "MEMBERSHIP_NOT_FOUND"
    message = "No such membership"


class MembershipExists(AppError):
    status_code = 409
    code = "MEMBERSHIP_EXISTS"
    message = "You already have a membership on this plan"


class MembershipEnded(AppError):
    status_code = 409
    code = "MEMBERSHIP_ENDED"
    message = "This membership has ended; subscribe again instead"


class PaymentMethodRequired(Unprocessable):
    code = "PAYMENT_METHOD_REQUIRED"
    message = (
        "This plan starts with a free trial: give payment_method_id, a saved card to charge when it ends"
    )
