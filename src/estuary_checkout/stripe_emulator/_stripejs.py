"""The browser side: a Stripe.js-compatible subset served at ``/v3/``, and the 3-D Secure test page.

``GET /v3/`` is the script a page loads in place of ``https://js.stripe.com/v3/``; the Payment
Element it mounts is an iframe (``/v3/elements-frame.html``) on the emulator's origin, so card
numbers are typed into and sent from the emulator's origin, never the host page's, as with real
Stripe. The files live in ``static/`` (package data); what the subset covers is in
``docs/stripe-js-subset.md``.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ._money import format_amount

JS = "application/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
HTML = "text/html; charset=utf-8"

# URL name under /v3/ -> (file in static/, content type). An allowlist: nothing else is served.
ASSETS: dict[str, tuple[str, str]] = {
    "": ("stripe-v3.js", JS),
    "elements-frame.html": ("elements-frame.html", HTML),
    "elements-frame.js": ("elements-frame.js", JS),
    "elements-frame.css": ("elements-frame.css", CSS),
    "three-d-secure.js": ("three-d-secure.js", JS),
    "three-d-secure.css": ("three-d-secure.css", CSS),
}

# The emulator's own pages load only their own files; any site may frame them (as any site may
# frame Stripe's), and the script may be loaded and fetched from any origin (as js.stripe.com's).
FRAME_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors *"
)
# The challenge page's forms redirect to the merchant's return_url, so form-action stays open.
CHALLENGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors *"
)
COMMON_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
    # The emulator is a dev server: a page must pick up a new emulator's script at once, so the
    # browser revalidates every time (a 304 when unchanged) instead of caching for a while.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@cache
def asset(name: str) -> Asset | None:
    entry = ASSETS.get(name)
    if entry is None:
        return None
    filename, content_type = entry
    body = resources.files(__package__).joinpath("static", filename).read_bytes()
    return Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in {t.strip().removeprefix("W/") for t in header.split(",")}


def asset_response(request: Request, name: str) -> Response:
    found = asset(name)
    if found is None:
        return Response(
            "Not found: the emulator's Stripe.js subset has no such file.",
            status_code=404,
            media_type="text/plain",
            headers={"X-Content-Type-Options": "nosniff"},
        )
    headers = {**COMMON_HEADERS, "ETag": found.etag}
    if found.content_type == HTML:
        headers["Content-Security-Policy"] = FRAME_CSP
        headers["Referrer-Policy"] = "no-referrer"
    if _etag_matches(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, headers=headers, media_type=found.content_type)


def challenge_page(pi: dict[str, Any] | None, pi_id: str) -> HTMLResponse:
    """The 3-D Secure test page: "Complete authentication" / "Fail authentication".

    Opened at the top level (``redirect_to_url``), its forms post to the control route, which
    redirects to the ``return_url``. Opened by the Stripe.js subset in its challenge modal (the
    parent's origin in the fragment), its script posts the outcome and tells the parent instead.
    """
    headers = {"Content-Security-Policy": CHALLENGE_CSP, "Referrer-Policy": "no-referrer"}
    safe_id = html.escape(pi_id)
    if pi is None:
        body = f"<h1>3-D Secure test page</h1><p>No such payment: <code>{safe_id}</code>.</p>"
        return HTMLResponse(_page(body, "", "missing"), status_code=404, headers=headers)
    action = html.escape(f"/_emulator/payment_intents/{pi_id}/three_d_secure")
    amount = html.escape(f"{format_amount(pi['amount'], pi['currency'])} {pi['currency'].upper()}")
    status = str(pi["status"])
    if status == "requires_action":
        forms = "".join(
            f'<form method="post" action="{action}">'
            f'<input type="hidden" name="outcome" value="{outcome}">'
            '<input type="hidden" name="redirect" value="1">'
            f'<button type="submit" class="{cls}">{label}</button></form>'
            for outcome, cls, label in (
                ("complete", "primary", "Complete authentication"),
                ("fail", "secondary", "Fail authentication"),
            )
        )
        body = (
            '<p class="badge">Stripe emulator · test mode</p>'
            "<h1>3-D Secure 2 test page</h1>"
            f"<p>Payment <code>{safe_id}</code> of <strong>{amount}</strong> asks the cardholder to "
            "authenticate. This page stands in for the card issuer's: choose the outcome.</p>"
            f'<div class="actions">{forms}</div>'
            '<p id="status" class="status" role="status" aria-live="polite"></p>'
        )
    else:
        body = (
            '<p class="badge">Stripe emulator · test mode</p>'
            "<h1>3-D Secure 2 test page</h1>"
            f"<p>Payment <code>{safe_id}</code> has no challenge to complete "
            f"(status: {html.escape(status)}).</p>"
        )
    return HTMLResponse(_page(body, safe_id, html.escape(status)), headers=headers)


def _page(body: str, pi_id: str, status: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>3-D Secure test page</title>"
        '<link rel="stylesheet" href="/v3/three-d-secure.css">'
        '<script src="/v3/three-d-secure.js" defer></script></head>'
        f'<body data-payment-intent="{pi_id}" data-status="{status}"><main>{body}</main></body></html>'
    )
