"""The one ASGI application: what goes to the checkout, what to Django, and the lifespan."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation

from host.dispatch import HostDispatcher, route_path
from tests.conftest import API, checkout_settings


def test_the_checkout_answers_under_its_prefix(http: httpx.Client) -> None:
    r = http.get("/stripe/fastapi/stripe/health")
    assert r.status_code == 200
    # an unknown path under the prefix is the checkout's: its error envelope, not Django's page
    missing = http.get("/stripe/fastapi/no-such-page")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "details", "code"}


def test_prefix_matches_on_a_path_segment_boundary(http: httpx.Client) -> None:
    for path in ("/stripe/fastapiX", "/stripe/fastapiX/stripe/health", "/stripe/fastapi-docs"):
        r = http.get(path)
        assert r.status_code == 404, path
        # Django's 404 page (DEBUG off), not the checkout's JSON envelope
        assert r.headers["content-type"].startswith("text/html"), path
        assert "Not Found" in r.text


def test_everything_else_is_django(http: httpx.Client) -> None:
    home = http.get("/")
    assert home.status_code == 200
    assert "Example host platform" in home.text
    assert http.get("/accounts/login/").status_code == 200


def test_docs_load_the_schema_from_the_prefixed_url(http: httpx.Client) -> None:
    docs = http.get("/stripe/fastapi/stripe/docs")
    assert docs.status_code == 200
    assert 'data-openapi-url="/stripe/fastapi/stripe/openapi.json"' in docs.text
    redoc = http.get("/stripe/fastapi/stripe/redoc")
    assert redoc.status_code == 200
    assert "/stripe/fastapi/stripe/openapi.json" in redoc.text
    schema = http.get("/stripe/fastapi/stripe/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Estuary Checkout"
    assert schema.json()["servers"] == [{"url": "/stripe/fastapi"}]
    # the server plus a documented path is the URL a client calls
    assert f"{API}/checkout/create".removeprefix("/stripe/fastapi") in schema.json()["paths"]


def test_route_path_honours_the_servers_root_path() -> None:
    dispatcher = HostDispatcher(django_app=_never, checkout_app=_never)
    served_under = {"root_path": "/platform"}
    assert dispatcher.is_checkout({"path": "/platform/stripe/fastapi/x", **served_under})
    assert dispatcher.is_checkout({"path": "/stripe/fastapi", "root_path": ""})
    assert not dispatcher.is_checkout({"path": "/platform/stripe/fastapiX", **served_under})
    assert not dispatcher.is_checkout({"path": "/platform/", **served_under})
    assert route_path({"path": "/platform", "root_path": "/platform"}) == "/"


async def _never(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError(f"unexpected call: {scope['type']}")


def test_lifespan_runs_the_checkout_apps_startup_and_shutdown(stack: Any) -> None:
    """Django's ASGI handler refuses lifespan scopes, so the dispatcher must not hand it one;
    the checkout's lifespan is where it tunes the collector and closes its engine and clients."""
    from django.core.asgi import get_asgi_application
    from estuary_checkout.app import create_app
    from estuary_checkout.config import GC_THRESHOLDS
    from estuary_checkout.state import AppState

    settings = checkout_settings(stack.checkout_settings.database_url, stack.stripe_url, gc_tune=True)
    state = AppState.build(settings)
    closed: list[bool] = []
    real_aclose = state.aclose

    async def aclose() -> None:
        closed.append(True)
        await real_aclose()

    state.aclose = aclose  # type: ignore[method-assign]
    dispatcher = HostDispatcher(
        django_app=get_asgi_application(), checkout_app=create_app(settings, state=state)
    )
    before = gc.get_threshold()

    async def run() -> tuple[list[str], tuple[int, ...]]:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: list[str] = []
        started = asyncio.Event()

        async def send(message: Any) -> None:
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                started.set()

        task = asyncio.create_task(
            dispatcher({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
        )
        await inbox.put({"type": "lifespan.startup"})
        await asyncio.wait_for(started.wait(), 10)
        during = gc.get_threshold()
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 10)
        return sent, during

    try:
        sent, during = asyncio.run(run())
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert during == GC_THRESHOLDS  # the checkout's startup ran
    assert closed == [True]  # and its shutdown


def test_django_alone_refuses_a_lifespan_scope() -> None:
    """Why the dispatcher routes lifespan away from Django."""
    from django.core.asgi import get_asgi_application

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        pass

    with pytest.raises(ValueError, match="lifespan"):
        asyncio.run(get_asgi_application()({"type": "lifespan"}, receive, send))


def test_orm_from_async_code_goes_through_sync_to_async(http: httpx.Client) -> None:
    """The dispatcher reads sessions and users from async code; a direct ORM call there is
    refused, through sync_to_async it runs on Django's sync thread."""
    from host.session_bridge import bearer_for_session

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/stripe/fastapi/x",
        "headers": [(b"cookie", b"sessionid=" + b"x" * 32)],
    }

    async def direct() -> Any:
        return bearer_for_session(scope)

    async def wrapped() -> Any:
        return await sync_to_async(bearer_for_session, thread_sensitive=True)(scope)

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(direct())
    assert asyncio.run(wrapped()) is None  # an unknown session signs nobody in
