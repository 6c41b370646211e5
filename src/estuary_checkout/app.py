"""Application factory: the checkout app, mounted at /stripe/fastapi."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount, Router
from starlette.types import ASGIApp

from estuary_checkout import health
from estuary_checkout.api_docs.router import OPENAPI_PATH
from estuary_checkout.api_docs.router import router as api_docs_router
from estuary_checkout.config import Settings, get_settings, tune_gc
from estuary_checkout.errors import install_error_handlers, not_found_app
from estuary_checkout.logging import configure_logging
from estuary_checkout.middleware import BodyLimitAndRequestId
from estuary_checkout.pages.router import STATIC_DIR as PAGES_STATIC
from estuary_checkout.pages.router import router as pages_router
from estuary_checkout.paths import MOUNT_PATH
from estuary_checkout.routers import API_ROUTERS
from estuary_checkout.state import AppState


def create_checkout_app(state: AppState) -> FastAPI:
    app = FastAPI(
        title="Estuary Checkout",
        version="1.0.0",
        description="Checkout and payments for the Estuary wellness marketplace.",
        # Swagger UI and ReDoc come from api_docs (packaged assets, no CDN, no inline script) at
        # the same paths: /stripe/docs and /stripe/redoc
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_PATH,
        separate_input_output_schemas=False,
    )
    app.state.checkout = state
    install_error_handlers(app)
    # The routes themselves, not include_router: FastAPI 0.16x keeps an included router as a
    # nested branch that is matched again at each level on every request (measured: ~8 % of a
    # quote's instructions for our two levels). The routers declare their full paths.
    for router in (health.router, api_docs_router, *API_ROUTERS, pages_router):
        app.router.routes.extend(router.routes)
    # the hosted pages' script and styles (nothing from a CDN)
    app.mount("/assets", StaticFiles(directory=PAGES_STATIC), name="assets")
    return app


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> ASGIApp:
    """The served ASGI app: request ids and the body cap, then a bare router that mounts the
    checkout app at MOUNT_PATH and answers an envelope 404 for any other path.

    Nothing else lives at the root: errors inside the checkout app are turned into envelopes by
    its own handlers, and a Starlette (or FastAPI) app here would run a second exception-handling
    middleware stack on every request for nothing (measured: ~4 % of a quote's instructions).
    """
    settings = settings or (state.settings if state else get_settings())
    configure_logging(settings.log_level)
    state = state or AppState.build(settings)

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        if settings.gc_tune:
            tune_gc()
        yield
        await state.aclose()

    router = Router(
        routes=[Mount(MOUNT_PATH, app=create_checkout_app(state))], default=not_found_app, lifespan=lifespan
    )
    return BodyLimitAndRequestId(router, max_body_bytes=settings.max_body_bytes)
