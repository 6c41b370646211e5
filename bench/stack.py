"""The processes a run serves from: Temporal dev server, Stripe emulator, worker, API, baselines.

Each starts in its own process group and is stopped as a group (TERM, then KILL), never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import API, BIN, ROOT, UVICORN_FLAGS, WEBHOOK_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    workdir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(  # own process group: stopped as a group, never by name
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((name, proc))
        return proc

    def pid(self, name: str) -> int | None:
        return next((p.pid for n, p in self.procs if n == name), None)

    def stop_one(self, name: str) -> None:
        for i, (n, proc) in enumerate(self.procs):
            if n == name:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
                del self.procs[i]
                return

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.workdir / name}.log")

    def stop(self) -> None:
        """Stop in reverse start order (the worker before Temporal), each group TERM then KILL."""
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()


def wait_for(what: str, check: Any, timeout: float, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.25)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s; logs in {stack.workdir}")


def http_ok(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=2).status_code == 200


def start_services(
    stack: Stack, ports: dict[str, int], env: dict[str, str], workdir: Path, use_webhooks: bool
) -> None:
    """Temporal, the emulator, the API (uvicorn, one worker), the baseline app and the worker;
    returns when all of them answer."""
    cli = str(BIN / "estuary-checkout")
    api_url = f"http://127.0.0.1:{ports['api']}"
    stack.start(
        "temporal",
        [
            str(BIN / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(ports["temporal"]),
            "--ui-port",
            str(ports["temporal_ui"]),
            "--headless",
            "--db-filename",
            str(workdir / "temporal.db"),
            "--log-level",
            "error",
        ],
        env,
    )
    emu_cmd = [cli, "stripe-emulator", "--port", str(ports["emu"])]
    if use_webhooks:
        emu_cmd += [
            "--webhook-url",
            f"{api_url}{API}/webhooks/stripe",
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--webhook-events",
            "handled",  # the service's own subscription list, as a production endpoint would have
        ]
    stack.start("emulator", emu_cmd, env)
    uv = str(BIN / "uvicorn")
    stack.start(
        "api",
        [uv, "estuary_checkout.app:create_app", "--factory", "--port", str(ports["api"]), *UVICORN_FLAGS],
        env,
    )
    stack.start(
        "baseline",
        [uv, "bench.baseline_app:create_app", "--factory", "--port", str(ports["base"]), *UVICORN_FLAGS],
        env,
    )
    wait_for("temporal", lambda: port_open(ports["temporal"]), 60, stack)
    stack.start("worker", [cli, "worker"], env)
    wait_for("emulator", lambda: port_open(ports["emu"]), 30, stack)
    wait_for("api", lambda: http_ok(f"{api_url}/stripe/fastapi/stripe/ready"), 60, stack)
    wait_for("baseline", lambda: port_open(ports["base"]), 30, stack)
    time.sleep(2)
    stack.check_alive()


# ---------------------------------------------------------------------------------------------
# resident memory

RSS_PROCESSES = ("api", "worker", "emulator")  # the serving processes whose memory is reported


def _rss_kb(pid: int) -> int:
    """VmRSS of one process in kB (0 if it is gone or is a kernel thread)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _group_members(pgid: int) -> list[int]:
    """Every live process in process group `pgid` (a stack entry and anything it forked)."""
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    members.append(int(entry.name))
    return members


def rss_snapshot(stack: Stack) -> dict[str, dict[str, float]]:
    """Resident memory (MB, VmRSS summed over the process group) of each serving process."""
    snap = {}
    for name in RSS_PROCESSES:
        pid = stack.pid(name)
        if pid is None:
            continue
        members = _group_members(pid) or [pid]
        snap[name] = {"rss_mb": sum(_rss_kb(p) for p in members) / 1024, "processes": len(members)}
    return snap
