"""The admin dependency: roles come from the token; a non-admin gets 403 in the envelope."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from estuary_checkout.deps import AdminUser
from estuary_checkout.errors import install_error_handlers


async def test_admin_only_route(app_state, make_token):
    app = FastAPI()
    app.state.checkout = app_state
    install_error_handlers(app)

    @app.get("/admin-only")
    async def admin_only(user: AdminUser) -> dict[str, int]:
        return {"user_id": user.id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/admin-only", headers={"Authorization": f"Bearer {make_token()}"})
        assert r.status_code == 403
        assert r.json() == {"error": "Admin role required", "details": None, "code": "FORBIDDEN"}
        r = await c.get("/admin-only", headers={"Authorization": f"Bearer {make_token(roles=['admin'])}"})
        assert r.status_code == 200 and r.json()["user_id"] > 0
        assert (await c.get("/admin-only")).status_code == 401
