"""`estuary-checkout events listen`: the real command, as a developer runs it, against the API
served on a port: it registers a temporary endpoint, prints each verified event, refuses a
forged one, and removes the endpoint on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook
from tests.checkout.helpers import API
from tests.events.conftest import free_port
from tests.events.test_delivery import one_event
from tests.webhooks.test_live_delivery import ServedApp

CLI = Path(sys.executable).parent / "estuary-checkout"


def _env(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **os.environ,
        "CHECKOUT_ENV": "dev",
        "CHECKOUT_JWT_SECRET": settings.jwt_secret,
        "CHECKOUT_DATABASE_URL": settings.database_url,
        "COLUMNS": "200",
        "TERM": "dumb",
    }


async def _read_until(stream, needle: str, timeout: float = 20) -> str:  # type: ignore[no-untyped-def]
    seen = ""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            line = await asyncio.to_thread(stream.readline)
            if not line:
                raise AssertionError(f"the command ended before printing {needle!r}: {seen}")
            seen += line
    return seen


async def test_listen_prints_verified_events_and_cleans_up(
    settings, clean_events, relay, factory, paid_order, admin_headers
):
    port = free_port()
    with ServedApp(settings) as served:
        proc = subprocess.Popen(
            [
                str(CLI),
                "events",
                "listen",
                "--port",
                str(port),
                "--api",
                served.url,
                "--type",
                "order.completed",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(settings),
        )
        try:
            ready = await _read_until(proc.stdout, "Ready!")
            assert f"http://127.0.0.1:{port}/" in ready and "order.completed" in ready
            async with httpx.AsyncClient(base_url=served.url, headers=admin_headers) as api:
                (endpoint,) = (await api.get(f"{API}/admin/webhook-endpoints")).json()["data"]
                assert endpoint["description"] == "estuary-checkout events listen (temporary)"

                order_id = await one_event(factory, paid_order)
                await relay().drain()
                printed = await _read_until(proc.stdout, order_id)
                assert "order.completed" in printed and "status=completed" in printed

                # a request not signed with the endpoint's secret is refused and said so
                body = '{"id":"evt_forged","type":"order.completed","created_at":"x","data":{}}'
                forged = Webhook("whsec_" + "C" * 43 + "=").sign("evt_forged", datetime.now(UTC), body)
                async with httpx.AsyncClient() as outsider:
                    r = await outsider.post(
                        f"http://127.0.0.1:{port}/",
                        content=body,
                        headers={
                            "webhook-id": "evt_forged",
                            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
                            "webhook-signature": forged,
                        },
                    )
                assert r.status_code == 400
                await _read_until(proc.stdout, "refused a request")

                proc.send_signal(signal.SIGINT)
                rest = await asyncio.to_thread(proc.communicate, timeout=20)
                assert proc.returncode == 0, rest
                assert "endpoint removed" in rest[0]
                assert (await api.get(f"{API}/admin/webhook-endpoints")).json()["data"] == []
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
