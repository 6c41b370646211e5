"""Schemathesis over the served OpenAPI schema, run as its CLI runs it: `st run --checks all`.

All checks: no 5xx; status codes, content types, headers and bodies as documented; schema-invalid
requests rejected and schema-valid ones accepted; a missing required header refused; an
undocumented method answered 405 with a true `Allow`; auth not ignored; nothing used after it was
deleted, nothing missing right after it was created. All phases: examples, coverage (boundary
values, missing parameters, other methods), fuzzing (positive and negative data), stateful
(sequences of calls along the schema's links), in deterministic mode so CI sees the same cases.

The CLI and not `case.call_and_validate()` in a loop over `operation.as_strategy()`: that reaches
the fuzzing phase only, where four of the checks (missing_required_header, unsupported_method,
use_after_free, ensure_resource_availability) never fire. The failures that are right behaviour
no schema can state are dropped by tests/security/schemathesis_hooks.py, each with its reason
(named in tests/security/schemathesis.toml).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
CONFIG = Path(__file__).with_name("schemathesis.toml")  # the hooks; no crash cache


def fuzz(
    url: str,
    token: str,
    report_dir: Path,
    *,
    include_path_regex: str | None = None,
    exclude_path_regex: str | None = None,
) -> list[str]:
    """Run `st run --checks all` against the app served at `url`; the labels of the operations it
    tested. Fails with schemathesis's own report (each failure with a curl line to replay it)."""
    junit = report_dir / "schemathesis-junit.xml"
    cmd = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/stripe/fastapi/stripe/openapi.json",
        "--url",
        f"{url}/stripe/fastapi",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--no-color",
    ]
    if include_path_regex:
        cmd += ["--include-path-regex", include_path_regex]
    if exclude_path_regex:
        cmd += ["--exclude-path-regex", exclude_path_regex]
    # cwd: the hooks module is imported by its name from the working directory
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, (
        f"schemathesis failed ({run.returncode}):\n{run.stdout[-40_000:]}\n{run.stderr}"
    )
    return [
        case.attrib["name"]
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.attrib["name"] != "Stateful tests"
    ]
