"""The step API: what a step is and what it gets.

A step is a name, whether it is fatal, and a function of a :class:`StepContext` that returns
details for the report (a JSON-able mapping) or raises. A fatal step that raises stops the run;
a non-fatal one is recorded as a warning and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from reconfigurator.networking.policy import MissingRowPolicy

StepDetails = Mapping[str, Any]


class RunLogger(logging.LoggerAdapter[logging.Logger]):
    """Adds the run's ids to every record, keeping the fields a call passes in ``extra``."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


@dataclass(frozen=True)
class StepContext:
    """Everything a step may use. ``log`` carries ``blueprint_id`` and ``execution_id``.

    :attr:`blueprint` is the whole blueprint, read from the database the first time a step
    asks for it (step 1 does not: it reads only what it needs, in the database).
    """

    engine: Engine
    blueprint_id: UUID
    execution_id: UUID
    missing_rows: MissingRowPolicy
    retry_policy: RetryPolicy
    log: RunLogger
    load_blueprint: Callable[[UUID], Blueprint] = field(repr=False)

    @cached_property
    def blueprint(self) -> Blueprint:
        """The blueprint being executed (loaded on first use, then kept for the run)."""
        return self.load_blueprint(self.blueprint_id)


StepFunction = Callable[[StepContext], StepDetails | None]


@dataclass(frozen=True, slots=True)
class Step:
    """A named step of a run; when a fatal step fails, no later step runs."""

    name: str
    run: StepFunction
    fatal: bool = True


__all__ = [
    "DEFAULT_RETRY_POLICY",
    "RunLogger",
    "Step",
    "StepContext",
    "StepDetails",
    "StepFunction",
]
