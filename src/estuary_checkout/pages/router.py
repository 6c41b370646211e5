"""The hosted pages (not part of the API schema): `/pay/{slug}` sells what a payment link offers,
`/checkout/{order_id}` takes the payment of an open order. In development `/dev/token` mints a
token for the demo user ("continue as demo user")."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from estuary_checkout import currencies
from estuary_checkout.auth.service import create_token
from estuary_checkout.config import Settings
from estuary_checkout.deps import DbSession, SettingsDep, State
from estuary_checkout.errors import AppError, NotFound, envelope
from estuary_checkout.links import service as links_service
from estuary_checkout.links.router import client_address
from estuary_checkout.pages import security
from estuary_checkout.paths import API_PREFIX, MOUNT_PATH
from estuary_checkout.users import service as users_service

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
ASSETS = f"{MOUNT_PATH}/assets"
DEMO_EMAIL = "demo@example.com"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
router = APIRouter(include_in_schema=False)


def _page(name: str, settings: Settings, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(
        assets=ASSETS,
        stripe_js_url=security.stripe_js_url(settings),
        **context,
    )
    return HTMLResponse(body, status_code=status_code, headers=security.headers(settings))


def _page_data(settings: Settings, **data: Any) -> dict[str, Any]:
    return {
        "api": f"{MOUNT_PATH}{API_PREFIX}",
        "mount": MOUNT_PATH,
        # minor-unit digits as Stripe counts them (the registry): a browser's own table differs
        # for a few currencies (ISK, UGX are sent in hundredths)
        "digits": {code: currencies.get(code).digits for code in settings.offered_currencies()},
        "dev": settings.env != "production",
        **data,
    }


@router.get("/pay/{slug}", response_class=HTMLResponse)
async def pay_page(slug: str, request: Request, session: DbSession, state: State) -> HTMLResponse:
    settings = state.settings
    try:
        state.public_limiter.enforce("link_offer", client_address(request))
        link_id, offer = await links_service.offer(session, settings, slug)
    except AppError as exc:
        return _page(
            "unavailable.html",
            settings,
            status_code=exc.status_code,
            title="Not found" if isinstance(exc, NotFound) else "Not available",
            message=exc.message,
        )
    state.link_views.add(link_id, state.session_factory)
    data = _page_data(settings, slug=offer.slug, offer=offer.model_dump(mode="json"))
    return _page("pay.html", settings, offer=offer, data=data)


@router.get("/checkout/{order_id}", response_class=HTMLResponse)
async def checkout_page(order_id: str, settings: SettingsDep) -> HTMLResponse:
    """The order is read by the page itself with the client's token (the server never sees it)."""
    try:
        parsed = uuid.UUID(order_id)
    except ValueError:
        return _page(
            "unavailable.html", settings, status_code=404, title="Not found", message="No such order"
        )
    return _page("checkout.html", settings, data=_page_data(settings, order_id=str(parsed)))


@router.post("/dev/token")
async def dev_token(settings: SettingsDep) -> Response:
    """A short-lived token for the demo user; only outside production."""
    if settings.env == "production":
        return JSONResponse(envelope("Not found", "NOT_FOUND"), status_code=404)
    sub = users_service.demo_sub(DEMO_EMAIL)
    token = create_token(settings, sub=sub, email=DEMO_EMAIL, roles=[], ttl_seconds=3600)
    return JSONResponse({"token": token, "email": DEMO_EMAIL}, headers={"Cache-Control": "no-store"})
