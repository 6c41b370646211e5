"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from estuary_checkout.deps import State
from estuary_checkout.errors import envelope

router = APIRouter(tags=["health"])


@router.get("/stripe/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/stripe/ready", responses={503: {"description": "SERVICE_UNAVAILABLE: what is down"}})
async def ready(state: State) -> JSONResponse:
    """Readiness: database reachable, Stripe configured and reachable, Temporal reachable."""

    async def db() -> bool:
        try:
            async with state.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=3)
            return True
        except Exception:
            return False

    async def stripe_ok() -> bool:
        if not state.settings.stripe_secret_key or not state.settings.stripe_publishable_key:
            return False
        return await asyncio.wait_for(state.gateway.ping(), timeout=5)

    results = await asyncio.gather(db(), stripe_ok(), state.temporal.ping(), return_exceptions=True)
    checks = {
        name: ("ok" if r is True else "down")
        for name, r in zip(("database", "stripe", "temporal"), results, strict=True)
    }
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    down = [k for k, v in checks.items() if v != "ok"]
    return JSONResponse(
        envelope(f"Not ready: {', '.join(down)} down", "NOT_READY", {"checks": checks}), status_code=503
    )
