"""The planner and the executor as two background loops, each on its own interval (like the
upstream control plane's background tasks).

Each activation is logged as one structured line. The executor realizes the current target
only when it is enabled; the planner makes a new target only when something changed. Setting
the stop event lets the activation in progress finish (its transaction commits or rolls back)
and then ends both loops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from reconfigurator.db.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from reconfigurator.db.targets import current_target
from reconfigurator.executor import Executor
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.planner import IdSource, RandomIds, ZonePolicy
from reconfigurator.replan import plan_once

_log = logging.getLogger("reconfigurator.background")


@dataclass
class LoopStats:
    activations: int = 0
    failures: int = 0
    last: dict[str, Any] = field(default_factory=dict)


@dataclass
class BackgroundTasks:
    engine: Engine
    plan_interval_s: float = 10.0
    execute_interval_s: float = 5.0
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED
    ids: IdSource = field(default_factory=RandomIds)
    zone_policy: ZonePolicy | None = None
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    planner: LoopStats = field(default_factory=LoopStats)
    executor: LoopStats = field(default_factory=LoopStats)

    def plan_activation(self) -> dict[str, Any]:
        outcome = plan_once(
            self.engine,
            ids=self.ids,
            zone_policy=self.zone_policy,
            set_as_target=True,
            retry_policy=self.retry_policy,
        )
        return {
            "outcome": "new_target" if outcome.changed else "unchanged",
            "blueprint_id": str(outcome.blueprint.id) if outcome.blueprint else None,
            "parent_blueprint_id": str(outcome.parent.id) if outcome.parent else None,
            "notes": "; ".join(outcome.notes) or None,
        }

    def execute_activation(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            target = current_target(conn)
        if target is None:
            return {"outcome": "no_target"}
        if not target.enabled:
            return {"outcome": "disabled", "blueprint_id": str(target.blueprint_id)}
        executor = Executor(
            self.engine, missing_rows=self.missing_rows, retry_policy=self.retry_policy
        )
        report = executor.execute(target.blueprint_id)
        return {
            "outcome": report.outcome,
            "blueprint_id": str(report.blueprint_id),
            "execution_id": str(report.execution_id),
            "failed_step": report.failed_step,
            "error": report.error,
        }

    def _loop(
        self,
        name: str,
        interval_s: float,
        activation: Callable[[], dict[str, Any]],
        stats: LoopStats,
        stop: threading.Event,
    ) -> None:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                fields = activation()
            except Exception as exc:  # a loop must survive anything one activation hits
                stats.failures += 1
                fields = {"outcome": "error", "error": f"{type(exc).__name__}: {exc}"}
            stats.activations += 1
            fields["duration_s"] = round(time.perf_counter() - began, 4)
            stats.last = fields
            level = logging.WARNING if fields["outcome"] in {"error", "failed"} else logging.INFO
            _log.log(level, "%s activation", name, extra={"task": name, **fields})
            stop.wait(interval_s)

    def run(self, stop: threading.Event) -> None:
        """Run both loops until ``stop`` is set; returns once both have finished."""
        threads = [
            threading.Thread(
                target=self._loop,
                args=("planner", self.plan_interval_s, self.plan_activation, self.planner, stop),
                name="recon-planner",
            ),
            threading.Thread(
                target=self._loop,
                args=(
                    "executor",
                    self.execute_interval_s,
                    self.execute_activation,
                    self.executor,
                    stop,
                ),
                name="recon-executor",
            ),
        ]
        _log.info(
            "background tasks started",
            extra={
                "plan_interval_s": self.plan_interval_s,
                "execute_interval_s": self.execute_interval_s,
            },
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _log.info(
            "background tasks stopped",
            extra={
                "planner_activations": self.planner.activations,
                "executor_activations": self.executor.activations,
            },
        )
