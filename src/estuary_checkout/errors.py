"""One error type for the whole service, rendered as {"error", "details", "code"}."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

log = structlog.get_logger(__name__)


class ErrorEnvelope(BaseModel):
    error: str
    details: dict[str, Any] | None = None
    code: str


class AppError(Exception):
    status_code: int = 400
    code: str = "BAD_REQUEST"
    message: str = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers
        super().__init__(self.message)


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"
    message = "Not found"


class Unauthorized(AppError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "Missing or invalid credentials"


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"
    message = "Not allowed"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"
    message = "Conflict"


class Unprocessable(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"
    message = "Invalid request"


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMITED"
    message = "Too many requests"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    message = "Service unavailable"


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def envelope(message: str, code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": message, "details": details, "code": code}


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: every status it can answer with, in the envelope schema."""
    out: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorEnvelope, "description": "UNAUTHORIZED"},
        422: {"model": ErrorEnvelope, "description": "VALIDATION_ERROR"},
    }
    for err in errors:
        entry = out.setdefault(err.status_code, {"model": ErrorEnvelope, "description": ""})
        codes = [c for c in entry["description"].split(", ") if c]
        if err.code not in codes:
            codes.append(err.code)
        entry["description"] = ", ".join(codes)
    return out


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A validation error's location as a path: `items[0].start_time` (a bad dict key names the key)."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "[key]")]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or (str(loc[0]) if loc else "")


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(
        envelope(exc.message, exc.code, exc.details), status_code=exc.status_code, headers=exc.headers
    )


def _validation_response(errors: list[dict[str, Any]]) -> JSONResponse:
    first = errors[0] if errors else {"field": "", "message": "invalid"}
    details = {"field": first["field"], "errors": errors}
    message = (
        f"Invalid request: {first['field']}: {first['message']}" if first["field"] else "Invalid request"
    )
    return JSONResponse(envelope(message, "VALIDATION_ERROR", details), status_code=422)


def _error_entry(e: Any) -> dict[str, Any]:
    if e.get("type") == "json_invalid":
        # FastAPI's loc is ("body", <character offset>): the field is the body itself
        loc = e.get("loc", ())
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (e.get("ctx") or {}).get("error") or e.get("msg", "")
        return {"field": "body", "message": f"not valid JSON: {reason}{at}", "type": "json_invalid"}
    return {"field": field_path(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_response([_error_entry(e) for e in exc.errors()])


def _undecodable_body(exc: StarletteHTTPException) -> str | None:
    """Why FastAPI could not read a JSON body, when the 400 is that.

    Text that is not JSON is a validation error (json_invalid) already; bytes that are not UTF-8/16/32
    text, or JSON nested past the parser's recursion limit, surface as HTTPException(400) raised
    from the decoding error. Either way the body is not JSON: the same 422 as any bad input.
    """
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return "not valid JSON: not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "not valid JSON: nested too deeply"
    if isinstance(cause, ValueError):
        return f"not valid JSON: {cause}"
    return None


def _allowed_methods(request: Request) -> str | None:
    """Every method the path answers to (RFC 9110: `Allow` lists all of them): each method of a
    path is a route of its own, and a 405 raised by one route names only its own methods."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route_methods
    return ", ".join(sorted(methods)) or None


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body_problem = _undecodable_body(exc)
    if body_problem is not None:
        return _validation_response([{"field": "body", "message": body_problem, "type": "json_invalid"}])
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = allowed
    return JSONResponse(envelope(message, code), status_code=exc.status_code, headers=headers or None)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # the id the middleware put on this request (and on the response's X-Request-Id header)
    request_id = structlog.contextvars.get_contextvars().get("request_id") or uuid.uuid4().hex
    log.exception("unhandled_error", request_id=request_id, path=request.url.path)
    return JSONResponse(
        envelope("Internal server error", "INTERNAL_ERROR", {"request_id": request_id}), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unhandled)


async def not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The root router's answer for paths outside the mounted app: the same envelope 404."""
    if scope["type"] == "websocket":  # nothing is served over websockets
        await send({"type": "websocket.close", "code": 1000})
        return
    await JSONResponse(envelope("Not Found", _HTTP_CODES[404]), status_code=404)(scope, receive, send)
