"""Running the emulator as a server (``estuary-checkout stripe-emulator``)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .state import EmulatorState, build_faults


def build_state(
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    webhook_events: list[str] | None = None,
    latency_ms: int = 0,
    error_rate: float = 0.0,
    drop_rate: float = 0.0,
    fault_route: str | None = None,
    error_status: int = 500,
) -> EmulatorState:
    state = EmulatorState()
    if latency_ms or error_rate or drop_rate:
        state.faults = build_faults(
            {
                "latency_ms": latency_ms,
                "error_rate": error_rate,
                "drop_rate": drop_rate,
                "route": fault_route,
                "error_status": error_status,
            }
        )
    if webhook_url:
        state.add_webhook_endpoint(webhook_url, webhook_secret, webhook_events or ["*"], persistent=True)
    return state


def run_emulator(
    host: str = "127.0.0.1",
    port: int = 12111,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    latency_ms: int = 0,
    error_rate: float = 0.0,
    drop_rate: float = 0.0,
    fault_route: str | None = None,
    webhook_events: list[str] | None = None,
) -> None:
    """Run the emulator with uvicorn until interrupted (blocking)."""
    state = build_state(
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_events=webhook_events,
        latency_ms=latency_ms,
        error_rate=error_rate,
        drop_rate=drop_rate,
        fault_route=fault_route,
    )
    app = create_app(state=state)
    line = f"Stripe emulator listening on http://{host}:{port}"
    if webhook_url:
        secret = next(iter(state.store.webhook_endpoints.values()))["secret"]
        events = ", ".join(webhook_events) if webhook_events else "all events"
        line += f" (webhooks -> {webhook_url}, secret {secret}; {events})"
    print(line, flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")
    finally:
        state.close()
