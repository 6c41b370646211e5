"""The dev stack as a user starts it (`estuary-checkout dev`: Temporal dev server, Stripe emulator,
worker, API), then `estuary-checkout demo` buys a session, a bundle and a package through it, and a
declined card ends in a non-zero exit with the decline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

EXE = str(Path(sys.executable).parent / "estuary-checkout")


def _free_ports() -> tuple[int, int, int]:
    """Three distinct free ports (API, emulator, Temporal), with Temporal's UI port (+1000) free too;
    all sockets are held until the choice is made, so no two picks collide."""
    held: list[socket.socket] = []
    try:
        while True:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if len(held) == 3:
                if port + 1000 >= 65535:
                    held.pop().close()
                    continue
                ui = socket.socket()
                try:
                    ui.bind(("127.0.0.1", port + 1000))
                except OSError:
                    ui.close()
                    held.pop().close()
                    continue
                ui.close()
                return held[0].getsockname()[1], held[1].getsockname()[1], port
    finally:
        for s in held:
            s.close()


@pytest.fixture(scope="module")
def dev_stack(database_url, tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("devstack")
    api, emu, temporal = _free_ports()
    env = {
        **os.environ,
        "CHECKOUT_ENV": "dev",
        "CHECKOUT_DATABASE_URL": database_url,
        "CHECKOUT_PORT": str(api),
        "CHECKOUT_STRIPE_API_BASE": f"http://127.0.0.1:{emu}",
        "CHECKOUT_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "CHECKOUT_JWT_SECRET": "devstack-test-secret-" + "d" * 32,
        "CHECKOUT_VAR_DIR": str(workdir / "var"),  # temporal.db
        "CHECKOUT_LOG_LEVEL": "WARNING",
        "CHECKOUT_DB_POOL_SIZE": "2",
    }
    log = (workdir / "dev.log").open("wb")
    proc = subprocess.Popen(
        [EXE, "dev"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (workdir / "dev.log").read_text()[-3000:]
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{api}/stripe/fastapi/stripe/ready", timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                "dev stack not ready: " + (workdir / "dev.log").read_text()[-3000:]
            )
            time.sleep(0.5)
        yield {"env": env, "cwd": workdir, "api": api}
    finally:
        # SIGTERM to the supervisor alone, repeated (as an impatient Ctrl-C or a service manager
        # would): it must stop every child itself
        for _ in range(3):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            time.sleep(0.2)
        try:
            proc.wait(timeout=30)
            stopped_in_time = True
        except subprocess.TimeoutExpired:
            stopped_in_time = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert stopped_in_time, "the dev stack did not stop on SIGTERM"
    for port in (api, emu, temporal):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still served after stop"
    text = (workdir / "dev.log").read_text()
    assert "dev stack stopped" in text


def _demo(stack, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [EXE, "demo", *args],
        cwd=stack["cwd"],
        env={**stack["env"], "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _confirmation_written(database_url: str, booking_id: int, timeout: float = 30) -> bool:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from estuary_checkout.workflows.models import Notification

    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                kinds = (
                    (
                        await conn.execute(
                            select(Notification.kind).where(Notification.booking_id == booking_id)
                        )
                    )
                    .scalars()
                    .all()
                )
            if "confirmation" in kinds:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["session", "bundle", "package"])
def test_demo_pays_end_to_end(dev_stack, kind):  # type: ignore[no-untyped-def]
    r = _demo(dev_stack, "--user-email", "demo@example.com", "--checkout-type", kind)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "completed (payment paid)" in r.stdout
    if kind == "session":
        # the outbox relay started the booking's lifecycle workflow at the Temporal dev server
        assert "workflow booking-lifecycle-" in r.stdout and "RUNNING" in r.stdout
        # and the worker (the production one, without the sandbox) ran it: its first activity
        # wrote the booking's confirmation
        booking_id = int(re.search(r"booking-lifecycle-(\d+)", r.stdout).group(1))  # type: ignore[union-attr]
        assert asyncio.run(_confirmation_written(dev_stack["env"]["CHECKOUT_DATABASE_URL"], booking_id))
    else:
        assert "a pass was granted" in r.stdout


@pytest.mark.parametrize(("currency", "total"), [("jpy", "¥16,313"), ("kwd", "KWD38.060")])
def test_demo_pays_in_another_currency(dev_stack, currency, total):  # type: ignore[no-untyped-def]
    """SPEC 14's worked numbers, end to end: the demo session in yen (no minor unit) and in
    Kuwaiti dinars (three), priced, charged at Stripe and shown by the registry's formatting."""
    email = f"{currency}-demo@example.com"  # no pass, no credit: the whole price is charged
    r = _demo(dev_stack, "--user-email", email, "--checkout-type", "session", "--currency", currency)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "completed (payment paid)" in r.stdout
    assert re.search(rf"total charged\s*│\s*{re.escape(total)}", r.stdout), r.stdout


def test_demo_declined_card_exits_non_zero_with_the_decline(dev_stack):  # type: ignore[no-untyped-def]
    r = _demo(
        dev_stack,
        "--user-email",
        "other@example.com",
        "--checkout-type",
        "bundle",
        "--card",
        "pm_card_chargeDeclined",
    )
    assert r.returncode == 1
    assert "card declined" in r.stdout and "generic_decline" in r.stdout


def test_demo_cancel_pays_cancels_and_shows_the_refund(dev_stack):  # type: ignore[no-untyped-def]
    # a user of its own: demo@example.com holds a pass by now (the bundle demo), which would cover it
    r = _demo(dev_stack, "--user-email", "cancel-demo@example.com", "--checkout-type", "session", "--cancel")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "canceled" in r.stdout and "refunded to card" in r.stdout
    # three days ahead or more is inside the full-refund window: the whole 108.75 USD comes back
    assert re.search(r"refunded to card\s*│\s*\$108\.75", r.stdout), r.stdout
    assert "refunded (payment refunded)" in r.stdout
    booking_id = int(re.search(r"booking-lifecycle-(\d+)", r.stdout).group(1))  # type: ignore[union-attr]
    assert f"booking {booking_id}" in r.stdout
