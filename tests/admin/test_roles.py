"""Every admin route, read from the served OpenAPI schema: no token → 401, a client's token →
403 FORBIDDEN, both in the envelope. A new /admin/ route is covered without touching this file."""

from __future__ import annotations

import re

from tests.checkout.helpers import assert_error

ADMIN_PREFIX = "/api/v1/stripe/admin/"


async def _admin_routes(client) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    spec = (await client.get("/stripe/fastapi/stripe/openapi.json")).json()
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        if path.startswith(ADMIN_PREFIX)
        for method in ops
    ]


async def test_every_admin_route_refuses_anonymous_and_clients(client, client_headers, admin):
    routes = await _admin_routes(client)
    assert len(routes) >= 17, routes  # the admin routes of issue 11, at least
    for method, path in routes:
        url = "/stripe/fastapi" + re.sub(r"\{[^}]+\}", "1", path)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        anonymous = await client.request(method, url, json=body)
        assert_error(anonymous, 401, "UNAUTHORIZED")
        forbidden = assert_error(
            await client.request(method, url, json=body, headers=client_headers), 403, "FORBIDDEN"
        )
        assert forbidden["error"] == "Admin role required", (method, path)
        # the same call with the admin role gets past the role check (to a result or a 404/422)
        allowed = await client.request(method, url, json=body, headers=admin)
        assert allowed.status_code not in (401, 403), (method, path, allowed.text)


async def test_admin_routes_declare_401_403_and_422_in_the_schema(client):
    spec = (await client.get("/stripe/fastapi/stripe/openapi.json")).json()
    for path, ops in spec["paths"].items():
        if path.startswith(ADMIN_PREFIX):
            for method, op in ops.items():
                assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
                assert op.get("summary") and op.get("description"), (method, path)
