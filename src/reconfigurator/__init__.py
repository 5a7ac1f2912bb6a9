"""reconfigurator: realize a control plane's target blueprint in a real database.

The names a control-plane program needs are importable from here::

    from reconfigurator import Executor, make_engine, upgrade

    engine = make_engine("postgresql://recon@db.example/recon")
    upgrade(engine)
    report = Executor(engine).execute()

Nothing here needs the packages of the ``cli`` extra. The README's "Using it as a library"
section walks through these names; ``docs/architecture.md`` says which package holds what.

``audit`` names both a subpackage and the function exported here. The function wins:
importing this package loads the subpackage first and then binds the name to the function,
and a subpackage already loaded is never bound to its parent again. The subpackage stays
importable with ``from reconfigurator.audit import …`` (not as the attribute
``reconfigurator.audit``, nor by ``import reconfigurator.audit as …``, which give the
function).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from reconfigurator.audit import AuditReport, Finding, FindingKind, audit, audit_read_only
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

try:
    __version__ = version("reconfigurator")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

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
    "audit_read_only",
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
