"""The daemon's Prometheus metrics, fed by the activations of its loops.

Every metric lives in a :class:`~prometheus_client.CollectorRegistry` of the daemon's own, never
in the process-wide default registry, so a library user (or a test) can run several daemons in
one process. Names:

- ``recon_activations_total{loop,outcome}``: activations of the planner and executor loops;
- ``recon_executions_total{outcome}``: executor runs, ``completed`` or ``failed`` (one per
  ``bp_execution`` row the daemon wrote);
- ``recon_step_duration_seconds{step}``: how long each executor step took (histogram);
- ``recon_networking_rows_total{table,result}``: rows of expunged and in-service zones by what a
  run did with them: ``created``, ``soft_deleted``, ``not_found``;
- ``recon_repairs_total{table}``: never-created rows met for the first time (and recorded);
- ``recon_conflicts_total{kind}``: conflicts that failed a run, by ``conflict_kind``;
- ``recon_transaction_retries_total``: retries of the executor steps' transactions after a
  serialization conflict;
- ``recon_seconds_since_last_successful_execution``: since the last completed run the daemon
  saw, or found in ``bp_execution`` when it started (NaN when there is none);
- ``recon_target_version``: the version of the target the loops last saw;
- ``recon_build_info{version}``: always 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from reconfigurator.background import EXECUTOR, PLANNER, Activation
from reconfigurator.errors import TransactionRetriesExhausted
from reconfigurator.executor import ExecutionReport, StepOutcome

#: ``Content-Type`` of the text exposition format.
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

#: Step durations range from milliseconds (nothing to do) to minutes (a huge first run).
STEP_DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

#: The report's table names, as the metrics label them.
_TABLES: Final = {"external_ips": "external_ip", "nics": "service_network_interface"}
_ROW_RESULTS: Final = ("created", "soft_deleted", "not_found")


class DaemonMetrics:
    """The metrics of one daemon; :meth:`observe` is an activation observer."""

    def __init__(self, version: str, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._last_success: float | None = None
        self.activations = Counter(
            "recon_activations",
            "Activations of the background loops, by loop and outcome.",
            ["loop", "outcome"],
            registry=self.registry,
        )
        self.executions = Counter(
            "recon_executions",
            "Executor runs by outcome (one bp_execution row each).",
            ["outcome"],
            registry=self.registry,
        )
        self.step_duration = Histogram(
            "recon_step_duration_seconds",
            "Duration of executor steps.",
            ["step"],
            buckets=STEP_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "recon_networking_rows",
            "Networking rows by what a run did with them (created, soft_deleted, not_found).",
            ["table", "result"],
            registry=self.registry,
        )
        self.repairs = Counter(
            "recon_repairs",
            "Never-created rows of expunged zones met for the first time and recorded.",
            ["table"],
            registry=self.registry,
        )
        self.conflicts = Counter(
            "recon_conflicts",
            "Conflicts that failed an executor run, by conflict kind.",
            ["kind"],
            registry=self.registry,
        )
        self.retries = Counter(
            "recon_transaction_retries",
            "Retries of executor step transactions after serialization conflicts.",
            registry=self.registry,
        )
        self.since_success = Gauge(
            "recon_seconds_since_last_successful_execution",
            "Seconds since the last completed executor run (NaN when there was none).",
            registry=self.registry,
        )
        self.since_success.set_function(self._seconds_since_success)
        self.target_version = Gauge(
            "recon_target_version",
            "Version of the current target as the loops last saw it (0: no target yet).",
            registry=self.registry,
        )
        Info("recon_build", "The daemon's version.", registry=self.registry).info(
            {"version": version}
        )
        for loop, outcomes in (
            (PLANNER, ("new_target", "unchanged", "error")),
            (EXECUTOR, ("completed", "failed", "disabled", "no_target", "error")),
        ):
            for outcome in outcomes:
                self.activations.labels(loop=loop, outcome=outcome)
        for outcome in ("completed", "failed"):
            self.executions.labels(outcome=outcome)
        for table in _TABLES.values():
            self.repairs.labels(table=table)
            for result in _ROW_RESULTS:
                self.rows.labels(table=table, result=result)

    def _seconds_since_success(self) -> float:
        if self._last_success is None:
            return math.nan
        return max(0.0, self._clock() - self._last_success)

    def seed_last_success(self, finished: datetime) -> None:
        """The end of the last completed run before the daemon started (from
        ``bp_execution``), unless the daemon has seen a newer one."""
        if self._last_success is None or finished.timestamp() > self._last_success:
            self._last_success = finished.timestamp()

    def observe(self, activation: Activation) -> None:
        """Count one activation of either loop."""
        self.activations.labels(loop=activation.loop, outcome=activation.outcome).inc()
        if activation.target is not None:
            self.target_version.set(activation.target.version)
        if activation.report is not None:
            self._observe_report(activation.report)

    def _observe_report(self, report: ExecutionReport) -> None:
        self.executions.labels(outcome=report.outcome).inc()
        if report.succeeded:
            finished = report.time_finished
            self._last_success = finished.timestamp() if finished is not None else self._clock()
        if isinstance(report.exception, TransactionRetriesExhausted):
            self.retries.inc(report.exception.attempts - 1)
        for step in report.steps:
            if step.outcome is StepOutcome.SKIPPED:
                continue
            self.step_duration.labels(step=step.name).observe(step.duration_s)
            self._observe_details(step.details)

    def _observe_details(self, details: dict[str, Any]) -> None:
        attempts = details.get("attempts")
        if isinstance(attempts, int) and attempts > 1:
            self.retries.inc(attempts - 1)
        for key, table in _TABLES.items():
            counts = details.get(key)
            if isinstance(counts, dict):
                for result in _ROW_RESULTS:
                    count = counts.get(result, 0)
                    if count:
                        self.rows.labels(table=table, result=result).inc(count)
        for repair in details.get("repairs", []):
            self.repairs.labels(table=repair["table"]).inc()
        for conflict in details.get("conflicts", []):
            self.conflicts.labels(kind=conflict["conflict_kind"]).inc()

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)
