"""The report: docs/benchmarks.md between its markers (the rest of the file is hand-written and
kept) and docs/benchmark.png, from the context bench/run.py collected."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

from bench.common import (
    ALL_SCENARIOS,
    AVAIL_PRACTITIONER,
    AVAIL_SERVICE,
    BENCH_PRACTITIONERS,
    READ_SCENARIOS,
    SEED_USERS,
    UVICORN_FLAGS,
    Mode,
)
from bench.roundtrips import RoundTrips

MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"

LABELS = {
    "hello": "hello (baseline: bare FastAPI, parse body)",
    "db": "db (baseline: bare FastAPI + same DB round trips)",
    "calc": "calculate-price",
    "db-slots": "db-slots (baseline: bare FastAPI + the listing's DB round trips and rows)",
    "slots": "availability listing (7 days, busy calendar)",
    "create": "create (single session, PaymentIntent at emulator)",
    "flow": "create → pay at emulator → confirm (completed orders)",
}
# the database baseline each scenario's `vs db` column divides by
DB_BASELINE = {"db-slots": "db-slots", "slots": "db-slots"}

CPU_COLUMNS = ("api", "baseline", "postgres", "emulator", "worker", "temporal", "loadgen")
# the targets for the final line's ratios
RATIO_TARGETS = {
    "calc_vs_db": (0.8, "≥"),
    "slots_vs_db": (0.8, "≥"),
    "create_vs_hello": (0.10, "≥"),
    "flow_vs_hello": (0.03, "≥"),
    "growth_p99": (1.3, "≤"),
}


def ratios_of(
    results: dict[tuple[str, int], dict[str, Any]], growth: list[dict[str, Any]], c: int
) -> dict[str, float]:
    """The closing line's ratios, at `c` clients."""
    tp = {s: results[(s, c)]["throughput"] for s in ALL_SCENARIOS}
    return {
        "calc_vs_db": tp["calc"] / tp["db"],
        "slots_vs_db": tp["slots"] / tp["db-slots"],
        "create_vs_hello": tp["create"] / tp["hello"],
        "flow_vs_hello": tp["flow"] / tp["hello"],
        "growth_p99": growth[-1]["calc"]["p99_ms"] / growth[0]["calc"]["p99_ms"],
    }


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    import importlib.metadata as md

    versions = {}
    for pkg in ("fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "asyncpg", "stripe", "uvloop"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[pkg] = md.version(pkg)
    return {
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs)",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def cpu_section(ctx: dict[str, Any]) -> list[str]:
    """Where one operation's CPU goes, and what CPU per operation the targets leave."""
    res: dict[tuple[str, int], dict[str, Any]] = ctx["results"]
    c = max(ctx["mode"].concurrencies)
    if "cpu_ms_per_op" not in res[("hello", c)]:
        return []
    ncpu = os.cpu_count() or 1
    lines = [
        "",
        f"### Where the CPU of one operation goes ({c} clients)",
        "",
        "CPU time (user + system, from `/proc`) each process used during the measured window, divided "
        "by the operations completed in it: ms of CPU per request (per completed order for flow). "
        "`postgres` is every PostgreSQL process; `loadgen` is the load generator.",
        "",
        "| scenario | " + " | ".join(CPU_COLUMNS) + " | total |",
        "|---|" + "---:|" * (len(CPU_COLUMNS) + 1),
    ]
    for sc in ALL_SCENARIOS:
        cpu = res[(sc, c)]["cpu_ms_per_op"]
        cells = [cpu.get(k, 0.0) for k in CPU_COLUMNS]
        lines.append(f"| {sc} | " + " | ".join(fmt(v, 2) for v in cells) + f" | {fmt(sum(cells), 2)} |")
    hello = res[("hello", c)]["throughput"]
    lines += [
        "",
        f"What the targets ask for, on this machine's {ncpu} CPUs: the target rate is the ratio × "
        f"hello's {fmt(hello)} req/s, and {ncpu} CPU-seconds per second shared by every process "
        "allow at most this much CPU per operation:",
        "",
        "| scenario | target rate /s | CPU budget per op (ms) | measured total (ms) | Temporal + worker alone (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for sc in ("create", "flow"):
        ratio = RATIO_TARGETS[f"{sc}_vs_hello"][0]
        cpu = res[(sc, c)]["cpu_ms_per_op"]
        total = sum(cpu.get(k, 0.0) for k in CPU_COLUMNS)
        rate = ratio * hello
        lines.append(
            f"| {sc} | {fmt(rate)} | {fmt(ncpu * 1000 / rate, 2)} | {fmt(total, 2)} | "
            f"{fmt(cpu.get('temporal', 0.0) + cpu.get('worker', 0.0), 2)} |"
        )
    return lines


def availability_section(ctx: dict[str, Any]) -> list[str]:
    av = ctx["availability"]
    rt: RoundTrips = ctx["round_trips"]["slots"]
    return [
        "",
        "### The availability scenario",
        "",
        f"`GET /catalog/availability?service_id={AVAIL_SERVICE}&practitioner_id={AVAIL_PRACTITIONER}"
        f"&from={av['from']}&to={av['to']}`: demo practitioner {AVAIL_PRACTITIONER} (Maya Chen, UTC, "
        f"08:00–20:00 every day, step 15, buffer 0) and her 60-minute service {AVAIL_SERVICE}, "
        f"{av['days']} whole days starting {av['first_day']} days ahead. {av['bookings']:,} confirmed "
        "30-minute bookings in the range, seeded in SQL (back to back outside her hours, and the first "
        "hour of every three inside them), so each listing reads them all and returns "
        f"**{rt.response.get('slots', 0)}** of the range's {av['grid_starts']} grid starts "
        f"({fmt(rt.response['bytes'] / 1024)} KiB of JSON). The `db-slots` baseline parses the same "
        "query string and makes the listing's round trips with the listing's reads (the service, its "
        "children and prices, the practitioner with her windows, her time off, the same booking rows), "
        "and computes nothing.",
    ]


def round_trips_section(ctx: dict[str, Any]) -> list[str]:
    calc: RoundTrips = ctx["round_trips"]["calc"]
    slots: RoundTrips = ctx["round_trips"]["slots"]

    def how(rt: RoundTrips) -> str:
        return (
            f"{rt.checkouts} pool checkout{'s' if rt.checkouts != 1 else ''} "
            f"(transaction{'s' if rt.checkouts != 1 else ''}) with "
            f"{' + '.join(map(str, rt.plan))} statements"
        )

    lines = [
        "",
        "### Database round trips of one request",
        "",
        "Measured on the wire (PostgreSQL Sync/Query messages through a counting proxy, after "
        "warm-up); each checkout also costs BEGIN and COMMIT (plus 3 round trips of SQLAlchemy's "
        "pre-ping where `CHECKOUT_DB_POOL_PRE_PING` is on; off by default).",
        "",
        f"**calculate-price: {calc.service:g}** per request; the `db` baseline makes "
        f"**{calc.baseline:g}**. They come from {how(calc)}:",
        "",
    ]
    lines += [f"{i + 1}. `{s}`" for i, s in enumerate(calc.statements)]
    lines += [
        "",
        f"**availability listing: {slots.service:g}** per request; the `db-slots` baseline makes "
        f"**{slots.baseline:g}**. They come from {how(slots)}:",
        "",
    ]
    lines += [f"{i + 1}. `{s}`" for i, s in enumerate(slots.statements)]
    return lines


def rss_section(ctx: dict[str, Any]) -> list[str]:
    rss: dict[str, dict[str, dict[str, float]]] = ctx["rss"]
    start, mid, end = rss["start"], rss.get("after_reads", {}), rss["end"]
    lines = [
        "",
        "### Resident memory of the serving processes",
        "",
        "VmRSS from `/proc/<pid>/status`, summed over each process's group (the process and anything "
        "it forked), when the stack is up before the first window, after the read-only windows, and "
        "after the last window; growth is end − start. Startup-time caches, pools filling and "
        "allocator high-water marks show up as some growth; a leak shows as growth that scales with "
        "the requests served (compare runs of different lengths).",
        "",
        "| process | processes | RSS start MB | after read windows MB | RSS end MB | growth MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in start:
        s, e = start[name]["rss_mb"], end.get(name, {}).get("rss_mb", float("nan"))
        m = mid.get(name, {}).get("rss_mb", float("nan"))
        lines.append(
            f"| {name} | {int(start[name]['processes'])} | {fmt(s)} | {fmt(m)} | {fmt(e)} | {e - s:+,.1f} |"
        )
    return lines


def render_report(ctx: dict[str, Any]) -> str:
    res: dict[tuple[str, int], dict[str, Any]] = ctx["results"]
    mode: Mode = ctx["mode"]
    info = machine_info()
    lines = [
        MARK_BEGIN,
        "<!-- generated by bench/run.py (bench/report.py); edit outside the markers -->",
        "",
        f"**Last run:** {ctx['date']} · mode `{mode.name}` (warm-up + measured window: "
        f"{mode.warmup_s:g} + {mode.duration_s:g} s for hello/db/calculate-price/db-slots/availability, "
        f"{mode.write_warmup_s:g} + {mode.write_duration_s:g} s for create and flow) · "
        f"total {ctx['elapsed']:.0f} s",
        "",
        "```",
        ctx["final_line"],
        "```",
        "",
        f"| ratio ({max(mode.concurrencies)} clients) | value | target |",
        "|---|---:|---:|",
    ]
    for key, (target, op) in RATIO_TARGETS.items():
        v = ctx["ratios"][key]
        ok = v >= target if op == "≥" else v <= target
        lines.append(f"| `{key}` | {v:.3f} | {op} {target} {'✅' if ok else '❌'} |")
    lines += [
        "",
        "### Throughput and latency",
        "",
        "Closed loop: each client sends its next request when the previous one answered. Latency is "
        "per request (per completed flow for the flow row). `vs hello` / `vs db` = throughput ÷ the "
        "baseline's at the same concurrency; `vs db` divides by `db-slots` for the availability rows "
        "and by `db` for the others.",
        "",
        "| scenario | clients | req/s | p50 ms | p95 ms | p99 ms | errors | vs hello | vs db |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in mode.concurrencies:
        hello = res[("hello", c)]["throughput"]
        for s in ALL_SCENARIOS:
            r = res[(s, c)]
            base = res[(DB_BASELINE.get(s, "db"), c)]["throughput"]
            lines.append(
                f"| {LABELS[s]} | {c} | {fmt(r['throughput'])} | {fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} | "
                f"{fmt(r['p99_ms'])} | {r['errors']} | {r['throughput'] / hello:.3f} | "
                f"{r['throughput'] / base:.3f} |"
            )
    if mode.reps > 1:
        lines += [
            "",
            f"hello, db, calculate-price, db-slots and the availability listing each ran {mode.reps} "
            "times, interleaved; each row is the median window. All windows (req/s):",
            "",
        ]
        for c in mode.concurrencies:
            lines.append(
                f"* {c} clients: "
                + "; ".join(
                    f"{s} " + ", ".join(fmt(t) for t in res[(s, c)].get("all_throughputs", []))
                    for s in READ_SCENARIOS
                )
            )
    lines += availability_section(ctx)
    lines += cpu_section(ctx)
    lines += ["", "Flow steps (p50 / p99 ms, as seen by the client):", ""]
    for c in mode.concurrencies:
        steps = res[("flow", c)]["steps"]
        lines.append(
            f"* {c} clients: "
            + "; ".join(f"{k} {fmt(v['p50_ms'])} / {fmt(v['p99_ms'])}" for k, v in steps.items())
        )
    lines += rss_section(ctx)
    lines += [
        "",
        "### Latency as the orders table grows",
        "",
        "Orders seeded in SQL (completed/expired/refunded past orders of "
        f"{SEED_USERS:,} users, every CHECK satisfied), then `VACUUM ANALYZE`; "
        f"{ctx['growth_clients']} clients, {mode.growth_warmup_s:g} s warm-up + "
        f"{mode.growth_duration_s:g} s per point.",
        "",
        "| orders rows | seeding s | calc req/s | calc p50 ms | calc p99 ms | create req/s | create p50 ms | create p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    nan = {"throughput": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan")}
    for g in ctx["growth"]:
        c, k = g["calc"], g.get("create", nan)
        lines.append(
            f"| {g['rows']:,} | {g['seed_s']:.1f} | {fmt(c['throughput'])} | {fmt(c['p50_ms'])} | "
            f"{fmt(c['p99_ms'])} | {fmt(k['throughput'])} | {fmt(k['p50_ms'])} | {fmt(k['p99_ms'])} |"
        )
    if not mode.growth_create:
        lines += ["", "(create is measured at each size only in the full run.)"]
    lines += round_trips_section(ctx)
    lines += [
        "",
        "### Setup",
        "",
        f"* Machine: {info['cpu']}, {info['memory']} RAM, {info['os']}, Python {info['python']}, "
        f"{ctx['pg_version']}",
        f"* Packages: {info['packages']}",
        "* Everything on one machine: the API (one uvicorn worker), PostgreSQL, the Stripe emulator, "
        "the worker, the Temporal dev server and the load generator share the CPUs. Load average "
        f"(1/5/15 min) before the run {' '.join(ctx['loadavg'][0])}, after {' '.join(ctx['loadavg'][1])} "
        "(anything else running on the machine shows up here and in the numbers).",
        f"* Server: `uvicorn estuary_checkout.app:create_app --factory {' '.join(UVICORN_FLAGS)}`; "
        f"baselines: `uvicorn bench.baseline_app:create_app --factory` with the same flags.",
        "* Settings: `CHECKOUT_ENV=test`, a fresh PostgreSQL database per run (dropped at the end), "
        "emulator with zero latency and webhook delivery to the API, `CHECKOUT_RATE_LIMIT_PER_MINUTE` "
        "and `CHECKOUT_MAX_PENDING_ORDERS` = 1000000, `CHECKOUT_LOG_LEVEL=WARNING`.",
        f"* Load: `bench/loadgen.py` (raw asyncio HTTP/1.1 keep-alive, uvloop), one user and one "
        f"connection per client; creates use {BENCH_PRACTITIONERS} bench practitioners (one per client) "
        "available 24 h, each slot used once; calculate-price prices service 123 with practitioner 456 "
        "(`use_credits`); every availability request asks for the same range (above).",
        "",
        f"Rerun: `make bench` (full) or `make bench-quick`. Raw results: `{ctx['raw_path']}`.",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"


def write_report(ctx: dict[str, Any], path: Path) -> None:
    generated = render_report(ctx)
    if path.exists() and MARK_BEGIN in (old := path.read_text()) and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        path.write_text(head + generated + ("\n" + tail if tail else ""))
    else:
        path.write_text("# Benchmarks\n\n" + generated)


def write_chart(ctx: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = ctx["results"]
    mode: Mode = ctx["mode"]
    scen = list(ALL_SCENARIOS)
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    ax = axes[0]
    width = 0.8 / len(mode.concurrencies)
    for i, c in enumerate(mode.concurrencies):
        xs = [j + i * width for j in range(len(scen))]
        ys = [res[(s, c)]["throughput"] for s in scen]
        bars = ax.bar(xs, ys, width, label=f"{c} clients")
        ax.bar_label(bars, labels=[f"{y:.0f}" for y in ys], fontsize=7)
    ax.set_xticks([j + width * (len(mode.concurrencies) - 1) / 2 for j in range(len(scen))], scen)
    ax.set_yscale("log")
    ax.set_ylabel("requests (flows) per second")
    ax.set_title("Throughput, one uvicorn worker")
    ax.legend()
    ax = axes[1]
    c = max(mode.concurrencies)
    for k, p in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        xs = [j + k * 0.27 for j in range(len(scen))]
        ax.bar(xs, [res[(s, c)][p] for s in scen], 0.27, label=p.replace("_ms", ""))
    ax.set_xticks([j + 0.27 for j in range(len(scen))], scen)
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title(f"Latency at {c} clients")
    ax.legend()
    ax = axes[2]
    rows = [g["rows"] for g in ctx["growth"]]
    for key, label in (("calc", "calculate-price"), ("create", "create")):
        if not all(key in g for g in ctx["growth"]):
            continue
        ax.plot(rows, [g[key]["p50_ms"] for g in ctx["growth"]], "o-", label=f"{label} p50")
        ax.plot(rows, [g[key]["p99_ms"] for g in ctx["growth"]], "s--", label=f"{label} p99")
    ax.set_xscale("log")
    ax.set_xlabel("rows in orders table")
    ax.set_ylabel("ms")
    ax.set_title(f"Latency vs orders table size ({ctx['growth_clients']} clients)")
    ax.legend()
    fig.suptitle(f"Estuary Checkout benchmark ({mode.name}, {ctx['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
