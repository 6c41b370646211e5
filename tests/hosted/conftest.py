"""Browser tests (SPEC 13.2): Playwright for Python driving Debian's Chromium — never a browser
Playwright downloads. The browser is `CHECKOUT_BROWSER` or `chromium` on PATH; without one these
tests skip with a message, except in CI (`CI=true`), where a missing browser fails the run.

(`tests/browser.py` finds the browser, as for the emulator's own Stripe.js tests.)

The API is served by uvicorn on a real port (pages and assets), the Stripe emulator on its own
(Stripe.js subset at /v3/), so the page talks to two origins as it does in production."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.browser import _missing, browser_path
from tests.checkout.conftest import factory, new_user  # noqa: F401
from tests.webhooks.test_live_delivery import ServedApp

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = browser_path()
    if path is None:
        _missing("no Chromium found (set CHECKOUT_BROWSER or install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser):  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1024, "height": 900})
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.errors = errors  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        await context.close()


@pytest.fixture(scope="module")
def served(settings) -> Iterator[ServedApp]:  # type: ignore[no-untyped-def]
    with ServedApp(settings) as app:
        yield app


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {make_token('admin|browser', roles=['admin'])}"}


def shot(name: str) -> Path:
    """Where a screenshot goes: docs/img/ when `make screenshots` runs the tests (the README
    shows them), else a temporary folder (a test run leaves the checkout as it was)."""
    folder = IMG if os.environ.get("CHECKOUT_SCREENSHOTS") else Path(tempfile.gettempdir()) / "checkout-shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
