"""The real stack, once per test run: the project's Stripe emulator in a thread, and the
platform's one ASGI application (Django + Estuary Checkout, host/dispatch.py) served by uvicorn on
a free port with lifespan on. Each side has its own temporary SQLite database with its
migrations applied; Temporal is not needed (workflow starts wait in the checkout's outbox).

Tests own their data through unique names (users, external ids), so they run in any order.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

JWT_SECRET = "django-host-tests-" + secrets.token_urlsafe(32)
EVENTS_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
API = "/stripe/fastapi/api/v1/stripe"
PASSWORD = "correct horse battery staple"
_tmp: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Django's settings come from the environment: set it before Django is set up."""
    global _tmp
    _tmp = Path(tempfile.mkdtemp(prefix="django-host-tests-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "host.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "HOST_DATABASE_PATH": str(_tmp / "host.sqlite3"),
            "CHECKOUT_JWT_SECRET": JWT_SECRET,
            "HOST_CHECKOUT_EVENTS_SECRET": EVENTS_SECRET,
        }
    )
    import django
    from django.core.management import call_command
    from django.test.utils import override_settings

    django.setup()
    # a fast hasher: tests sign users in over HTTP; PBKDF2 would cost a second per password
    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
    call_command("migrate", verbosity=0)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _tmp is not None:
        shutil.rmtree(_tmp, ignore_errors=True)


class Served:
    """An ASGI app under uvicorn in a thread, on a free 127.0.0.1 port."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            # with lifespan "on" a failed startup ends the server before it starts
            assert self.thread.is_alive(), "server stopped during startup (lifespan failed?)"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Stack:
    url: str
    stripe_url: str
    checkout_settings: Any
    checkout_state: Any


def checkout_settings(database_url: str, stripe_url: str, **overrides: Any) -> Any:
    from estuary_checkout.config import Settings

    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "stripe_secret_key": "sk_test_django_host_tests",
        "stripe_publishable_key": "pk_test_django_host_tests",
        "stripe_api_base": stripe_url,
        "stripe_max_network_retries": 1,
        "temporal_address": "127.0.0.1:9",  # nothing listens: workflow starts stay in the outbox
        "catalog_cache_seconds": 0,
        "gc_tune": False,
        "rate_limit_per_minute": 10_000,
        "_env_file": None,
    }
    return Settings(**(values | overrides))


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    from estuary_checkout.app import create_app
    from estuary_checkout.db.migrate import upgrade
    from estuary_checkout.state import AppState
    from estuary_checkout.stripe_emulator.testing import EmulatorServer

    from host.application import build_application

    assert _tmp is not None
    with EmulatorServer() as emu:
        emu.set_config(processing_delay_ms=0, refund_delay_ms=0)
        database_url = f"sqlite+aiosqlite:///{_tmp / 'checkout.db'}"
        upgrade(database_url)
        settings = checkout_settings(database_url, emu.url)
        state = AppState.build(settings)
        app = build_application(checkout_app=create_app(settings, state=state))
        with Served(app) as served:
            yield Stack(url=served.url, stripe_url=emu.url, checkout_settings=settings, checkout_state=state)


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    """A browser of the platform: keeps its cookies."""
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        yield client


def make_user(*, admin: bool = False) -> Any:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    name = f"user-{uuid.uuid4().hex[:10]}"
    user = get_user_model().objects.create_user(name, f"{name}@example.com", PASSWORD)
    if admin:
        user.user_permissions.add(Permission.objects.get(codename="checkout_admin"))
    return user


def sign_in(http: httpx.Client, user: Any) -> None:
    """Django's own login form, as a browser fills it in: the session and CSRF cookies land in
    the client."""
    http.get("/accounts/login/").raise_for_status()
    r = http.post(
        "/accounts/login/",
        data={
            "username": user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
        headers={"Origin": str(http.base_url).rstrip("/")},
    )
    assert r.status_code == 302, r.text
    assert "sessionid" in http.cookies


def admin_headers() -> dict[str, str]:
    from host import checkout_tokens

    token, _ = checkout_tokens.for_catalog_sync()
    return {"Authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class HostCatalog:
    practitioner: Any
    session: Any
    bundle: Any
    package: Any
    optional_child: Any


ALL_DAY = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


def make_host_catalog() -> HostCatalog:
    """A practitioner and one service of each type, with unique external ids (not yet pushed)."""
    from marketplace.models import PackageItem, Practitioner, Service

    p = Practitioner.objects.create(external_id=unique("pract"), name="Ana Ruiz", availability=ALL_DAY)

    def service(kind: str, name: str, **fields: Any) -> Any:
        return Service.objects.create(
            external_id=unique(kind), type=kind, name=name, practitioner=p, **fields
        )

    session = service("session", "Host Yoga", price_cents=9000, duration_minutes=60)
    extra = service("session", "Host Stretch", price_cents=4000, duration_minutes=30)
    bundle = service(
        "bundle",
        "Host Yoga Pass",
        price_cents=40000,
        bundle_child=session,
        sessions_included=5,
        bonus_sessions=1,
        validity_days=90,
    )
    package = service("package", "Host Package", price_cents=None)
    PackageItem.objects.create(
        package=package, child=session, quantity=2, is_required=True, discount_percentage=10
    )
    PackageItem.objects.create(
        package=package, child=extra, quantity=1, is_required=False, discount_percentage=0
    )
    return HostCatalog(practitioner=p, session=session, bundle=bundle, package=package, optional_child=extra)


@pytest.fixture(scope="session")
def pushed_catalog(stack: Stack) -> HostCatalog:
    """A host catalog pushed to the checkout with the push_catalog command."""
    from django.core.management import call_command

    catalog = make_host_catalog()
    call_command("push_catalog", base_url=stack.url, stdout=io.StringIO())
    for row in (
        catalog.practitioner,
        catalog.session,
        catalog.bundle,
        catalog.package,
        catalog.optional_child,
    ):
        row.refresh_from_db()
        assert row.checkout_id is not None
    return catalog
