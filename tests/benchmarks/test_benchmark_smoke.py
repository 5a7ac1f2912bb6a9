"""A fast version of ``benchmarks/run.py`` for CI: small racks, the same harness.

At 1,000 and 3,000 zones it checks what does not depend on the machine: the executor sends
the same statements whatever the number of zones. And one ratio that does: the no-op re-run
against the floor SELECT (one SELECT per table of every row the step reads), held to the
benchmark's own target of 2×. The executor classifies the rows of expunged zones on the
server and reads back only those that need work, so on the machine of
``benchmarks/RESULTS.md`` its no-op re-run takes about as long as the floor SELECT at 3,000
zones (0.8–1.0×) and well under it at 10,000 (0.4×); what it spends is mostly the fixed cost
of a run (three transactions, two committing the ``bp_execution`` record). A return to
reading every row into Python measured 3× here. The medians of 5 runs of each are compared,
with the floor SELECT run while no executor is alive (see ``benchmarks.harness``).
"""

from __future__ import annotations

import functools
from statistics import median

import pytest
from benchmarks.harness import Measurement, Recorder, Workload, frozen_heap

from reconfigurator.testing import DatabaseServer, fresh_database

SIZES = (1_000, 3_000)
REPEAT = 5
#: Bound on (no-op re-run median) / (floor SELECT median) at 3,000 zones; see the docstring.
NOOP_OVER_FLOOR_CI_BOUND = 2.0


def _measure(db_server: DatabaseServer, zones: int) -> dict[str, Measurement]:
    with fresh_database(db_server) as engine:
        work = Workload(engine, zones)
        rec = Recorder(engine)
        with frozen_heap():
            # Converging and no-op runs by fresh executors, then the floor SELECT while no
            # executor (and no cached blueprint) is alive, then a warm executor's re-runs.
            work.check_converging(rec.sample("converging_cold", work.execute_fresh))
            work.check_noop(rec.sample("noop_cold", work.execute_fresh))
            for _ in range(REPEAT):
                rec.sample("floor_select_converged", work.floor_select)
            run = functools.partial(work.execute, work.executor())
            work.check_noop(run())
            for _ in range(REPEAT):
                work.check_noop(rec.sample("noop_warm", run))
            work.reseed()
            work.check_converging(rec.sample("converging_warm", run))
        return rec.measurements


@pytest.fixture(scope="module")
def measured(db_server: DatabaseServer) -> dict[int, dict[str, Measurement]]:
    if db_server.is_cockroachdb:
        pytest.skip("the benchmark harness restores states with PostgreSQL-only statements")
    return {zones: _measure(db_server, zones) for zones in SIZES}


@pytest.mark.parametrize("run", ["converging_cold", "converging_warm", "noop_warm", "noop_cold"])
def test_statements_per_run_do_not_grow_with_zones(
    measured: dict[int, dict[str, Measurement]], run: str
) -> None:
    small, large = (measured[zones][run] for zones in SIZES)
    assert small.statements_constant
    assert large.statements_constant
    assert small.statement_kinds == large.statement_kinds
    assert small.statements_per_run == large.statements_per_run
    # The step itself: target check, three SELECTs, at most six writes (two soft-deleting
    # UPDATEs, the INSERTs of external IPs and NICs, the ranges' rcgen bump, the INSERT of
    # repairs); around it the blueprint load (fresh executor only) and the two bp_execution
    # writes.
    assert large.statements_per_run <= 13


def test_noop_rerun_is_close_to_the_floor_select(
    measured: dict[int, dict[str, Measurement]],
) -> None:
    at = measured[SIZES[-1]]
    noop, floor = at["noop_warm"], at["floor_select_converged"]
    assert len(noop.seconds) == len(floor.seconds) == REPEAT
    ratio = median(noop.seconds) / median(floor.seconds)
    assert ratio <= NOOP_OVER_FLOOR_CI_BOUND, (
        f"no-op re-run {noop.median_s * 1000:.1f} ms is {ratio:.1f}× the floor SELECT"
        f" {floor.median_s * 1000:.1f} ms at {SIZES[-1]:,} zones"
    )
