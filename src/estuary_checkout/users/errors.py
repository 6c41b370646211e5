from estuary_checkout.errors import NotFound


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "User not found"
