"""Load windows: one bench/loadgen.py process per window, with every process's CPU time sampled
across the measured part, and settle() between windows so none pays for another's aftermath."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log
from bench.seeding import pg
from bench.stack import Stack

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOADGEN_STARTUP_S = 0.3  # about how long the load generator takes to start before its clock runs


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _postgres_cpu_s() -> float:
    """All PostgreSQL processes on the machine (server and backends; pooled backends live on)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(entry.path, "comm").read_text().strip() == "postgres":
                    total += _cpu_s(int(entry.name))
            except OSError:
                continue
    return total


def cpu_snapshot(stack: Stack, loadgen_pid: int) -> dict[str, float]:
    snap = {name: _cpu_s(proc.pid) for name, proc in stack.procs}
    snap["postgres"] = _postgres_cpu_s()
    snap["loadgen"] = _cpu_s(loadgen_pid)
    return snap


def run_window(
    stack: Stack, scenario: str, concurrency: int, warmup: float, duration: float, extra: dict[str, Any]
) -> dict[str, Any]:
    """One load window. Also samples every process's CPU time across (about) the measured part,
    so the report can say where the CPU of one operation goes."""
    stack.check_alive()
    cfg = {
        "scenario": scenario,
        "concurrency": concurrency,
        "warmup_s": warmup,
        "duration_s": duration,
        "max_ops_per_client": 1_000_000,
        "grace_s": 60,
        **extra,
    }
    path = stack.workdir / f"load-{scenario}-{concurrency}.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(LOADGEN_STARTUP_S + warmup)
    before, t0 = cpu_snapshot(stack, proc.pid), time.monotonic()
    time.sleep(duration)
    after, t1 = cpu_snapshot(stack, proc.pid), time.monotonic()
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {scenario}/{concurrency} failed: {stderr[-2000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    ops = result["throughput"] * (t1 - t0)
    result["cpu_ms_per_op"] = {
        name: (after[name] - before.get(name, after[name])) * 1000 / ops if ops else float("nan")
        for name in after
    }
    log(
        f"{scenario:>8} c={concurrency:<3} {result['throughput']:8.1f}/s  p50 {result['p50_ms']:7.1f}  "
        f"p95 {result['p95_ms']:7.1f}  p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}"
    )
    if result["errors"]:
        log(f"  error samples: {result['error_samples'][:3]}")
    return result


def settle(db: str, emu_url: str, stack: Stack, limit: float = 120) -> None:
    """Wait until earlier windows' aftermath is done: webhook deliveries and outbox rows (workflow
    starts the worker relays to Temporal). Bounded by `limit` seconds."""
    import httpx

    async def backlog() -> int:
        conn = await pg(db)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE dispatched_at IS NULL AND available_at <= now()"
                )
            )
        finally:
            await conn.close()

    started = time.monotonic()
    while time.monotonic() - started < limit:
        stack.check_alive()
        pending = httpx.get(f"{emu_url}/_emulator/webhook_deliveries?event_id=none", timeout=10).json()[
            "pending"
        ]
        outbox = asyncio.run(backlog())
        if not pending and not outbox:
            break
        time.sleep(0.5)
    else:
        log(f"settle: still busy after {limit:.0f} s (webhooks {pending}, outbox {outbox}); going on")
    waited = time.monotonic() - started
    if waited > 1:
        log(f"settle: {waited:.1f} s for webhooks and outbox to drain")
    time.sleep(1)
