"""Reliability battery fixtures: an app with the caps lifted (so only the invariant under test
limits the outcome), and a report line per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from estuary_checkout.app import create_app
from estuary_checkout.state import AppState

REPORT: list[str] = []


@pytest.fixture(scope="module")
async def open_state(settings) -> AsyncIterator[AppState]:  # type: ignore[no-untyped-def]
    s = settings.model_copy(update={"max_pending_orders": 1000, "rate_limit_per_minute": 100_000})
    state = AppState.build(s)
    yield state
    await state.aclose()


@pytest.fixture
async def rclient(open_state) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    app = create_app(open_state.settings, state=open_state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60
    ) as c:
        yield c


@pytest.fixture
def report(request):  # type: ignore[no-untyped-def]
    def _report(**counts: object) -> None:
        line = f"{request.node.name}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
        REPORT.append(line)
        print("\n" + line)

    return _report


def pytest_terminal_summary(terminalreporter):  # type: ignore[no-untyped-def]
    if REPORT:
        terminalreporter.section("reliability battery: what each test saw")
        for line in REPORT:
            terminalreporter.write_line(line)
