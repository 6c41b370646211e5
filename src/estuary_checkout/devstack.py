"""`estuary-checkout dev`: supervise the dev stack's processes with prefixed output.

Migrations and the demo catalog are applied first; then the Temporal dev server, the Stripe
emulator (with the API's webhook URL registered), the worker and the API start. Ctrl-C or
SIGTERM stops every child. A port already in use stops the start with one clear line.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from estuary_checkout.config import get_settings

console = Console(highlight=False)
COLORS = {"temporal": "magenta", "stripe": "cyan", "worker": "yellow", "api": "green"}
UI_PORT_OFFSET = 1000  # Temporal's web UI listens 1000 above its gRPC port (7233 → 8233)


@dataclass
class Proc:
    name: str
    cmd: list[str]
    port: int | None
    ready_port: int | None = None
    popen: subprocess.Popen[bytes] | None = None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(host, port):
            return True
        time.sleep(0.2)
    return False


def _pump(proc: Proc) -> None:
    assert proc.popen is not None and proc.popen.stdout is not None
    color = COLORS.get(proc.name, "white")
    for raw in iter(proc.popen.stdout.readline, b""):
        line = raw.decode(errors="replace").rstrip()
        console.print(f"[{color}]{proc.name:>8} |[/] {line}", markup=True, soft_wrap=True)


def _exe(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def run_dev_stack(*, start_temporal: bool = True) -> int:
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    host = settings.host
    api_url = f"http://{host}:{settings.port}"
    webhook_url = f"{api_url}/stripe/fastapi/api/v1/stripe/webhooks/stripe"
    stripe_port = int(settings.stripe_api_base.rsplit(":", 1)[-1].split("/")[0])
    cli = _exe("estuary-checkout")
    temporal_port = int(settings.temporal_address.rsplit(":", 1)[-1])
    temporal_ui_port = temporal_port + UI_PORT_OFFSET

    procs: list[Proc] = []
    if start_temporal:
        procs.append(
            Proc(
                "temporal",
                [
                    _exe("temporal"),
                    "server",
                    "start-dev",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(temporal_port),
                    "--ui-port",
                    str(temporal_ui_port),
                    "--db-filename",
                    str(settings.var_dir / "temporal.db"),
                    "--log-level",
                    "warn",
                ],
                temporal_port,
            )
        )
    procs.append(
        Proc(
            "stripe",
            [
                cli,
                "stripe-emulator",
                "--port",
                str(stripe_port),
                "--webhook-url",
                webhook_url,
                "--webhook-secret",
                settings.stripe_webhook_secret,
                "--webhook-events",
                "handled",
            ],
            stripe_port,
        )
    )
    procs.append(Proc("worker", [cli, "worker"], None))
    procs.append(Proc("api", [cli, "serve"], settings.port))

    busy = [
        p
        for p in procs
        if p.port is not None and port_in_use("127.0.0.1" if p.name != "api" else host, p.port)
    ]
    if start_temporal and port_in_use("127.0.0.1", temporal_ui_port):
        busy.append(Proc("temporal-ui", [], temporal_ui_port))
    if busy:
        for p in busy:
            console.print(
                f"[red]error:[/] port {p.port} ({p.name}) is already in use; stop what holds it or change the port"
            )
        return 2

    from estuary_checkout.cli import _seed
    from estuary_checkout.db.migrate import upgrade

    with console.status("Applying migrations…"):
        upgrade(settings.database_url)
    counts = asyncio.run(_seed())
    console.print(
        "[green]✓[/] migrations applied; demo catalog loaded: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
    )

    # A plain flag, not a threading.Event: a signal handler that calls Event.set() while the main
    # thread sits in Event.wait() deadlocks on the event's lock.
    stop_requested = False

    def _stop(*_args: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    # the children resolve the same var dir (and so the same dev secret and database) as this process
    env = {**os.environ, "CHECKOUT_VAR_DIR": str(settings.var_dir), "PYTHONUNBUFFERED": "1"}
    exit_code = 0
    try:
        for p in procs:
            p.popen = subprocess.Popen(  # noqa: S603 - our own executables
                p.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            threading.Thread(target=_pump, args=(p,), daemon=True).start()
            if p.port is not None and not _wait_port(host if p.name == "api" else "127.0.0.1", p.port, 60):
                if p.popen.poll() is not None:
                    console.print(f"[red]error:[/] {p.name} exited with {p.popen.returncode} while starting")
                    exit_code = 1
                    return exit_code
                console.print(f"[red]error:[/] {p.name} did not open port {p.port} within 60 s")
                exit_code = 1
                return exit_code
        console.rule("[bold]Estuary Checkout dev stack is up")
        console.print(f"  API          {api_url}/stripe/fastapi/stripe/health")
        console.print(f"  Swagger UI   {api_url}/stripe/fastapi/stripe/docs")
        console.print(f"  ReDoc        {api_url}/stripe/fastapi/stripe/redoc")
        console.print(f"  Stripe emu   {settings.stripe_api_base} (webhooks → {webhook_url})")
        if start_temporal:
            console.print(
                f"  Temporal UI  http://127.0.0.1:{temporal_ui_port}  (gRPC 127.0.0.1:{temporal_port})"
            )
        console.print("  Token        .venv/bin/estuary-checkout token --user-email demo@example.com")
        console.rule("Ctrl-C stops everything")
        while not stop_requested:
            for p in procs:
                if p.popen is not None and p.popen.poll() is not None:
                    console.print(f"[red]{p.name} exited with {p.popen.returncode}; stopping the stack[/]")
                    exit_code = 1
                    stop_requested = True
                    break
            time.sleep(0.5)
    finally:
        _terminate(procs)
    return exit_code


def _terminate(procs: list[Proc]) -> None:
    for p in reversed(procs):
        if p.popen is not None and p.popen.poll() is None:
            try:
                os.killpg(p.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for p in reversed(procs):
        if p.popen is None:
            continue
        try:
            p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    console.print("[dim]dev stack stopped[/]")
