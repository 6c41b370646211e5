"""The envelope on every non-2xx, the docs behind the mount, health."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from tests.conftest import API

from estuary_checkout.errors import install_error_handlers
from estuary_checkout.middleware import BodyLimitAndRequestId

ENVELOPE_KEYS = {"error", "details", "code"}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Item]


async def test_health(client):
    r = await client.get("/stripe/fastapi/stripe/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["x-request-id"]


async def test_ready_reports_what_is_down(client):
    # tests point Temporal at a closed port: ready must say so, with the database and Stripe up
    r = await client.get("/stripe/fastapi/stripe/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == "NOT_READY"
    assert body["details"]["checks"] == {"database": "ok", "stripe": "ok", "temporal": "down"}


async def test_docs_pages_reference_the_prefixed_schema(client):
    for page in ("/stripe/fastapi/stripe/docs", "/stripe/fastapi/stripe/redoc"):
        r = await client.get(page)
        assert r.status_code == 200
        urls = re.findall(r'(?:data-openapi-url|spec-url)="([^"]+openapi\.json)"', r.text)
        assert urls == ["/stripe/fastapi/stripe/openapi.json"], urls
        schema = await client.get(urls[0])
        assert schema.status_code == 200
        assert schema.json()["info"]["title"] == "Estuary Checkout"
        assert f"{API.removeprefix('/stripe/fastapi')}/credits/balance" in schema.json()["paths"]


async def test_404_unknown_routes(client):
    for path in ("/nope", "/stripe/fastapi/nope", f"{API}/nope"):
        r = await client.get(path)
        assert r.status_code == 404
        assert r.json() == {"error": "Not Found", "details": None, "code": "NOT_FOUND"}


async def test_405(client):
    r = await client.delete("/stripe/fastapi/stripe/health")
    assert r.status_code == 405
    assert set(r.json()) == ENVELOPE_KEYS
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_405_allows_every_method_of_the_path(client):
    """Each method of a path is a route of its own; the 405's Allow still lists all of them."""
    for method in ("DELETE", "OPTIONS", "PUT"):
        r = await client.request(method, f"{API}/admin/coupons")
        assert r.status_code == 405
        assert r.json()["code"] == "METHOD_NOT_ALLOWED"
        assert r.headers["allow"] == "GET, POST"
    r = await client.get(f"{API}/checkout/create")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"checkout_type": "bundle",', "not valid JSON: Expecting"),
        (b"\xc3\x28 not text", "not valid JSON: not UTF-8 text"),
        (b"[" * 20_000 + b"]" * 20_000, "not valid JSON: nested too deeply"),
    ],
    ids=["syntax", "not-utf8", "too-deep"],
)
async def test_a_body_that_is_not_json_is_422_naming_the_body(client, auth, body, message):
    r = await client.post(
        f"{API}/checkout/calculate-price",
        content=body,
        headers={"content-type": "application/json", **auth()},
    )
    assert r.status_code == 422, r.text
    envelope = r.json()
    assert envelope["code"] == "VALIDATION_ERROR"
    assert envelope["details"]["field"] == "body"
    assert [e["type"] for e in envelope["details"]["errors"]] == ["json_invalid"]
    assert envelope["details"]["errors"][0]["message"].startswith(message)


async def test_413_declared_and_streamed(client, auth):
    big = b'{"x": "' + b"a" * (70 * 1024) + b'"}'
    r = await client.post(
        f"{API}/credits/balance", content=big, headers={"content-type": "application/json", **auth()}
    )
    assert r.status_code == 413
    assert r.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_422_names_the_field_and_500_hides_the_trace():
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(body: Body) -> dict[str, int]:
        return {"n": len(body.items)}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    wrapped = BodyLimitAndRequestId(app, max_body_bytes=1024)
    transport = httpx.ASGITransport(app=wrapped, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/echo", json={"items": [{"quantity": "many"}]})
        assert r.status_code == 422
        body = r.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert body["details"]["field"] == "items[0].quantity"
        r = await c.post("/echo", json={"items": [], "total_cents": 1})
        assert r.status_code == 422
        assert r.json()["details"]["field"] == "total_cents"

        async def chunks():  # no content-length: the cap applies while streaming
            for _ in range(3):
                yield b'{"items": [' + b" " * 1000

        r = await c.post("/echo", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["code"] == "PAYLOAD_TOO_LARGE"
        r = await c.get("/boom")
        assert r.status_code == 500
        assert r.json()["code"] == "INTERNAL_ERROR"
        assert "secret" not in r.text and "Traceback" not in r.text
        # the id in the 500 envelope is the one on the response (and in the logs)
        assert r.json()["details"]["request_id"] == r.headers["x-request-id"]
        r = await c.get("/boom", headers={"X-Request-Id": "client-chosen-id"})
        assert r.json()["details"]["request_id"] == "client-chosen-id" == r.headers["x-request-id"]


def test_request_ids_are_unique_and_differ_after_fork() -> None:
    import os

    from estuary_checkout.middleware import new_request_id

    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports its first id
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert child_id not in ids and child_id[:12] != next(iter(ids))[:12]


async def test_app_startup_tunes_the_garbage_collector(settings) -> None:
    """With CHECKOUT_GC_TUNE (the default) the served app freezes its startup heap and raises
    the young-generation threshold; without it, the process's GC settings are left alone."""
    import gc

    from estuary_checkout.app import create_app
    from estuary_checkout.config import GC_THRESHOLDS

    @contextlib.asynccontextmanager
    async def started(app: Any) -> AsyncIterator[None]:
        """The ASGI lifespan protocol, as a server drives it."""
        to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        task = asyncio.create_task(
            app({"type": "lifespan", "asgi": {"version": "3.0"}}, to_app.get, from_app.put)
        )
        await to_app.put({"type": "lifespan.startup"})
        assert (await from_app.get())["type"] == "lifespan.startup.complete"
        yield
        await to_app.put({"type": "lifespan.shutdown"})
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        await task

    before = gc.get_threshold()
    try:
        async with started(create_app(settings.model_copy(update={"gc_tune": False}))):
            assert gc.get_threshold() == before
        gc.unfreeze()
        async with started(create_app(settings.model_copy(update={"gc_tune": True}))):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
