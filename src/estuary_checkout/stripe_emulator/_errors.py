"""Stripe-shaped errors raised by the emulator's request handlers."""

from __future__ import annotations

from typing import Any

DOC_BASE = "https://stripe.com/docs/error-codes/"
PUBLISHABLE_FORBIDDEN = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. "
    "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)


class StripeError(Exception):
    """An error rendered as Stripe's ``{"error": {...}}`` body with an HTTP status.

    ``save`` tells the idempotency layer whether the response is stored for replay. Stripe only
    stores results of requests that started executing, so parameter validation errors are not
    saved (a client may fix its parameters and retry with the same key).
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        save: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.save = save
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.decline_code:
            err["decline_code"] = self.decline_code
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        if request_id:
            err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": err}


def invalid(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    save: bool = False,
    extra: dict[str, Any] | None = None,
) -> StripeError:
    """A 400 ``invalid_request_error`` (not saved for idempotent replay by default)."""
    return StripeError(
        status, "invalid_request_error", message, param=param, code=code, save=save, extra=extra
    )


def state_error(message: str, *, param: str | None = None, code: str, extra: dict[str, Any] | None = None):
    """A 400 error about the object's state (the endpoint ran, so it is saved for replay)."""
    return StripeError(400, "invalid_request_error", message, param=param, code=code, save=True, extra=extra)


def missing(label: str, obj_id: str, param: str | None = "id", *, status: int = 404) -> StripeError:
    return StripeError(
        status,
        "invalid_request_error",
        f"No such {label}: '{obj_id}'",
        code="resource_missing",
        param=param,
        save=False,
    )


def unknown_param(name: str) -> StripeError:
    return invalid(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


def missing_param(name: str) -> StripeError:
    return invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")


def auth_error(message: str) -> StripeError:
    # Stripe reports authentication failures with type invalid_request_error and HTTP 401.
    return StripeError(401, "invalid_request_error", message, save=False)


def api_error(message: str = "An unknown error occurred", status: int = 500) -> StripeError:
    return StripeError(status, "api_error", message, save=False)
