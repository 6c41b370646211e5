"""`estuary-checkout catalog import|export` (SPEC 10.3), through the CLI, on empty databases of
the suite's backend and on the seeded test database."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from estuary_checkout.audit.models import AuditLog
from estuary_checkout.catalog.models import Practitioner, Service, TimeOff
from estuary_checkout.catalog.transfer import parse
from estuary_checkout.cli import app
from estuary_checkout.config import get_settings
from estuary_checkout.coupons.models import Coupon
from estuary_checkout.db.session import make_engine, make_session_factory, session_scope
from estuary_checkout.seed import seed_demo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
T = TypeVar("T")

RICH: dict[str, Any] = {
    "version": 1,
    "practitioners": [
        {
            "external_id": "pr-ines",
            "name": "Inès Duarte",
            "timezone": "Europe/Lisbon",
            "buffer_minutes": 10,
            "slot_step_minutes": 30,
            "availability": [
                {"weekday": 5, "start": "18:00", "end": "24:00"},
                {"weekday": 0, "start": "12:00", "end": "17:00"},
                {"weekday": 0, "start": "09:00", "end": "12:00"},
            ],
            "time_off": [
                {
                    "start_time": "2031-08-01T00:00:00+01:00",
                    "end_time": "2031-08-15T00:00:00+01:00",
                    "reason": "summer",
                },
                {"start_time": "2031-12-24T00:00:00Z", "end_time": "2031-12-27T00:00:00Z"},
            ],
        },
        {"external_id": "pr-tom", "name": "Tom Weber", "timezone": "Europe/Berlin", "is_active": False},
    ],
    "services": [
        {
            "external_id": "sv-pack",
            "type": "package",
            "name": "Weekend Reset",
            "practitioner": "pr-ines",
            "price_cents": 15000,
            "prices": [{"currency": "eur", "amount_cents": 15000}],
            "currency": "eur",
            "package": {
                "children": [
                    {"service": "sv-massage", "quantity": 2, "discount_percentage": 15},
                    {"service": "sv-sauna", "is_required": False},
                ]
            },
        },
        {
            "external_id": "sv-massage",
            "type": "session",
            "name": "Massage",
            "description": "Deep tissue, 50 minutes.",
            "practitioner": "pr-ines",
            "currency": "eur",
            "prices": [
                {"currency": "eur", "amount_cents": 7000},
                {"currency": "usd", "amount_cents": 7600},
                {"currency": "jpy", "amount_cents": 11000},
            ],
            "duration_minutes": 50,
            "available_from": "2031-01-01T00:00:00+01:00",
            "available_until": "2032-01-01T00:00:00Z",
            "max_per_customer": 3,
        },
        {
            "external_id": "sv-sauna",
            "type": "session",
            "name": "Sauna",
            "practitioner": "pr-ines",
            "price_cents": 2500,
            "currency": "eur",
            "duration_minutes": 30,
        },
        {
            "external_id": "sv-massage-10",
            "type": "bundle",
            "name": "Ten massages",
            "practitioner": "pr-ines",
            "price_cents": 60000,
            "currency": "eur",
            "bundle": {"child_service": "sv-massage", "sessions_included": 10},
        },
        {
            "external_id": "sv-tom-talk",
            "type": "session",
            "name": "Talk",
            "practitioner": "pr-tom",
            "price_cents": 4000,
            "duration_minutes": 45,
            "is_active": False,
        },
    ],
    "coupons": [
        {
            "code": "spring",
            "percent_off": 25,
            "ends_at": "2031-06-01T00:00:00+02:00",
            "allowed_services": ["sv-massage", "sv-sauna"],
        },
        {
            "code": "TENOFF",
            "amount_off": {"usd": 1000, "eur": 900},
            "max_redemptions": 50,
            "max_per_user": 2,
            "allowed_checkout_types": ["package", "single_session"],
        },
    ],
}


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _with_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(url)
    try:
        async for session in session_scope(make_session_factory(engine)):
            result = await work(session)
        return result
    finally:
        await engine.dispose()


def count(url: str, model: Any, *where: Any) -> int:
    async def work(s: AsyncSession) -> int:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())

    return run(_with_session(url, work))


def cli(url: str, *args: str) -> Result:
    """The command as an operator runs it, against the database at `url` (settings are read
    once per process: the cache is cleared around the run so the URL is this one)."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            app, ["catalog", *args], env={"CHECKOUT_DATABASE_URL": url, "CHECKOUT_ENV": "test"}
        )
    finally:
        get_settings.cache_clear()


def tallies(result: Result) -> dict[str, tuple[int, int, int]]:
    """The created / updated / unchanged table the import prints."""
    rows = re.findall(r"│ (practitioners|services|coupons)\s*│\s*(\d+) │\s*(\d+) │\s*(\d+) │", result.stdout)
    assert len(rows) == 3, result.stdout
    return {name: (int(c), int(u), int(n)) for name, c, u, n in rows}


def write(tmp_path: Path, document: Any, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document, sort_keys=False)
    )
    return path


def export(url: str, tmp_path: Path, name: str = "out.yaml") -> dict[str, Any]:
    path = tmp_path / name
    result = cli(url, "export", str(path))
    assert result.exit_code == 0, result.stderr
    return parse(path.read_text(), as_json=name.endswith(".json"))  # type: ignore[no-any-return]


def test_import_creates_then_changes_nothing_and_round_trips(scratch_db, tmp_path):
    first_db, second_db = scratch_db(), scratch_db()
    source = write(tmp_path, RICH)
    created = cli(first_db, "import", str(source))
    assert created.exit_code == 0, created.stderr
    assert tallies(created) == {"practitioners": (2, 0, 0), "services": (5, 0, 0), "coupons": (2, 0, 0)}
    again = cli(first_db, "import", str(source))
    assert tallies(again) == {"practitioners": (0, 0, 2), "services": (0, 0, 5), "coupons": (0, 0, 2)}

    exported = export(first_db, tmp_path)
    # what the file said, in the canonical form: UTC instants, the default price out of prices,
    # children and prices sorted, windows by day and time
    ines, tom = exported["practitioners"]
    assert ines["availability"] == [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 0, "start": "12:00", "end": "17:00"},
        {"weekday": 5, "start": "18:00", "end": "24:00"},
    ]
    assert ines["time_off"][0] == {
        "start_time": "2031-07-31T23:00:00Z",
        "end_time": "2031-08-14T23:00:00Z",
        "reason": "summer",
    }
    assert (tom["is_active"], tom["availability"], tom["time_off"]) == (False, [], [])
    services = {s["external_id"]: s for s in exported["services"]}
    assert services["sv-massage"]["price_cents"] == 7000
    assert services["sv-massage"]["prices"] == [
        {"currency": "jpy", "amount_cents": 11000},
        {"currency": "usd", "amount_cents": 7600},
    ]
    assert services["sv-pack"]["package"]["children"][0] == {
        "service": "sv-massage",
        "quantity": 2,
        "is_required": True,
        "discount_percentage": 15,
    }
    assert "prices" not in services["sv-pack"]
    assert services["sv-massage-10"]["bundle"] == {
        "child_service": "sv-massage",
        "sessions_included": 10,
        "bonus_sessions": 0,
    }
    coupons = {c["code"]: c for c in exported["coupons"]}
    assert coupons["SPRING"]["allowed_services"] == ["sv-massage", "sv-sauna"]
    assert coupons["TENOFF"]["amount_off"] == {"eur": 900, "usd": 1000}

    # export → import into an empty database → export: the same document
    into_empty = cli(second_db, "import", str(tmp_path / "out.yaml"))
    assert tallies(into_empty) == {"practitioners": (2, 0, 0), "services": (5, 0, 0), "coupons": (2, 0, 0)}
    assert export(second_db, tmp_path, "again.yaml") == exported
    # and JSON is the same document
    assert export(second_db, tmp_path, "again.json") == exported
    unchanged = cli(first_db, "import", str(tmp_path / "again.json"))
    assert tallies(unchanged) == {"practitioners": (0, 0, 2), "services": (0, 0, 5), "coupons": (0, 0, 2)}


def test_updates_are_audited_under_the_import_and_a_rerun_changes_nothing(scratch_db, tmp_path):
    url = scratch_db()
    assert cli(url, "import", str(write(tmp_path, RICH))).exit_code == 0
    rows_after_create = count(url, AuditLog)
    assert count(url, AuditLog, AuditLog.actor_sub != "cli:import") == 0
    # create rows: 2 practitioners, 1 set of windows, 2 time off, 5 services, 2 coupons
    assert rows_after_create == 12

    changed = copy.deepcopy(RICH)
    changed["practitioners"][0]["time_off"] = [
        *changed["practitioners"][0]["time_off"][1:],
        {"start_time": "2031-10-01T00:00:00Z", "end_time": "2031-10-02T00:00:00Z"},
    ]
    changed["practitioners"][1]["name"] = "Tom B. Weber"
    changed["services"][2]["price_cents"] = 2700
    changed["services"][0]["package"]["children"].pop()
    changed["coupons"][1]["amount_off"] = {"usd": 1000}
    del changed["practitioners"][0]["availability"]  # left out: kept as it is
    path = write(tmp_path, changed, "changed.yaml")
    result = cli(url, "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert tallies(result) == {"practitioners": (0, 2, 0), "services": (0, 2, 3), "coupons": (0, 1, 1)}
    request_id = re.search(r"request_id (import-[0-9a-f]+)", result.stderr).group(1)  # type: ignore[union-attr]

    async def new_rows(s: AsyncSession) -> list[tuple[str, str, str | None]]:
        rows = (
            await s.execute(select(AuditLog).where(AuditLog.request_id == request_id).order_by(AuditLog.id))
        ).scalars()
        return [(r.action, r.entity, r.actor_sub) for r in rows]

    assert run(_with_session(url, new_rows)) == [
        ("delete", "time_off", "cli:import"),  # Inès: one period replaced
        ("create", "time_off", "cli:import"),
        ("update", "practitioner", "cli:import"),  # Tom's name
        ("update", "service", "cli:import"),  # sauna price
        ("update", "service", "cli:import"),  # package children
        ("update", "coupon", "cli:import"),
    ]
    assert count(url, AuditLog) == rows_after_create + 6
    # Inès kept her windows (availability left out) and the time off that stayed kept its row
    assert export(url, tmp_path)["practitioners"][0]["availability"][0] == {
        "weekday": 0,
        "start": "09:00",
        "end": "12:00",
    }
    rerun = cli(url, "import", str(path))
    assert tallies(rerun) == {"practitioners": (0, 0, 2), "services": (0, 0, 5), "coupons": (0, 0, 2)}
    assert count(url, AuditLog) == rows_after_create + 6


def test_dry_run_shows_the_table_and_writes_nothing(scratch_db, tmp_path):
    url = scratch_db()
    result = cli(url, "import", "--dry-run", str(write(tmp_path, RICH)))
    assert result.exit_code == 0, result.stderr
    assert "dry run" in result.stdout
    assert tallies(result) == {"practitioners": (2, 0, 0), "services": (5, 0, 0), "coupons": (2, 0, 0)}
    for model in (Practitioner, Service, Coupon, TimeOff, AuditLog):
        assert count(url, model) == 0, model


def test_an_invalid_file_names_every_bad_entry_and_writes_nothing(scratch_db, tmp_path):
    url = scratch_db()
    bad = copy.deepcopy(RICH)
    bad["practitioners"][1]["timezone"] = "Mars/Olympus"
    bad["practitioners"][0]["availability"].append({"weekday": 0, "start": "16:00", "end": "18:00"})
    bad["services"][0]["package"]["children"][0]["service"] = "sv-nowhere"
    bad["services"][0]["package"]["children"].append({"service": "sv-massage-10"})
    bad["services"][1]["prices"].append({"currency": "usd", "amount_cents": 1})
    bad["services"][2]["duration_minutes"] = None
    bad["services"][3]["bundle"]["child_service"] = "sv-pack"
    bad["services"][4]["external_id"] = "sv-sauna"
    bad["coupons"][0]["allowed_services"] = ["sv-massage", "ghost"]
    bad["coupons"][1]["percent_off"] = 10
    bad["services"].append(
        {"external_id": "sv-x", "type": "session", "name": "X", "practitioner": "nobody", "price_cents": -5}
    )
    bad["bogus"] = []
    result = cli(url, "import", str(write(tmp_path, bad)))
    assert result.exit_code == 1
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert "12 problem(s), nothing written" in lines[0], lines
    fields = [line.split(":")[0] for line in lines[1:] if line]
    assert fields == [
        "bogus",
        "practitioners[0].availability[3].start",
        "practitioners[1].timezone",
        "services[0].package.children[0].service",
        "services[0].package.children[2].service",
        "services[1].prices[3].currency",
        "services[2].duration_minutes",
        "services[3].bundle.child_service",
        "services[4].external_id",
        "services[5].price_cents",
        "coupons[0].allowed_services[1]",
        "coupons[1].amount_off",
    ], lines
    # the valid entries were not written either
    for model in (Practitioner, Service, Coupon, AuditLog):
        assert count(url, model) == 0, model


def test_checks_against_what_the_database_holds(scratch_db, tmp_path):
    """A file may refer to rows already there; it cannot change a service's type, or move a
    session away from the practitioner of a package (not in the file) that holds it."""
    url = scratch_db()
    assert cli(url, "import", str(write(tmp_path, RICH))).exit_code == 0
    partial = {
        "services": [
            {
                "external_id": "sv-sauna",
                "type": "bundle",
                "name": "Sauna",
                "practitioner": "pr-ines",
                "price_cents": 1,
                "bundle": {"child_service": "sv-massage", "sessions_included": 1},
            },
            {
                "external_id": "sv-massage",
                "type": "session",
                "name": "Massage",
                "practitioner": "pr-tom",
                "currency": "eur",
                "price_cents": 7000,
                "duration_minutes": 50,
            },
            {
                "external_id": "sv-new",
                "type": "bundle",
                "name": "New",
                "practitioner": "pr-ines",
                "price_cents": 100,
                "currency": "eur",
                "bundle": {"child_service": "sv-pack", "sessions_included": 1},
            },
        ]
    }
    result = cli(url, "import", str(write(tmp_path, partial, "partial.yaml")))
    assert result.exit_code == 1
    fields = [line.strip().split(":")[0] for line in result.stderr.splitlines()[1:]]
    assert fields == [
        "services[0].bundle.child_service",  # sv-massage moves to Tom in the same file
        "services[0].type",
        "services[1].practitioner",  # the package sv-pack (and the bundle) hold it
        "services[1].practitioner",
        "services[2].bundle.child_service",
    ], result.stderr
    # an entry that only refers to rows already there is fine
    ok = {
        "services": [
            {
                "external_id": "sv-extra",
                "type": "bundle",
                "name": "Three saunas",
                "practitioner": "pr-ines",
                "price_cents": 6000,
                "currency": "eur",
                "bundle": {"child_service": "sv-sauna", "sessions_included": 3},
            }
        ]
    }
    result = cli(url, "import", str(write(tmp_path, ok, "ok.json")))
    assert tallies(result) == {"practitioners": (0, 0, 0), "services": (1, 0, 0), "coupons": (0, 0, 0)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("practitioners: [\n  - {name: x", "not valid YAML"),
        ("- just\n- a list\n", "(file): the file must hold a mapping"),
        ("version: 2\n", "version: this importer reads version 1"),
        ("practitioners: {}\n", "practitioners: must be a list"),
    ],
)
def test_unreadable_files(scratch_db, tmp_path, text, message):
    url = scratch_db()
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = cli(url, "import", str(path))
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert cli(url, "import", str(tmp_path / "missing.yaml")).exit_code == 2


def test_unquoted_times_of_day_stay_times(scratch_db, tmp_path):
    """YAML 1.1 reads an unquoted 12:00 as the number 720; the importer reads it as written."""
    url = scratch_db()
    path = tmp_path / "plain.yaml"
    path.write_text(
        "practitioners:\n"
        "  - external_id: pr-plain\n    name: Plain\n    timezone: UTC\n"
        "    availability:\n      - {weekday: 1, start: 08:30, end: 12:00}\n      - {weekday: 1, start: 13:00, end: 24:00}\n"
    )
    result = cli(url, "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert export(url, tmp_path)["practitioners"][0]["availability"] == [
        {"weekday": 1, "start": "08:30", "end": "12:00"},
        {"weekday": 1, "start": "13:00", "end": "24:00"},
    ]


def test_export_of_the_demo_catalog_is_the_example_file(scratch_db, tmp_path):
    url = scratch_db()
    run(_with_session(url, seed_demo))
    assert export(url, tmp_path) == parse(EXAMPLE.read_text(), as_json=False)


def test_the_example_imports_unchanged_into_the_seeded_test_database(database_url, app_state):
    before = count(database_url, AuditLog)
    result = cli(database_url, "import", str(EXAMPLE))
    assert result.exit_code == 0, result.stderr
    assert tallies(result) == {"practitioners": (0, 0, 2), "services": (0, 0, 6), "coupons": (0, 0, 2)}
    assert count(database_url, AuditLog) == before


def test_export_refuses_rows_a_file_cannot_name(scratch_db, tmp_path):
    url = scratch_db()
    assert cli(url, "import", str(write(tmp_path, RICH))).exit_code == 0

    async def unnamed(s: AsyncSession) -> int:
        p = Practitioner(name="No External Id", timezone="UTC")
        s.add(p)
        await s.flush()
        return p.id

    pid = run(_with_session(url, unnamed))
    result = cli(url, "export")
    assert result.exit_code == 1
    assert f"practitioner {pid}" in result.stderr and result.stdout == ""
    # to stdout (YAML) when all rows can be named
    clean = scratch_db()
    assert cli(clean, "import", str(EXAMPLE)).exit_code == 0
    out = cli(clean, "export")
    assert out.exit_code == 0
    assert parse(out.stdout, as_json=False) == parse(EXAMPLE.read_text(), as_json=False)
