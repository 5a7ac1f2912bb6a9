"""reconfigurator: realize a control plane's target blueprint in a real database.

The names a control-plane program needs are importable from here::

    from reconfigurator import Executor, make_engine, upgrade

    engine = make_engine("postgresql://recon@db.example/recon")
    upgrade(engine)
    report = Executor(engine).execute()

Each name is loaded from the module that defines it on first use, so importing one corner of
the library (the pure blueprint model, say) does not import the database layer, and nothing
here needs the packages of the ``cli`` extra. The README's "Using it as a library" section
walks through them; ``docs/architecture.md`` says which package holds what.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

try:
    __version__ = version("reconfigurator")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from reconfigurator.audit import AuditReport, Finding, FindingKind, audit
    from reconfigurator.background import BackgroundTasks
    from reconfigurator.blueprint.diff import BlueprintDiff, diff_blueprints
    from reconfigurator.blueprint.lint import LintFinding, lint
    from reconfigurator.blueprint.model import Blueprint
    from reconfigurator.blueprint.omicron import from_omicron, parse_omicron_blueprint
    from reconfigurator.blueprint.parse import parse_blueprint
    from reconfigurator.db.blueprint_store import get_blueprint, insert_blueprint
    from reconfigurator.db.engine import make_engine
    from reconfigurator.db.migrate import upgrade
    from reconfigurator.db.retry import RetryPolicy, run_transaction
    from reconfigurator.db.service_pools import add_pool_range
    from reconfigurator.db.targets import Target, current_target, set_target
    from reconfigurator.errors import (
        BlueprintInvalid,
        BlueprintLintFailed,
        ExternalNetworkingConflict,
        NotCurrentTarget,
        ReconError,
        RecordNotFound,
        TransactionRetriesExhausted,
    )
    from reconfigurator.executor import (
        ExecutionReport,
        Executor,
        MissingRowPolicy,
        StepContext,
        StepOutcome,
        StepReport,
    )
    from reconfigurator.replan import PlanOutcome, plan_once

#: Where each exported name is defined.
_EXPORTS: dict[str, str] = {
    # The database: engine, schema, transactions.
    "make_engine": "reconfigurator.db.engine",
    "upgrade": "reconfigurator.db.migrate",
    "run_transaction": "reconfigurator.db.retry",
    "RetryPolicy": "reconfigurator.db.retry",
    # What the database holds: service pools, blueprints, the target.
    "add_pool_range": "reconfigurator.db.service_pools",
    "insert_blueprint": "reconfigurator.db.blueprint_store",
    "get_blueprint": "reconfigurator.db.blueprint_store",
    "set_target": "reconfigurator.db.targets",
    "current_target": "reconfigurator.db.targets",
    "Target": "reconfigurator.db.targets",
    # Realizing the target.
    "Executor": "reconfigurator.executor",
    "ExecutionReport": "reconfigurator.executor",
    "StepReport": "reconfigurator.executor",
    "StepOutcome": "reconfigurator.executor",
    "StepContext": "reconfigurator.executor",
    "MissingRowPolicy": "reconfigurator.executor",
    # Predicting and planning.
    "audit": "reconfigurator.audit",
    "AuditReport": "reconfigurator.audit",
    "Finding": "reconfigurator.audit",
    "FindingKind": "reconfigurator.audit",
    "plan_once": "reconfigurator.replan",
    "PlanOutcome": "reconfigurator.replan",
    "BackgroundTasks": "reconfigurator.background",
    # Blueprints, pure.
    "Blueprint": "reconfigurator.blueprint.model",
    "parse_blueprint": "reconfigurator.blueprint.parse",
    "lint": "reconfigurator.blueprint.lint",
    "LintFinding": "reconfigurator.blueprint.lint",
    "diff_blueprints": "reconfigurator.blueprint.diff",
    "BlueprintDiff": "reconfigurator.blueprint.diff",
    "from_omicron": "reconfigurator.blueprint.omicron",
    "parse_omicron_blueprint": "reconfigurator.blueprint.omicron",
    # Errors: every error of the library is a ReconError.
    "ReconError": "reconfigurator.errors",
    "BlueprintInvalid": "reconfigurator.errors",
    "BlueprintLintFailed": "reconfigurator.errors",
    "NotCurrentTarget": "reconfigurator.errors",
    "RecordNotFound": "reconfigurator.errors",
    "ExternalNetworkingConflict": "reconfigurator.errors",
    "TransactionRetriesExhausted": "reconfigurator.errors",
}

__all__ = [
    "AuditReport",
    "BackgroundTasks",
    "Blueprint",
    "BlueprintDiff",
    "BlueprintInvalid",
    "BlueprintLintFailed",
    "ExecutionReport",
    "Executor",
    "ExternalNetworkingConflict",
    "Finding",
    "FindingKind",
    "LintFinding",
    "MissingRowPolicy",
    "NotCurrentTarget",
    "PlanOutcome",
    "ReconError",
    "RecordNotFound",
    "RetryPolicy",
    "StepContext",
    "StepOutcome",
    "StepReport",
    "Target",
    "TransactionRetriesExhausted",
    "__version__",
    "add_pool_range",
    "audit",
    "current_target",
    "diff_blueprints",
    "from_omicron",
    "get_blueprint",
    "insert_blueprint",
    "lint",
    "make_engine",
    "parse_blueprint",
    "parse_omicron_blueprint",
    "plan_once",
    "run_transaction",
    "set_target",
    "upgrade",
]


def __getattr__(name: str) -> object:
    """Load an exported name from its module the first time it is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
