"""Swagger UI and ReDoc render in a real browser, offline and under the pages' own CSP.

Needs Playwright and a Chromium (tests/browser.py: skipped without one, a failure with CI=true).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from tests.browser import launch_browser

from estuary_checkout.app import create_app
from estuary_checkout.config import Settings

# ReDoc's bundle always renders a "Redocly" logo from its CDN; the page's CSP blocks it (no
# request leaves the browser) and ReDoc drops the image when it fails. The one violation allowed.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def _open(browser: Any, url: str) -> tuple[Any, Any, dict[str, list[str]]]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    seen: dict[str, list[str]] = {"errors": [], "foreign": []}
    origin = url.split("/stripe/", 1)[0]
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on(
        "response",
        lambda r: not r.url.startswith((origin, "data:", "blob:")) and seen["foreign"].append(r.url),
    )
    page.goto(url)
    return ctx, page, seen


def test_swagger_ui_renders_from_our_origin(browser: Any, served: str) -> None:
    ctx, page, seen = _open(browser, f"{served}/stripe/fastapi/stripe/docs")
    try:
        page.get_by_role("heading", name="Estuary Checkout").first.wait_for(timeout=20_000)
        create = page.locator(".opblock").filter(has_text="/api/v1/stripe/checkout/create")
        create.first.wait_for()
        assert page.locator(".opblock").count() > 20
        assert seen == {"errors": [], "foreign": []}
    finally:
        ctx.close()


def test_redoc_renders_from_our_origin(browser: Any, served: str) -> None:
    ctx, page, seen = _open(browser, f"{served}/stripe/fastapi/stripe/redoc")
    try:
        page.get_by_role("heading", name="Estuary Checkout (1.0.0)").wait_for(timeout=20_000)
        page.get_by_role("heading", name="Create Checkout").first.wait_for()
        page.get_by_placeholder("Search...").fill("credits")  # search runs in its blob: worker
        page.locator('[role="search"] li').filter(has_text="Credit Balance").first.wait_for(timeout=10_000)
        assert seen["foreign"] == []
        assert [e for e in seen["errors"] if REDOC_LOGO not in e] == []
    finally:
        ctx.close()
