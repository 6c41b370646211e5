"""Finding a browser for the Playwright tests: ``CHECKOUT_BROWSER``, else Chromium on PATH.

Without Playwright or a browser the tests are skipped, except with ``CI=true``, where that fails
the run (a CI that silently skips its browser tests tests nothing).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def browser_path() -> str | None:
    configured = os.environ.get("CHECKOUT_BROWSER")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run on CI: {reason}")
    pytest.skip(reason)


def launch_browser() -> Iterator[Any]:
    """A Playwright Chromium for a fixture to yield (skips or fails as above)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    path = browser_path()
    if path is None:
        _missing("no Chromium found (set CHECKOUT_BROWSER or install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
