"""Where an executor run spends its time.

Usage::

    python benchmarks/profile_executor.py [--zones 10000 50000] [--runs 3] [--repeat 5]
                                          [--kinds KIND …] [--no-phases]
                                          [--interval 0.0005] [--html DIR] [--json OUT]

For each rack size it seeds the scaled state (as ``benchmarks/run.py`` does), then times each
phase of a run without any profiler, calling the library's functions one by one (median of
``--repeat``; these are the numbers to trust for absolute costs), then profiles,
``--runs`` times each and aggregated: a converging run by a fresh executor, the no-op re-run
by the same executor, a no-op run by a fresh executor, and an import of the blueprint
(``insert_blueprint`` under a new id, deleted again after each run); ``--kinds`` picks some of
them, ``--no-phases`` skips the unprofiled phase timings. It prints, per run kind, the time per
phase of a run and the ten functions with the most self time.

It samples with pyinstrument (``pip install pyinstrument``): a statistical profiler whose
overhead does not depend on how many Python calls a function makes, so C-heavy code
(pydantic's validator, the driver) and Python-heavy code are compared fairly. Without it,
cProfile's ten most expensive functions by own time are printed instead (deterministic, but
it inflates Python-heavy code).

Phases: every sample goes to the innermost phase found on its call stack — reading what the
blueprint asks for from its rows (``load_blueprint_networking``, a fresh executor only), the
target check, the state SELECTs (split into the statement's execution — the round trip and the
server's work — and fetching and converting the rows), the decision, the writes, logging, the
``bp_execution`` records (with the report's serialization), commits, and the rest
(connections, transactions, SQLAlchemy, the runner). An import's phases: building the rows
from the model (the row generators of ``reconfigurator.db.blueprint_rows``, which the COPYs
consume as they go), the COPYs (psycopg formatting the rows and sending them, the server
storing them), the INSERT of the ``blueprint`` row, and the commit.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import logging
import pstats
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from uuid import UUID

if __package__ in {None, ""}:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from benchmarks.harness import Workload, frozen_heap
from benchmarks.run import server_for
from reconfigurator.db.networking.read import load_state
from reconfigurator.db.networking.stored_blueprint import load_blueprint_networking
from reconfigurator.db.networking.write import apply_plan
from reconfigurator.executor import Executor
from reconfigurator.networking import MissingRowPolicy, decide
from reconfigurator.testing import fresh_database

try:
    import pyinstrument
except ImportError:  # optional: fall back to cProfile
    pyinstrument = None  # type: ignore[assignment]

#: Phases, innermost first: a sample goes to the first phase whose frame is on its stack
#: (searching from the leaf), so building rows inside an import counts as building rows.
#: Each entry: phase, function name, file path suffix ("" matches any file).
PHASE_FRAMES: Final[tuple[tuple[str, str, str], ...]] = (
    ("logging", "", "logging/__init__.py"),
    ("import: rows built from the model (zones)", "_zone_rows", "db/blueprint_rows.py"),
    ("import: rows built from the model (NICs)", "_nic_rows", "db/blueprint_rows.py"),
    ("import: rows built from the model (sleds, disks)", "_disk_rows", "db/blueprint_rows.py"),
    ("import: NIC ids checked (check_storable)", "check_storable", "db/blueprint_rows.py"),
    ("import: COPY (format, send, store rows)", "copy_rows", "db/blueprint_rows.py"),
    ("import: INSERT blueprint row", "insert_blueprint", "db/blueprint_store.py"),
    (
        "blueprint networking read (load_blueprint_networking, 3 SELECTs)",
        "load_blueprint_networking",
        "db/networking/stored_blueprint.py",
    ),
    ("target check", "current_target", "db/targets.py"),
    ("state SELECT", "load_state", "db/networking/read.py"),
    ("decision", "decide", "networking/decide.py"),
    ("decision", "blocking_error", "networking/plan.py"),
    ("writes (UPDATE, INSERT … unnest)", "apply_plan", "db/networking/write.py"),
    ("step details (report counts, repairs)", "_details", "executor/external_networking.py"),
    ("report to JSON", "to_json", "executor/report.py"),
    ("bp_execution records", "record_start", "db/executions.py"),
    ("bp_execution records", "record_finish", "db/executions.py"),
    ("commit", "commit", "sqlalchemy/engine/base.py"),
)
#: The state SELECT is split: below this frame the statement runs (round trip, server work,
#: receiving the rows); elsewhere the rows are fetched and converted.
EXECUTE_FRAME: Final = ("_execute_context", "sqlalchemy/engine/base.py")
OTHER: Final = "other (connections, transactions, SQLAlchemy, runner)"

RUN_KINDS: Final = ("converging_cold", "noop_warm", "noop_cold", "import")
RUN_LABELS: Final = {
    "converging_cold": "converging run, fresh executor",
    "noop_warm": "no-op re-run, same executor",
    "noop_cold": "no-op run, fresh executor",
    "import": "blueprint import (insert_blueprint, committed)",
}


def _split(identifier: str) -> tuple[str, str, str]:
    parts = identifier.split("\x01", 1)[0].split("\x00")
    function = parts[0] if parts else "?"
    path = parts[1] if len(parts) > 1 else "?"
    line = parts[2] if len(parts) > 2 else "0"
    return function, path, line


def _matches(frame: tuple[str, str, str], function: str, suffix: str) -> bool:
    return (not function or frame[0] == function) and frame[1].endswith(suffix)


def phase_of(stack: Sequence[str]) -> str:
    frames = [_split(identifier) for identifier in stack]
    for depth in range(len(frames) - 1, -1, -1):
        for phase, function, suffix in PHASE_FRAMES:
            if _matches(frames[depth], function, suffix):
                if phase == "state SELECT":
                    below = frames[depth + 1 :]
                    executing = any(_matches(f, *EXECUTE_FRAME) for f in below)
                    return f"{phase}: {'execute' if executing else 'fetch + convert rows'}"
                return phase
    return OTHER


def _short(path: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


@dataclass
class Profile:
    runs: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    hotspots: list[tuple[str, float]] = field(default_factory=list)
    tool: str = "pyinstrument"


def _summarize_pyinstrument(session: Any, runs: int) -> Profile:
    phases: dict[str, float] = defaultdict(float)
    self_time: dict[str, float] = defaultdict(float)
    total = 0.0
    for stack, seconds in session.frame_records:
        total += seconds
        phases[phase_of(stack)] += seconds
        function, path, _line = _split(stack[-1])
        self_time[f"{function} ({_short(path)})"] += seconds
    ranked = sorted(self_time.items(), key=lambda item: -item[1])[:10]
    ordered = dict(sorted(phases.items(), key=lambda item: -item[1]))
    return Profile(runs, total, ordered, ranked)


def _summarize_cprofile(profiler: cProfile.Profile, runs: int, seconds: float) -> Profile:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    entries = stats.stats  # type: ignore[attr-defined]
    own = sorted(
        (
            (f"{func} ({_short(path)}:{line})", values[2])
            for (path, line, func), values in entries.items()
        ),
        key=lambda item: -item[1],
    )[:10]
    return Profile(runs, seconds, {}, own, tool="cProfile")


def profile_runs(
    runs: int,
    prepare: Callable[[], Callable[[], Any]],
    *,
    interval: float,
    html: Path | None = None,
) -> Profile:
    """Profile ``runs`` calls of what ``prepare()`` returns (``prepare`` is not profiled)."""
    if pyinstrument is not None:
        profiler = pyinstrument.Profiler(interval=interval)
        for _ in range(runs):
            run = prepare()
            profiler.start()
            run()
            profiler.stop()
        if html is not None:
            html.write_text(profiler.output_html())
        return _summarize_pyinstrument(profiler.last_session, runs)
    cprofiler = cProfile.Profile()
    seconds = 0.0
    for _ in range(runs):
        run = prepare()
        began = time.perf_counter()
        cprofiler.enable()
        run()
        cprofiler.disable()
        seconds += time.perf_counter() - began
    return _summarize_cprofile(cprofiler, runs, seconds)


def profile_size(
    work: Workload,
    runs: int,
    *,
    interval: float,
    html: Path | None,
    kinds: Sequence[str] = RUN_KINDS,
) -> dict[str, Profile]:
    """Profile converging runs, no-op re-runs, fresh executors' no-op runs and imports."""
    warm: list[Executor] = []
    imported: list[UUID] = []
    converged = [False]

    def converging() -> Callable[[], Any]:
        work.reseed()
        converged[0] = True  # once the profiled run is done
        return work.execute_fresh

    def noop_warm() -> Callable[[], Any]:
        if not warm:
            work.reseed()
            warm.append(work.executor())
            work.check_converging(work.execute(warm[0]))
            converged[0] = True
        return lambda: work.execute(warm[0])

    def noop_cold() -> Callable[[], Any]:
        if not converged[0]:
            work.reseed()
            work.check_converging(work.execute_fresh())
            converged[0] = True
        return work.execute_fresh

    def import_blueprint() -> Callable[[], Any]:
        while imported:
            work.delete_imported(imported.pop())
        blueprint = work.import_copy()
        imported.append(blueprint.id)
        return lambda: work.import_blueprint(blueprint)

    preparers = {
        "converging_cold": converging,
        "noop_warm": noop_warm,
        "noop_cold": noop_cold,
        "import": import_blueprint,
    }
    out: dict[str, Profile] = {}
    for kind in kinds:
        page = html / f"{work.shape.zones}-{kind}.html" if html is not None else None
        out[kind] = profile_runs(runs, preparers[kind], interval=interval, html=page)
        while imported:
            work.delete_imported(imported.pop())
    return out


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(repeat: int, fn: Callable[[], Any], *, gc_paused: bool = False) -> float:
    """Median ms of ``repeat`` calls, each after a full collection; ``gc_paused``: with the
    garbage collector disabled during the call (to show what collections cost)."""
    samples = []
    for _ in range(repeat):
        gc.collect()
        if gc_paused:
            gc.disable()
        try:
            began = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - began)
        finally:
            gc.enable()
    return statistics.median(samples) * 1000


def _phases_on_current_state(work: Workload, repeat: int) -> dict[str, float]:
    # First, while the heap holds nothing of this function's.
    floor = _timed(repeat, work.floor_select)
    with work.engine.connect() as conn:
        wanted = load_blueprint_networking(conn, work.blueprint_id)
    with work.engine.connect() as conn:
        current = load_state(conn, wanted)
    plan = decide(wanted, current)
    assert plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None

    def read_wanted() -> None:
        with work.engine.connect() as conn:
            load_blueprint_networking(conn, work.blueprint_id)

    def read_state() -> None:
        with work.engine.connect() as conn:
            load_state(conn, wanted)

    def write() -> None:
        with work.engine.connect() as conn, conn.begin() as transaction:
            apply_plan(conn, plan, blueprint_id=work.blueprint_id)
            transaction.rollback()

    return {
        "blueprint's networking from its rows (load_blueprint_networking)": _timed(
            repeat, read_wanted
        ),
        "state SELECTs and row conversion (load_state)": _timed(repeat, read_state),
        "  load_state with the garbage collector paused": _timed(
            repeat, read_state, gc_paused=True
        ),
        "decision (decide)": _timed(repeat, lambda: decide(wanted, current)),
        "writes (apply_plan; rolled back)": _timed(repeat, write),
        "for reference: floor SELECT of the same rows": floor,
    }


def phase_timings(work: Workload, repeat: int) -> dict[str, dict[str, float]]:
    """Unprofiled medians (ms) of each phase of a run, calling the library's own functions
    one at a time: on the seeded state (what a converging run does) and on the converged
    state (a no-op run). The writes run in a transaction that is rolled back."""
    work.reseed()
    seeded = _phases_on_current_state(work, repeat)
    work.check_converging(work.execute_fresh())
    converged = _phases_on_current_state(work, repeat)
    return {"seeded": seeded, "converged": converged}


def render_phases(console: Console, zones: int, phases: dict[str, dict[str, float]]) -> None:
    table = Table(
        title=f"N={zones:,}: phases, unprofiled (median ms, called one by one)",
        title_justify="left",
    )
    table.add_column("phase")
    table.add_column("seeded state (converging run)", justify="right")
    table.add_column("converged state (no-op run)", justify="right")
    for phase in phases["seeded"]:
        table.add_row(
            phase, f"{phases['seeded'][phase]:,.1f}", f"{phases['converged'][phase]:,.1f}"
        )
    console.print(table)


def render(console: Console, zones: int, kind: str, profile: Profile) -> None:
    per_run = profile.seconds / profile.runs
    title = (
        f"N={zones:,}: {RUN_LABELS[kind]} — {per_run * 1000:,.0f} ms per run"
        f" ({profile.runs} runs, {profile.tool})"
    )
    if profile.phases:
        table = Table(title=title, title_justify="left")
        table.add_column("phase")
        table.add_column("ms per run", justify="right")
        table.add_column("share", justify="right")
        for phase, seconds in profile.phases.items():
            table.add_row(
                phase,
                f"{seconds / profile.runs * 1000:,.1f}",
                f"{seconds / profile.seconds:.1%}",
            )
        console.print(table)
        title = "top 10 by self time"
    hot = Table(title=title, title_justify="left")
    hot.add_column("function (self time)")
    hot.add_column("ms per run", justify="right")
    hot.add_column("share", justify="right")
    for name, seconds in profile.hotspots:
        hot.add_row(
            name, f"{seconds / profile.runs * 1000:,.1f}", f"{seconds / profile.seconds:.1%}"
        )
    console.print(hot)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/profile_executor.py",
        description="Profile the executor's converging and no-op runs.",
    )
    parser.add_argument("--zones", type=int, nargs="+", default=[10_000, 50_000], metavar="N")
    parser.add_argument("--runs", type=int, default=3, help="runs per profile (aggregated)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per unprofiled phase timing (median)"
    )
    parser.add_argument(
        "--interval", type=float, default=0.0005, help="pyinstrument's sampling interval, s"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=RUN_KINDS,
        default=list(RUN_KINDS),
        help="what to profile (default: all)",
    )
    parser.add_argument(
        "--no-phases", action="store_true", help="skip the unprofiled phase timings"
    )
    parser.add_argument("--html", type=Path, metavar="DIR", help="write pyinstrument's HTML")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the summaries as JSON")
    parser.add_argument("--database-url", metavar="URL", help="as for benchmarks/run.py")
    args = parser.parse_args(argv)
    logging.getLogger("reconfigurator").addHandler(logging.NullHandler())
    console = Console(width=None if sys.stdout.isatty() else 140)
    if pyinstrument is None:
        console.print("pyinstrument is not installed: using cProfile (pip install pyinstrument)")
    if args.html is not None:
        args.html.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, Any] = {}
    with server_for(args.database_url) as server:
        for zones in args.zones:
            with fresh_database(server) as engine:
                work = Workload(engine, zones)
                with frozen_heap():
                    phases = {} if args.no_phases else phase_timings(work, args.repeat)
                    profiles = profile_size(
                        work, args.runs, interval=args.interval, html=args.html, kinds=args.kinds
                    )
            if phases:
                render_phases(console, zones, phases)
            for kind, profile in profiles.items():
                render(console, zones, kind, profile)
            summaries[str(zones)] = {"phases_ms": phases} | {
                kind: {
                    "tool": p.tool,
                    "runs": p.runs,
                    "seconds_per_run": p.seconds / p.runs,
                    "phases_seconds_per_run": {k: v / p.runs for k, v in p.phases.items()},
                    "hotspots_seconds_per_run": [(k, v / p.runs) for k, v in p.hotspots],
                }
                for kind, p in profiles.items()
            }
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
