"""What one executor run did, as data: the ``recon execute --json`` contract of
docs/design.md#executor-semantics."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from reconfigurator.errors import (
    CommitOutcomeUnknown,
    Conflict,
    ExternalNetworkingConflict,
    RecordNotFound,
)


class StepOutcome(enum.StrEnum):
    """How one step of a run ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    #: A non-fatal step failed; the run went on.
    WARNING = "warning"
    #: Not run because an earlier fatal step failed.
    SKIPPED = "skipped"


@dataclass(slots=True)
class StepReport:
    """What one step did: its outcome, duration, details (the counts, repairs and warnings
    of the networking step) and error.
    """

    name: str
    outcome: StepOutcome
    duration_s: float
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The step as ``recon execute --json`` prints it."""
        data: dict[str, Any] = {"name": self.name, "outcome": self.outcome.value}
        data.update(self.details)
        if self.error is not None:
            data["error"] = self.error
        data["duration_s"] = round(self.duration_s, 6)
        return data


@dataclass(slots=True)
class ExecutionReport:
    """What one executor run did, step by step; ``to_json()`` is what
    ``recon execute --json`` prints (docs/design.md#executor-semantics).
    """

    blueprint_id: UUID
    execution_id: UUID
    time_started: datetime
    time_finished: datetime | None = None
    steps: list[StepReport] = field(default_factory=list)
    failed_step: str | None = None
    error: str | None = None
    error_chain: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The exception that failed the run (not serialized).
    exception: BaseException | None = None

    @property
    def outcome(self) -> str:
        """``completed``, or ``failed`` when a fatal step failed."""
        return "failed" if self.failed_step is not None else "completed"

    @property
    def succeeded(self) -> bool:
        """Whether no fatal step failed."""
        return self.failed_step is None

    @property
    def outcome_unknown(self) -> bool:
        """Whether a step's commit may or may not have landed (the next run confirms it)."""
        return isinstance(self.exception, CommitOutcomeUnknown)

    def step(self, name: str) -> StepReport:
        """The report of the step called ``name``; raises ``KeyError``."""
        for report in self.steps:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The run as ``recon execute --json`` prints it."""
        return {
            "blueprint_id": str(self.blueprint_id),
            "outcome": self.outcome,
            "failed_step": self.failed_step,
            "error": self.error,
            "steps": [step.to_json() for step in self.steps],
            "execution_id": str(self.execution_id),
            "time_started": self.time_started.isoformat(),
            "time_finished": self.time_finished.isoformat() if self.time_finished else None,
            "error_kind": type(self.exception).__name__ if self.exception else None,
            "error_chain": list(self.error_chain),
            "warnings": list(self.warnings),
            "outcome_unknown": self.outcome_unknown,
        }


def conflict_json(conflict: Conflict) -> dict[str, Any]:
    """A conflict as the report lists it: zone, table, row, owner and kind."""
    return {
        "zone_id": str(conflict.zone_id),
        "table": conflict.table,
        "row_id": str(conflict.row_id),
        "owner": str(conflict.owner) if conflict.owner is not None else None,
        "kind": "mismatch" if conflict.kind.is_mismatch else "conflict",
        "conflict_kind": conflict.kind.value,
        "detail": conflict.detail,
    }


def error_details(exc: BaseException) -> dict[str, Any]:
    """Structured details of a step failure for the report."""
    details: dict[str, Any] = {"error_kind": type(exc).__name__}
    if isinstance(exc, ExternalNetworkingConflict):
        details["conflicts"] = [conflict_json(c) for c in exc.conflicts]
    elif isinstance(exc, RecordNotFound):
        details["record_not_found"] = {
            "zone_id": str(exc.zone_id),
            "table": exc.table,
            "row_id": str(exc.row_id),
        }
    return details


def error_chain(step_name: str, exc: BaseException) -> list[str]:
    """``step failed: <name>`` followed by the exception and its causes."""
    chain = [f"step failed: {step_name}"]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip().splitlines()
        chain.append(text[0] if text else type(current).__name__)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain
