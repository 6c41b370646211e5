"""The emulator's ASGI application (Starlette).

Layers, outermost first:

1. fault injection for ``/v1`` requests (latency, injected 5xx, dropped connections), done before
   Starlette's own middleware so a dropped connection really closes the socket;
2. control routes under ``/_emulator`` (no API key) and the browser side under ``/v3/`` (the
   Stripe.js subset and its frames, ``_stripejs``), neither subject to fault injection;
3. the Stripe API under ``/v1``: authentication, form parsing, idempotency, dispatch.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ._api import Ctx, StripeAPI
from ._errors import StripeError, api_error, auth_error, invalid
from ._forms import parse_pairs
from ._stripejs import asset_response, challenge_page
from .state import EmulatorState, IdempotencyRecord, build_faults, new_id

NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using "
    "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
    "for details, or we can help at https://support.stripe.com/."
)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Stripe-Version, Stripe-Account",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Expose-Headers": "Request-Id, Idempotency-Key, Idempotent-Replayed, Original-Request",
    "Access-Control-Max-Age": "300",
}
# ``redirect_status`` on the return_url after a 3-D Secure challenge, as Stripe sets it.
REDIRECT_STATUS = {"succeeded": "succeeded", "requires_capture": "succeeded", "processing": "processing"}
# Paths the fault injection never touches: the emulator's control routes and its browser files.
NO_FAULTS = ("/_emulator", "/v3")


def _mask(key: str) -> str:
    if len(key) <= 12:
        return key[:3] + "*" * max(len(key) - 3, 0)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _authenticate(request: Request) -> tuple[str, str]:
    """Return (api_key, "secret"|"publishable") or raise a 401 Stripe error."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise auth_error(NO_KEY_MESSAGE)
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        key = value
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value).decode().split(":", 1)[0]
        except Exception:
            raise auth_error("Invalid Authorization header: malformed Basic credentials.") from None
    else:
        raise auth_error(f"Invalid API Key provided: {_mask(header)}")
    if not key:
        raise auth_error(NO_KEY_MESSAGE)
    if key.startswith(("sk_test_", "rk_test_")) and len(key) > 8:
        return key, "secret"
    if key.startswith("pk_test_") and len(key) > 8:
        return key, "publishable"
    raise auth_error(f"Invalid API Key provided: {_mask(key)}")


def _json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(body, indent=2), status_code=status, headers=headers, media_type="application/json"
    )


class EmulatorApp(Starlette):
    """Starlette app whose ``emulator`` attribute is the :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.emulator = state
        self.api = StripeAPI(state)
        routes = [
            Route("/_emulator/health", self.health, methods=["GET"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
            Route("/_emulator/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route("/_emulator/config", self.config, methods=["GET", "POST"]),
            Route("/_emulator/webhook_endpoints", self.webhook_endpoints, methods=["GET", "POST"]),
            Route("/_emulator/webhook_deliveries", self.webhook_deliveries, methods=["GET"]),
            Route("/_emulator/payment_intents/{pi_id}/three_d_secure", self.three_d_secure, methods=["POST"]),
            Route("/_emulator/three_d_secure/{pi_id}", self.three_d_secure_page, methods=["GET"]),
            Route("/_emulator/refunds/{re_id}/succeed", self.succeed_refund, methods=["POST"]),
            Route("/_emulator/refunds/{re_id}/fail", self.fail_refund, methods=["POST"]),
            Route("/v3", self.stripe_js, methods=["GET"]),
            Route("/v3/{name:path}", self.stripe_js, methods=["GET"]),
            Route(
                "/{path:path}", self.stripe_api, methods=["GET", "POST", "DELETE", "OPTIONS", "PUT", "PATCH"]
            ),
        ]
        super().__init__(routes=routes)
        self.state.emulator = state

    # --- fault injection (outermost layer) ---------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_FAULTS):
            await super().__call__(scope, receive, send)
            return
        decision = self.emulator.pick_fault(scope["method"], scope["path"])
        if decision is None:
            await super().__call__(scope, receive, send)
            return
        latency_ms, action, faults = decision
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        if action is None:
            await super().__call__(scope, receive, send)
            return
        if faults.phase == "after":

            async def swallow(message: Message) -> None:
                return None

            await super().__call__(scope, receive, swallow)
        if action == "error":
            body = {
                "error": {
                    "type": "api_error",
                    "message": f"Injected fault: the emulator returned HTTP {faults.error_status}.",
                }
            }
            response = _json_response(faults.error_status, body, {"Request-Id": new_id("req", 14)})
            await response(scope, receive, send)
            return
        await self._drop_connection(send)

    @staticmethod
    async def _drop_connection(send: Send) -> None:
        """Close the TCP connection without any response (uvicorn's protocol objects expose it)."""
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionAbortedError("Injected fault: connection dropped")
        transport.abort()
        for _ in range(3):  # let the server notice the disconnect before the app returns
            await asyncio.sleep(0)

    # --- control routes ----------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "emulator": "stripe"})

    async def reset(self, request: Request) -> Response:
        self.emulator.reset()
        return JSONResponse({"ok": True})

    async def _json_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    @staticmethod
    def _control_error(message: str, status: int = 400) -> Response:
        return JSONResponse(
            {"error": {"type": "invalid_request_error", "message": message}}, status_code=status
        )

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                faults = build_faults(await self._json_body(request))
            except (ValueError, TypeError) as exc:
                return self._control_error(str(exc))
            with self.emulator.lock:
                self.emulator.faults = faults
        elif request.method == "DELETE":
            with self.emulator.lock:
                self.emulator.faults = build_faults({})
        with self.emulator.lock:
            return JSONResponse(self.emulator.faults.to_dict())

    async def config(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                values = await self._json_body(request)
                return JSONResponse(self.emulator.update_config(values))
            except (ValueError, TypeError) as exc:
                return self._control_error(str(exc))
        with self.emulator.lock:
            return JSONResponse(dict(self.emulator.config))

    async def webhook_endpoints(self, request: Request) -> Response:
        if request.method == "GET":
            with self.emulator.lock:
                return JSONResponse(
                    {"data": [dict(ep) for ep in self.emulator.store.webhook_endpoints.values()]}
                )
        try:
            data = await self._json_body(request)
        except (ValueError, TypeError) as exc:
            return self._control_error(str(exc))
        url = data.get("url")
        if not url or not str(url).startswith(("http://", "https://")):
            return self._control_error("url (http:// or https://) is required")
        secret = data.get("secret")
        if secret is not None and not str(secret):
            return self._control_error("secret must be a non-empty string")
        events = data.get("enabled_events") or ["*"]
        if isinstance(events, str):
            events = [events]
        ep = self.emulator.add_webhook_endpoint(
            str(url),
            secret,
            list(events),
            description=data.get("description"),
            persistent=bool(data.get("persistent")),
        )
        return JSONResponse(ep, status_code=200)

    async def webhook_deliveries(self, request: Request) -> Response:
        event_id = request.query_params.get("event_id")
        with self.emulator.lock:
            items = [d for d in self.emulator.store.deliveries if not event_id or d["event_id"] == event_id]
            return JSONResponse({"data": items, "pending": self.emulator.scheduler.pending()})

    async def three_d_secure(self, request: Request) -> Response:
        pi_id = request.path_params["pi_id"]
        try:
            data = await self._json_body(request)
        except (ValueError, TypeError) as exc:
            return self._control_error(str(exc))
        outcome = data.get("outcome", "complete")
        try:
            pi = self.api.confirmation.complete_three_d_secure(pi_id, str(outcome))
        except StripeError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        if str(data.get("redirect", "")).lower() in ("1", "true"):
            with self.emulator.lock:
                return_url = self.emulator.store.payment_intents[pi_id]["_return_url"]
            if return_url:
                query = urlencode(
                    {
                        "payment_intent": pi_id,
                        "payment_intent_client_secret": pi["client_secret"],
                        "redirect_status": REDIRECT_STATUS.get(pi["status"], "failed"),
                    }
                )
                sep = "&" if "?" in return_url else "?"
                return RedirectResponse(f"{return_url}{sep}{query}", status_code=303)
        return JSONResponse(pi)

    async def three_d_secure_page(self, request: Request) -> Response:
        pi_id = request.path_params["pi_id"]
        with self.emulator.lock:
            pi = self.emulator.store.payment_intents.get(pi_id)
            return challenge_page(dict(pi) if pi is not None else None, pi_id)

    async def stripe_js(self, request: Request) -> Response:
        return asset_response(request, request.path_params.get("name", ""))

    async def succeed_refund(self, request: Request) -> Response:
        try:
            refund = self.api.refunds.succeed_now(request.path_params["re_id"])
        except StripeError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return JSONResponse(refund)

    async def fail_refund(self, request: Request) -> Response:
        try:
            data = await self._json_body(request)
        except (ValueError, TypeError) as exc:
            return self._control_error(str(exc))
        reason = data.get("failure_reason")
        try:
            refund = self.api.refunds.fail_now(request.path_params["re_id"], str(reason) if reason else None)
        except StripeError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return JSONResponse(refund)

    # --- the Stripe API ----------------------------------------------------------------------
    async def stripe_api(self, request: Request) -> Response:
        request_id = new_id("req", 14)
        headers = {"Request-Id": request_id, **CORS_HEADERS}
        stripe_version = request.headers.get("stripe-version")
        headers["Stripe-Version"] = stripe_version or self.emulator.config["api_version"]
        method = request.method.upper()
        if method == "OPTIONS":
            return Response(status_code=204, headers=headers)
        path = request.url.path
        idem_key = request.headers.get("idempotency-key") if method == "POST" else None
        if idem_key:
            headers["Idempotency-Key"] = idem_key
        try:
            api_key, kind = _authenticate(request)
            pairs = parse_qsl(request.url.query, keep_blank_values=True)
            if method == "POST":
                raw_body = (await request.body()).decode("utf-8", "replace")
                pairs += parse_qsl(raw_body, keep_blank_values=True)
            params = parse_pairs(pairs)
        except StripeError as exc:
            return _json_response(exc.status, exc.body(request_id), headers)
        if idem_key and len(idem_key) > 255:
            too_long = invalid(
                "Idempotency-Key must be at most 255 characters long.", param="Idempotency-Key"
            )
            return _json_response(too_long.status, too_long.body(request_id), headers)

        base_url = str(request.base_url).rstrip("/")
        ctx = Ctx(key_kind=kind, request_id=request_id, idempotency_key=idem_key, base_url=base_url)
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        state = self.emulator
        with state.lock:
            if idem_key:
                state.purge_idempotency()
                record = state.store.idempotency.get((api_key, idem_key))
                if record is not None:
                    return self._replay(record, method, path, fingerprint, idem_key, headers, request_id)
            save = True
            try:
                status, body = self.api.handle(method, path, params, ctx)
            except StripeError as exc:
                status, body, save = exc.status, exc.body(request_id), exc.save
                headers.update(exc.headers)
            except Exception as exc:  # never leak a traceback; answer like Stripe's 500
                err = api_error(f"Internal emulator error ({type(exc).__name__}: {exc}).")
                status, body, save = err.status, err.body(request_id), False
            raw = json.dumps(body, indent=2).encode()
            if idem_key and save and status < 500:
                state.store.idempotency[(api_key, idem_key)] = IdempotencyRecord(
                    method=method,
                    path=path,
                    fingerprint=fingerprint,
                    status=status,
                    body=raw,
                    headers={k: v for k, v in headers.items() if k in ("Stripe-Version",)},
                    created=time.time(),
                    request_id=request_id,
                )
        return Response(raw, status_code=status, headers=headers, media_type="application/json")

    @staticmethod
    def _replay(
        record: IdempotencyRecord,
        method: str,
        path: str,
        fingerprint: str,
        idem_key: str,
        headers: dict[str, str],
        request_id: str,
    ) -> Response:
        if record.method != method or record.path != path:
            exc = StripeError(
                400,
                "idempotency_error",
                f"Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{record.method} {record.path}' vs '{method} {path}'). Try using a key other than '{idem_key}' "
                "if you meant to execute a different request.",
            )
            return _json_response(400, exc.body(request_id), headers)
        if record.fingerprint != fingerprint:
            exc = StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                f"Try using a key other than '{idem_key}' if you meant to execute a different request.",
            )
            return _json_response(400, exc.body(request_id), headers)
        out_headers = {
            **headers,
            **record.headers,
            "Idempotent-Replayed": "true",
            "Original-Request": record.request_id,
        }
        return Response(
            record.body, status_code=record.status, headers=out_headers, media_type="application/json"
        )


def create_app(*, state: EmulatorState | None = None) -> EmulatorApp:
    """Build the emulator ASGI app. ``app.emulator`` is its :class:`EmulatorState`."""
    return EmulatorApp(state or EmulatorState())
