"""Fault injection: latency, 5xx, dropped connections, per route, for N requests."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe

from estuary_checkout.stripe_emulator.server import build_state
from estuary_checkout.stripe_emulator.testing import EmulatorClient, EmulatorServer

from .conftest import make_client


@pytest.mark.parametrize("status", [500, 503])
def test_injected_errors_raise_api_error(
    client: stripe.StripeClient, emulator: EmulatorServer, status: int
) -> None:
    emulator.set_faults(error_rate=1.0, error_status=status)
    with pytest.raises(stripe.APIError) as exc:
        client.v1.customers.create()
    assert exc.value.http_status == status
    emulator.clear_faults()
    client.v1.customers.create()
    assert len(client.v1.customers.list().data) == 1  # the faulted request did not run


def test_dropped_connection_raises_api_connection_error(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_faults(drop_rate=1.0)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.list()
    assert emulator.get_faults()["drops_injected"] == 1
    emulator.clear_faults()
    assert client.v1.customers.list().data == []


async def test_dropped_connection_async(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_faults(drop_rate=1.0, route="POST /v1/payment_intents")
    with pytest.raises(stripe.APIConnectionError):
        await client.v1.payment_intents.create_async(params={"amount": 1000, "currency": "usd"})
    assert (await client.v1.customers.list_async()).data == []  # other routes unaffected


def test_drop_after_execution_then_retry_is_idempotent(
    client: stripe.StripeClient, emulator: EmulatorServer
) -> None:
    emulator.set_faults(drop_rate=1.0, route="^POST /v1/customers$", count=1, phase="after")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create(params={"name": "x"}, options={"idempotency_key": "lost-1"})
    again = client.v1.customers.create(params={"name": "x"}, options={"idempotency_key": "lost-1"})
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [c.id for c in client.v1.customers.list().data] == [again.id]


def test_route_filter_and_count(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_faults(error_rate=1.0, route="^POST /v1/payment_intents", count=2)
    client.v1.customers.create()  # not matching: fine
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})  # count exhausted
    assert pi.status == "requires_payment_method"
    faults = emulator.get_faults()
    assert faults["active"] is False and faults["errors_injected"] == 2


def test_latency(client: stripe.StripeClient, emulator: EmulatorServer) -> None:
    emulator.set_faults(latency_ms=150, route="GET /v1/customers")
    start = time.monotonic()
    client.v1.customers.list()
    assert time.monotonic() - start >= 0.14
    start = time.monotonic()
    client.v1.payment_intents.list()
    assert time.monotonic() - start < 0.14


def test_sdk_retries_through_transient_errors(emulator: EmulatorServer) -> None:
    retrying = make_client(emulator.url, retries=2)
    emulator.set_faults(error_rate=1.0, error_status=503, count=1)
    assert retrying.v1.customers.create().id.startswith("cus_")
    assert len(retrying.v1.customers.list().data) == 1


def test_control_routes_validate_and_ignore_faults(emulator: EmulatorServer) -> None:
    with pytest.raises(RuntimeError):
        emulator.set_faults(error_rate=2)
    with pytest.raises(RuntimeError):
        emulator.set_faults(error_status=404)
    with pytest.raises(RuntimeError):
        emulator.set_config(no_such_knob=1)
    emulator.set_faults(error_rate=1.0)
    assert EmulatorClient(emulator.url).health()["ok"] is True  # control routes never faulted
    resp = httpx.post(f"{emulator.url}/_emulator/faults", json={"drop_rate": 0.5, "route": "/v1/refunds"})
    assert resp.json()["drop_rate"] == 0.5 and resp.json()["route"] == "/v1/refunds"
    emulator.reset()
    assert emulator.get_faults()["active"] is False


def test_cli_style_startup_options() -> None:
    state = build_state(
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret="whsec_cli",
        error_rate=0.25,
        latency_ms=5,
        fault_route="/v1/payment_intents",
    )
    with EmulatorServer(state=state) as emu:
        faults = emu.get_faults()
        assert faults["error_rate"] == 0.25 and faults["latency_ms"] == 5
        assert faults["route"] == "/v1/payment_intents"
        emu.reset()
        eps = make_client(emu.url).v1.webhook_endpoints.list().data
        assert [e.url for e in eps] == ["http://127.0.0.1:9/hook"]  # survives reset
        assert state.store.webhook_endpoints[eps[0].id]["secret"] == "whsec_cli"


async def test_async_context_manager_and_remote_client() -> None:
    async with EmulatorServer() as emu:
        remote = EmulatorClient(emu.url)
        remote.set_faults(error_rate=1.0, count=1)
        c = make_client(emu.url)
        with pytest.raises(stripe.APIError):
            await c.v1.customers.create_async()
        assert (await c.v1.customers.create_async()).id.startswith("cus_")
        remote.reset()
        assert (await c.v1.customers.list_async()).data == []
        remote.close()
