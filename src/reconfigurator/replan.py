"""One planning pass against the database: load the planning input and the current target,
plan the child, store it, and (optionally) make it the target — in one transaction, so a
concurrent planner cannot slip a different child in between."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import get_blueprint, insert_blueprint
from reconfigurator.db.planning_input import load_planning_input
from reconfigurator.db.retry import DEFAULT_RETRY_POLICY, RetryPolicy, run_transaction
from reconfigurator.db.targets import Target, current_target, set_target
from reconfigurator.planner import IdSource, NicIpStack, RandomIds, ZonePolicy, plan

_log = logging.getLogger("reconfigurator.planner")


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """The parent planned from, the child (``None``: nothing changed), and the new target."""

    parent: Blueprint | None
    blueprint: Blueprint | None
    changes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    target: Target | None = field(default=None)

    @property
    def changed(self) -> bool:
        """Whether the pass made a new blueprint."""
        return self.blueprint is not None


def plan_once(
    engine: Engine,
    *,
    ids: IdSource | None = None,
    zone_policy: ZonePolicy | None = None,
    nic_ip_stack: NicIpStack | None = None,
    set_as_target: bool = False,
    enabled: bool | None = None,
    now: datetime | None = None,
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> PlanOutcome:
    """Plan a child of the current target (or the initial blueprint when there is none).

    ``nic_ip_stack`` chooses the addressing of new zones' NICs; by default the rack keeps
    what its in-service NICs already have (see :class:`~reconfigurator.planner.NicIpStack`).
    """
    source = ids if ids is not None else RandomIds()

    def body(conn: Connection) -> PlanOutcome:
        target = current_target(conn)
        parent = get_blueprint(conn, target.blueprint_id) if target is not None else None
        planning_input = load_planning_input(conn, zone_policy, nic_ip_stack)
        result = plan(parent, planning_input, source, now=now)
        if result.blueprint is None:
            return PlanOutcome(parent, None, result.changes, result.notes, target)
        insert_blueprint(conn, result.blueprint)
        new_target = (
            set_target(conn, result.blueprint.id, enabled=enabled) if set_as_target else target
        )
        return PlanOutcome(parent, result.blueprint, result.changes, result.notes, new_target)

    outcome = run_transaction(engine, body, policy=retry_policy)
    _log.info(
        "planning pass",
        extra={
            "parent_blueprint_id": str(outcome.parent.id) if outcome.parent else None,
            "blueprint_id": str(outcome.blueprint.id) if outcome.blueprint else None,
            "changed": outcome.changed,
            "set_target": set_as_target and outcome.changed,
            "notes": len(outcome.notes),
        },
    )
    return outcome
