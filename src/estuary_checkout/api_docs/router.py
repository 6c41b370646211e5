"""Swagger UI and ReDoc from packaged assets, served from our own origin (SPEC 3, 13.2).

FastAPI's built-in pages load Swagger UI and ReDoc from a CDN (blank without internet) and start
Swagger UI with an inline script (blocked by a Content-Security-Policy without 'unsafe-inline').
These pages load the same tools from the ``fastapi-offline`` package, start Swagger UI from a
file of ours, and reference nothing outside this origin; each page sends its own CSP.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from estuary_checkout.errors import NotFound

DOCS_PATH = "/stripe/docs"
REDOC_PATH = "/stripe/redoc"
OPENAPI_PATH = "/stripe/openapi.json"
STATIC_PATH = "/stripe/static/docs"
TITLE = "Estuary Checkout"

JS = "application/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"

# URL name -> (package holding it, file in that package's static/, content type). An allowlist.
ASSETS: dict[str, tuple[str, str, str]] = {
    "swagger-ui-bundle.js": ("fastapi_offline", "swagger-ui-bundle.js", JS),
    "swagger-ui.css": ("fastapi_offline", "swagger-ui.css", CSS),
    "redoc.standalone.js": ("fastapi_offline", "redoc.standalone.js", JS),
    "favicon.png": ("fastapi_offline", "favicon.png", "image/png"),
    "swagger-init.js": ("estuary_checkout.api_docs", "swagger-init.js", JS),
    "redoc.css": ("estuary_checkout.api_docs", "redoc.css", CSS),
}

# Scripts, styles, images and the schema from this origin only. ReDoc (styled-components) and
# Swagger UI (React) write their styles at run time, as <style> elements and style attributes, so
# styles need 'unsafe-inline'; scripts do not ('unsafe-inline' and 'unsafe-eval' stay out), and
# ReDoc's search runs in a worker it starts from a blob: URL.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


@cache
def _asset(name: str) -> Asset | None:
    entry = ASSETS.get(name)
    if entry is None:
        return None
    package, filename, content_type = entry
    body = resources.files(package).joinpath("static", filename).read_bytes()
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if content_type != "image/png" else None
    return Asset(body, gzipped, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _page(title: str, head: str, body: str) -> HTMLResponse:
    page = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(page, headers=PAGE_HEADERS)


def _urls(request: Request) -> tuple[str, str]:
    """The static prefix and the schema URL, both under the mount (/stripe/fastapi)."""
    root = html.escape(request.scope.get("root_path", "").rstrip("/"))
    return f"{root}{STATIC_PATH}", f"{root}{OPENAPI_PATH}"


@router.get(DOCS_PATH)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI."""
    static, openapi = _urls(request)
    return _page(
        f"{TITLE} - Swagger UI",
        f'<link rel="stylesheet" href="{static}/swagger-ui.css">\n'
        f'<link rel="icon" type="image/png" href="{static}/favicon.png">\n',
        f'<div id="swagger-ui" data-openapi-url="{openapi}"></div>\n'
        f'<script src="{static}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{static}/swagger-init.js"></script>\n',
    )


@router.get(REDOC_PATH)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc."""
    static, openapi = _urls(request)
    return _page(
        f"{TITLE} - ReDoc",
        f'<link rel="stylesheet" href="{static}/redoc.css">\n'
        f'<link rel="icon" type="image/png" href="{static}/favicon.png">\n',
        "<noscript>ReDoc needs JavaScript to show the documentation.</noscript>\n"
        f'<redoc spec-url="{openapi}"></redoc>\n'
        f'<script src="{static}/redoc.standalone.js"></script>\n',
    )


@router.get(STATIC_PATH + "/{name}")
async def docs_asset(name: str, request: Request) -> Response:
    """A Swagger UI / ReDoc file (revalidated with its ETag; gzip when the client takes it)."""
    found = _asset(name)
    if found is None:
        raise NotFound(f"No such documentation file: {name}")
    headers = {
        "ETag": found.etag,
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    inm = request.headers.get("if-none-match")
    if inm and found.etag in {t.strip().removeprefix("W/") for t in inm.split(",")}:
        return Response(status_code=304, headers=headers)
    body = found.body
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", "").lower():
        body = found.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=found.content_type, headers=headers)
