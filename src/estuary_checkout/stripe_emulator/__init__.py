"""A Stripe API emulator for development and tests.

The service talks to it through the official ``stripe`` SDK with ``api_base`` pointed at it. It is
a standalone ASGI app with in-memory state and imports nothing from the rest of the project.

* :func:`create_app` builds the ASGI app;
* :func:`run_emulator` serves it with uvicorn (``estuary-checkout stripe-emulator``);
* :mod:`estuary_checkout.stripe_emulator.testing` has ``EmulatorServer`` / ``EmulatorClient``.
"""

from __future__ import annotations

from .app import EmulatorApp, create_app
from .server import run_emulator
from .state import DEFAULT_API_VERSION, DEFAULT_CONFIG, EmulatorState, sign_payload

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_CONFIG",
    "EmulatorApp",
    "EmulatorState",
    "create_app",
    "run_emulator",
    "sign_payload",
]
