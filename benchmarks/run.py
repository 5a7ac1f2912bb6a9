"""Benchmark the executor's external networking step against a per-row baseline and the floor.

Usage::

    python benchmarks/run.py [--zones 1000 10000 50000 100000] [--repeat 5] [--seed S]
                             [--json OUT] [--markdown OUT] [--database-url URL]
                             [--no-baseline] [--baseline-up-to N] [--no-process-memory]
                             [--check]

For each rack size N (zones with external networking, in the shape of
``reconfigurator.sim.scale.scaled_state``), on one fresh database per size, it measures
converging and no-op runs by fresh and by warm executors, the per-row baseline, the floor (one
SELECT of every row the step reads, one COPY of every row a converging run creates), an import
of the blueprint (``insert_blueprint``) against a raw COPY of the same rows, reading the
blueprint back from its rows and validating its JSON; prints a table of medians, statements per
run and memory peaks, and the ratios against the targets. Between repetitions of anything that
writes, the seeded state is restored (see ``benchmarks.harness``).

The database server is ``--database-url`` (a PostgreSQL server on which databases can be
created; CockroachDB is not supported here), else what the tests use
(``RECON_TEST_DATABASE_URL``, a Docker container, or an embedded PostgreSQL in a temporary
directory). ``--check`` exits with status 1 when a target measured in this run fails.
A full run (1,000, 10,000, 50,000 and 100,000 zones, 5 repetitions, the baseline up to
50,000) took 24 minutes on a shared two-core machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence, Set
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from benchmarks.harness import (
    MIB,
    SizeResult,
    TargetCheck,
    baseline_speedup,
    converging_over_floor,
    evaluate_targets,
    import_over_copy,
    machine_info,
    measure_size,
    noop_over_floor,
    process_peak_mib,
    steps_per_size,
)
from reconfigurator.db.url import normalize_url
from reconfigurator.testing import DatabaseServer, database_server, fresh_database

DEFAULT_ZONES = (1_000, 10_000, 50_000, 100_000)
#: Columns of text (left-aligned) in the tables: the second, what a row is about.
TEXT: Set[int] = frozenset({1})


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Benchmark the executor against a per-row baseline and the floor.",
    )
    parser.add_argument(
        "--zones",
        type=int,
        nargs="+",
        default=list(DEFAULT_ZONES),
        metavar="N",
        help="rack sizes: zones with external networking (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timed runs per measurement; the median is reported (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the scaled states (default: N)"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every number as JSON")
    parser.add_argument("--markdown", type=Path, metavar="OUT", help="write the tables")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server to create the databases on (default: as the tests do)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the per-row baseline (slow at 50,000)"
    )
    parser.add_argument(
        "--baseline-up-to",
        type=int,
        metavar="N",
        help="measure the per-row baseline only at sizes up to N zones (default: every size)",
    )
    parser.add_argument(
        "--no-process-memory",
        action="store_true",
        help="skip the child processes that measure a run's whole-process memory",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a measured target fails"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if any(n < 3 for n in args.zones):
        parser.error("--zones: every size must be at least 3")
    return args


@contextmanager
def server_for(url: str | None) -> Iterator[DatabaseServer]:
    scratch = Path(tempfile.mkdtemp(prefix="recon-bench-pg-"))
    if url:
        server = DatabaseServer(normalize_url(url), "PostgreSQL given by --database-url")
    else:
        server = database_server(scratch)
    try:
        if server.is_cockroachdb:
            raise SystemExit("the benchmarks need PostgreSQL (they clone and VACUUM tables)")
        yield server
    finally:
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)


# --- rendering -----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def _mib(value: int | None) -> str:
    return "—" if value is None else f"{value / MIB:,.1f}"


def result_rows(results: dict[int, SizeResult]) -> list[list[str]]:
    """One row per measurement: N, what, median, min–max, statements, memory."""
    rows = []
    for n, result in results.items():
        for m in result.measurements.values():
            statements = str(m.statements_per_run)
            if not m.statements_constant:
                statements += f" (varied: {sorted(set(m.statements))})"
            process = "—"
            if m.process_peak_rss_bytes is not None:
                before = _mib(m.process_base_rss_bytes)
                took = _ms(m.process_seconds or 0.0)
                process = (
                    f"{_mib(m.process_peak_rss_bytes)} (before the run {before}; run {took} ms)"
                )
            rows.append(
                [
                    f"{n:,}",
                    m.label,
                    _ms(m.median_s),
                    f"{_ms(min(m.seconds))}–{_ms(max(m.seconds))}",
                    statements,
                    _mib(m.python_peak_bytes),
                    process,
                ]
            )
    return rows


RESULT_COLUMNS = (
    "N",
    "measurement",
    "median ms",
    "min–max ms",
    "statements / run",
    "Python peak MiB (tracemalloc)",
    "child process: RSS peak MiB (VmHWM)",
)
TARGET_COLUMNS = ("N", "target", "measured", "bound", "result")


def target_rows(checks: list[TargetCheck]) -> list[list[str]]:
    return [
        [
            "all" if c.zones is None else f"{c.zones:,}",
            c.target if c.primary else f"{c.target} (for information)",
            c.measured,
            c.bound,
            c.verdict,
        ]
        for c in checks
    ]


def _bytes(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def ratio_rows(results: dict[int, SizeResult]) -> list[list[str]]:
    """The target ratios at every measured size."""
    rows = []
    for n, r in results.items():
        speedup = f"{baseline_speedup(r):.1f}×" if "baseline" in r.measurements else "—"
        peak = process_peak_mib(r)
        rows.append(
            [
                f"{n:,}",
                f"{noop_over_floor(r):.2f}×",
                f"{noop_over_floor(r, 'noop_warm'):.2f}×",
                "—" if peak is None else f"{peak:,.1f}",
                f"{import_over_copy(r):.2f}×",
                _bytes(r.import_info.get("largest_message_bytes")),
                _bytes(r.import_info.get("json_compact_bytes")),
                speedup,
                f"{converging_over_floor(r):.2f}×",
                f"{converging_over_floor(r, 'converging_warm'):.2f}×",
            ]
        )
    return rows


RATIO_COLUMNS = (
    "N",
    "no-op fresh executor / floor SELECT",
    "no-op re-run / floor SELECT",
    "no-op fresh executor: process RSS peak MiB",
    "import / raw COPY",
    "import: largest message, bytes",
    "blueprint as JSON, bytes",
    "baseline / no-op re-run",
    "converging fresh / (floor SELECT + INSERT)",
    "converging cached / (floor SELECT + INSERT)",
)


def rich_table(
    title: str, columns: Sequence[str], rows: list[list[str]], *, text_columns: Set[int] = TEXT
) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        if index in text_columns:
            table.add_column(column, justify="left", overflow="fold")
        else:
            table.add_column(column, justify="right", overflow="fold")
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            table.add_section()
        previous = row[0]
        style = "bold red" if row[-1] == "FAIL" else None
        table.add_row(*row, style=style)
    return table


def markdown_table(
    columns: Sequence[str], rows: list[list[str]], *, text_columns: Set[int] = TEXT
) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    align = ["---" if i in text_columns else "---:" for i in range(len(columns))]
    return "\n".join([line(columns), line(align), *(line(r) for r in rows)])


def _table_rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{table} {count:,}" for table, count in rows.items()) or "—"


def markdown_report(
    results: dict[int, SizeResult],
    checks: list[TargetCheck],
    machine: dict[str, str],
    command: str,
) -> str:
    shapes = "\n".join(
        f"- N={n:,}: {r.shape.in_service} in service (rows missing), "
        f"{r.shape.recently_expunged} recently expunged (rows live), "
        f"{r.shape.soft_deleted:,} expunged with rows soft-deleted, "
        f"{r.shape.never_created:,} expunged never created; "
        f"{r.shape.seeded_rows_per_table:,} seeded rows per table; "
        f"the floor SELECT reads {r.floor_rows_read.get('seeded', 0):,} rows (seeded) / "
        f"{r.floor_rows_read.get('converged', 0):,} (converged), "
        f"a converging run creates {r.rows_created:,} rows; "
        f"the blueprint's rows: {_table_rows(r.import_info.get('rows', {}))}"
        for n, r in results.items()
    )
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    ratios = markdown_table(RATIO_COLUMNS, ratio_rows(results), text_columns=set())
    return (
        f"Command: `{command}`\n\n"
        f"### Results\n\n{markdown_table(RESULT_COLUMNS, result_rows(results))}\n\n"
        f"### Ratios\n\n{ratios}\n\n"
        f"### Targets\n\n{markdown_table(TARGET_COLUMNS, target_rows(checks))}\n\n"
        f"### States\n\n{shapes}\n\n"
        f"### Machine\n\n{machine_lines}\n"
    )


def json_report(
    results: dict[int, SizeResult],
    checks: list[TargetCheck],
    machine: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    return {
        "config": {
            "zones": args.zones,
            "repeat": args.repeat,
            "seed": args.seed,
            "baseline": not args.no_baseline,
            "baseline_up_to": args.baseline_up_to,
            "process_memory": not args.no_process_memory,
        },
        "machine": machine,
        "results": {str(n): r.to_json() for n, r in results.items()},
        "targets": [
            {
                "target": c.target,
                "zones": c.zones,
                "measured": c.measured,
                "bound": c.bound,
                "result": c.verdict,
                "primary": c.primary,
            }
            for c in checks
        ],
    }


def _baseline_at(args: argparse.Namespace, zones: int) -> bool:
    """Whether the per-row baseline is measured at this size."""
    if args.no_baseline:
        return False
    return args.baseline_up_to is None or zones <= args.baseline_up_to


# --- main ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The library logs warnings (repairs) on every converging run; keep them off the screen.
    logging.getLogger("reconfigurator").addHandler(logging.NullHandler())
    console = Console(width=None if sys.stdout.isatty() else 200)
    results: dict[int, SizeResult] = {}
    machine: dict[str, str] = {}
    began = time.perf_counter()
    with server_for(args.database_url) as server:
        total_steps = sum(
            steps_per_size(
                args.repeat, baseline=_baseline_at(args, n), isolated=not args.no_process_memory
            )
            for n in args.zones
        )
        with Progress(
            TextColumn("[bold]{task.fields[size]}"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("starting", total=total_steps, size="")
            for n in args.zones:

                def on_step(label: str, advance: int, n: int = n) -> None:
                    progress.update(task, advance=advance, description=label, size=f"N={n:,}")

                with fresh_database(server) as engine:
                    if not machine:
                        machine = machine_info(engine, server.description)
                    results[n] = measure_size(
                        engine,
                        n,
                        repeat=args.repeat,
                        seed=args.seed,
                        baseline=_baseline_at(args, n),
                        isolated=not args.no_process_memory,
                        on_step=on_step,
                    )
    checks = evaluate_targets(results)
    console.print(rich_table("Measurements", RESULT_COLUMNS, result_rows(results)))
    console.print(rich_table("Ratios", RATIO_COLUMNS, ratio_rows(results), text_columns=set()))
    console.print(rich_table("Targets", TARGET_COLUMNS, target_rows(checks)))
    console.print(f"total {time.perf_counter() - began:,.0f} s")
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.json:
        args.json.write_text(
            json.dumps(json_report(results, checks, machine, args), indent=2, default=str) + "\n"
        )
    if args.markdown:
        args.markdown.write_text(markdown_report(results, checks, machine, command.strip()))
    failed = [c for c in checks if c.primary and c.passed is False]
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
