#!/usr/bin/env python3
"""Run the reliability suite and write ``docs/reliability.md`` from the figures of that run.

    python scripts/reliability_report.py              # the short suite, as CI runs it
    python scripts/reliability_report.py --soak       # the long versions (RECON_SOAK=1)
    python scripts/reliability_report.py -- -x        # extra arguments go to pytest

The tests write what they tried and survived to a JSON file (``RECON_RELIABILITY_STATS``);
this script points them at a fresh file, runs ``pytest tests/reliability``, and renders the
page from that file and pytest's JUnit XML. The page is written even when tests fail (it then
says so); the exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "reliability.md"
STATS_ENV = "RECON_RELIABILITY_STATS"
SOAK_ENV = "RECON_SOAK"
SUITE = "tests/reliability"

OUTCOME_LABELS = {
    "completed": "completed",
    "not_current_target": "NotCurrentTarget",
    "retries_exhausted": "TransactionRetriesExhausted",
    "serialization_failure": "serialization failure",
    "unexpected": "unexpected (a failure)",
}


@dataclass(frozen=True)
class TestCase:
    name: str
    outcome: str
    seconds: float


@dataclass(frozen=True)
class Run:
    soak: bool
    exit_status: int
    wall_s: float
    finished: datetime
    tests: list[TestCase]
    figures: dict[str, Any]

    @property
    def sections(self) -> dict[str, dict[str, Any]]:
        sections: dict[str, dict[str, Any]] = self.figures.get("sections", {})
        return sections

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for test in self.tests:
            counts[test.outcome] = counts.get(test.outcome, 0) + 1
        return counts


# --- running ----------------------------------------------------------------------------------


def run_suite(soak: bool, extra: list[str], scratch: Path) -> Run:
    stats, junit = scratch / "figures.json", scratch / "junit.xml"
    env = dict(os.environ)
    env[STATS_ENV] = str(stats)
    if soak:
        env[SOAK_ENV] = "1"
    else:
        env.pop(SOAK_ENV, None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        SUITE,
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        *extra,
    ]
    print("$", " ".join(command), flush=True)
    began = time.monotonic()
    status = subprocess.call(command, cwd=ROOT, env=env)
    wall_s = time.monotonic() - began
    figures = json.loads(stats.read_text()) if stats.exists() else {}
    tests = read_junit(junit) if junit.exists() else []
    return Run(soak, status, wall_s, datetime.now(UTC), tests, figures)


def read_junit(path: Path) -> list[TestCase]:
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314 - our own file
        outcome = "passed"
        for child in case:
            if child.tag in {"failure", "error"}:
                outcome = "failed" if child.tag == "failure" else "error"
            elif child.tag == "skipped":
                outcome = "skipped"
        module = case.get("classname", "").rsplit(".", 1)[-1]
        tests.append(
            TestCase(f"{module}::{case.get('name', '')}", outcome, float(case.get("time", 0)))
        )
    return tests


# --- rendering --------------------------------------------------------------------------------


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _fault_rows(sections: dict[str, dict[str, Any]]) -> tuple[int, int, list[list[str]]]:
    points = survived = 0
    rows = []
    for name, figures in sorted(sections.items()):
        if not name.startswith("fault_injection."):
            continue
        points += figures["injection_points"]
        survived += figures["injection_points_survived"]
        rows.append(
            [
                name.removeprefix("fault_injection.").replace("_", " "),
                _n(figures["statements_in_step_transaction"]),
                f"{figures['injection_points_survived']} of {figures['injection_points']}",
                _n(figures["rows_checked"]),
                _n(figures["rows_lost"]),
            ]
        )
    return points, survived, rows


def _grouped(tests: list[TestCase]) -> list[list[str]]:
    """One row per test function (parametrized cases together), in run order."""
    groups: dict[str, list[TestCase]] = {}
    for test in tests:
        groups.setdefault(test.name.split("[", 1)[0], []).append(test)
    rows = []
    for name, cases in groups.items():
        outcomes: dict[str, int] = {}
        for case in cases:
            outcomes[case.outcome] = outcomes.get(case.outcome, 0) + 1
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        rows.append([f"`{name}`", str(len(cases)), summary, f"{sum(c.seconds for c in cases):.1f}"])
    return rows


def _stale_summary(stale: dict[str, dict[str, Any]]) -> str:
    refused = [
        f
        for n, f in stale.items()
        if n != "stale_executor.target_set_not_run"
        and f.get("stale_outcome") == "NotCurrentTarget"
        and f.get("first_attempt_sqlstate") == "40001"
    ]
    ran = len(stale) - ("stale_executor.target_set_not_run" in stale)
    text = (
        f"{len(refused)} of {ran} refused to commit (serialization failure, then"
        " `NotCurrentTarget`; tables equal the new target's run)"
    )
    unrun = stale.get("stale_executor.target_set_not_run")
    if unrun is not None:
        text += (
            f"; new target set but not run: stale run {unrun['stale_outcome']}, next run"
            f" {unrun['next_run']}"
        )
    return text


def rows_lost(sections: dict[str, dict[str, Any]]) -> int:
    return sum(int(f.get("rows_lost", 0)) for f in sections.values())


def render(run: Run) -> str:
    sections = run.sections
    environment = sections.get("environment", {})
    machine = run.figures.get("machine", {})
    counts = run.counts()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no tests"
    mode = "long (soak) suite, `RECON_SOAK=1`" if run.soak else "short suite (as in CI)"
    status = (
        "all passed" if run.exit_status == 0 else f"FAILED (pytest exit status {run.exit_status})"
    )

    out: list[str] = [
        "# Reliability",
        "",
        "Generated by `scripts/reliability_report.py` from the figures its last run collected;",
        "do not edit by hand. What each test proves is written at the top of its module in",
        "`tests/reliability/`.",
        "",
        f"- Run: {run.finished:%Y-%m-%d %H:%M} UTC, {mode}.",
        f"- Result: **{status}** — {summary}; {run.wall_s:.0f} s wall clock.",
        f"- Machine: {machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')},"
        f" {environment.get('database', 'PostgreSQL')} ({environment.get('server', '?')}).",
        "",
        "## What is shown",
        "",
        "- **No partial writes.** A connection killed before any statement of step 1's",
        "  transaction, or before its COMMIT, and the server stopped during a run, leave both",
        "  networking tables exactly as they were (every column of every row).",
        "- **No lost rows.** Rows are only ever soft-deleted: no row disappears, comes back to",
        "  life or changes once deleted, under faults, concurrency and random sequences.",
        "- **No two live owners of one address.** At every sample of the concurrent run and after",
        "  every action of the model-based test: no external IP with overlapping ports, NIC IP,",
        "  MAC or NIC slot is held by two live rows.",
        "- **No executor acts on a blueprint that is no longer the target.** An executor paused",
        "  after its target check while another realizes a newer target cannot commit: its",
        "  transaction fails to serialize, and its retry stops with `NotCurrentTarget`.",
        "- **Never stuck.** After faults, restarts and any interleaving, the next run converges",
        "  with no operator action; bad input is refused cleanly (exit 2), never with a crash.",
        "",
        "## Figures",
        "",
    ]

    points, survived, fault_rows = _fault_rows(sections)
    restarts = sum(
        int(f.get("restarts", 0)) for n, f in sections.items() if n.startswith("server_restart.")
    )
    concurrency = sections.get("concurrency", {})
    model = sections.get("model", {})
    parse = sections.get("fuzz.parse_and_lint", {})
    cli_import = sections.get("fuzz.cli_import", {})
    cli_args = sections.get("fuzz.cli_arguments", {})
    free_text = sections.get("fuzz.free_text", {})
    times = sections.get("fuzz.creation_time", {})
    stale = {n: f for n, f in sections.items() if n.startswith("stale_executor.")}
    runs_by_outcome = concurrency.get("runs_by_outcome", {})
    fuzz_total = sum(
        int(section.get(key, 0))
        for section, key in (
            (parse, "examples"),
            (cli_import, "examples"),
            (cli_args, "invocations"),
            (free_text, "values_checked"),
            (times, "values_checked"),
        )
    )
    rows = [
        ["injection points survived (connection killed)", f"{survived} of {points}"],
        ["server stops and restarts survived", _n(restarts)],
        [
            "concurrent processes",
            f"{concurrency.get('executor_processes', '?')} executors +"
            f" {concurrency.get('planner_processes', '?')} planner",
        ],
        [
            "concurrent run duration",
            f"{concurrency.get('planned_duration_s', '?')} s of load"
            f" ({concurrency.get('duration_s', '?')} s with start-up and checks)",
        ],
        [
            "executor runs under concurrency",
            f"{_n(concurrency.get('runs_total', 0))}: "
            + ", ".join(
                f"{OUTCOME_LABELS.get(k, k)} {_n(v)}" for k, v in sorted(runs_by_outcome.items())
            ),
        ],
        [
            "step retries absorbed in completed runs",
            _n(concurrency.get("step_retries_of_completed_runs", 0)),
        ],
        ["targets set by the planner process", _n(concurrency.get("new_targets", 0))],
        [
            "repairs under concurrency (rows of zones never created)",
            _n(concurrency.get("repairs", 0)),
        ],
        ["table samples taken during the run", _n(concurrency.get("monitor_samples", 0))],
        ["stale-executor scenarios", _stale_summary(stale)],
        [
            "model-based examples (steps each at most)",
            f"{_n(model.get('examples', 0))} ({model.get('max_steps_per_example', '?')})",
        ],
        [
            "model-based executions: normal, killed, repairs made",
            f"{_n(model.get('executions', 0))}, {_n(model.get('killed_executions', 0))},"
            f" {_n(model.get('repairs', 0))}",
        ],
        ["fuzz examples tried (all kinds)", _n(fuzz_total)],
        [
            "blueprint documents parsed and linted",
            f"{_n(parse.get('examples', 0))} (invalid {_n(parse.get('invalid', 0))}, lint"
            f" findings {_n(parse.get('valid_with_lint_findings', 0))}, clean"
            f" {_n(parse.get('valid_and_lint_clean', 0))})",
        ],
        [
            "documents through `recon blueprint import`",
            f"{_n(cli_import.get('examples', 0))} (refused {_n(cli_import.get('refused', 0))},"
            f" stored {_n(cli_import.get('stored', 0))}, id conflicts"
            f" {_n(cli_import.get('content_conflicts', 0))});"
            f" and {_n(free_text.get('values_checked', 0))} free-text and"
            f" {_n(times.get('values_checked', 0))} creation-time values",
        ],
        [
            "random `recon` command lines",
            f"{_n(cli_args.get('invocations', 0))} (exit 0: {_n(cli_args.get('exit_0', 0))},"
            f" 1: {_n(cli_args.get('exit_1', 0))}, 2: {_n(cli_args.get('exit_2', 0))})",
        ],
        ["**rows lost**", f"**{rows_lost(sections)}**"],
    ]
    out += _table(["figure", "value"], rows)

    per_process = concurrency.get("runs_per_process", {})
    if per_process:
        keys = sorted({k for outcomes in per_process.values() for k in outcomes})
        out += ["", "### Runs per executor process", ""]
        out += _table(
            ["process", *(OUTCOME_LABELS.get(k, k) for k in keys), "total"],
            [
                [name, *(_n(outcomes.get(k, 0)) for k in keys), _n(sum(outcomes.values()))]
                for name, outcomes in sorted(per_process.items())
            ],
        )
        actions = concurrency.get("planner_actions", {})
        if actions:
            out += [
                "",
                "Planner process: "
                + ", ".join(f"{k.replace('_', ' ')} {_n(v)}" for k, v in sorted(actions.items()))
                + f"; final target: {concurrency.get('final_in_service_zones', '?')} in-service"
                f" and {concurrency.get('final_expunged_zones', '?')} expunged zones with"
                " external networking.",
            ]

    if fault_rows:
        out += ["", "### Fault injection", ""]
        out += _table(
            ["converging state", "statements in step 1", "points survived", "rows checked", "lost"],
            fault_rows,
        )
        statements = next(
            (
                f["statements"]
                for n, f in sorted(sections.items())
                if n.startswith("fault_injection.") and f.get("statements")
            ),
            [],
        )
        if statements:
            out += [
                "",
                "The statements of step 1's transaction (killed before each, then COMMIT):",
                "",
            ]
            out += [f"{i}. `{s}…`" for i, s in enumerate(statements)]

    if model:
        out += ["", "### Model-based test", ""]
        skip = {"examples", "max_examples", "max_steps_per_example"}
        out += _table(
            ["counter", "value"],
            [[k.replace("_", " "), _n(v)] for k, v in sorted(model.items()) if k not in skip],
        )

    if run.tests:
        out += ["", "### Tests", ""]
        out += _table(["test", "cases", "outcome", "seconds"], _grouped(run.tests))

    out += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "python scripts/reliability_report.py          # the short suite; rewrites this page",
        "python scripts/reliability_report.py --soak   # the long versions (RECON_SOAK=1)",
        "python -m pytest tests/reliability -q         # the suite alone",
        "RECON_SOAK=1 python -m pytest tests/reliability -q",
        "```",
        "",
        "Every test is seeded and Hypothesis runs derandomized, so a failure reproduces with the",
        "same command; only the interleavings of the concurrent run (and so its counts) differ",
        "from run to run. The figures of a plain pytest run are written to",
        "`$RECON_RELIABILITY_STATS` (default: `recon-reliability-stats.json` in the temporary",
        "directory).",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--soak", action="store_true", help="run the long versions")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="page to write")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recon-reliability-") as scratch:
        run = run_suite(args.soak, args.pytest_args, Path(scratch))
    if not run.figures:
        print("error: the tests wrote no figures; nothing to report", file=sys.stderr)
        return run.exit_status or 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(run))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"wrote {shown}")
    return run.exit_status


if __name__ == "__main__":
    sys.exit(main())
