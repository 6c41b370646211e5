from estuary_checkout.errors import Conflict, NotFound, Unprocessable


class EndpointNotFound(NotFound):
    code = "WEBHOOK_ENDPOINT_NOT_FOUND"
    message = "No such webhook endpoint"


class DeliveryNotFound(NotFound):
    code = "WEBHOOK_DELIVERY_NOT_FOUND"
    message = "No such webhook delivery"


class UrlNotAllowed(Unprocessable):
    code = "URL_NOT_ALLOWED"
    message = "This URL cannot receive events"


class EndpointDisabled(Conflict):
    code = "ENDPOINT_DISABLED"
    message = "The endpoint is disabled: enable it first"
