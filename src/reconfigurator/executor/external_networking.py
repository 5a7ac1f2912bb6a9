"""Step 1, *Ensure external networking resources* (docs/design.md#executor-semantics).

One SERIALIZABLE transaction, retried on serialization failures: check that the blueprint is
the current target, read the rows the blueprint names (a fixed number of statements), decide,
and write — deallocation of expunged zones' rows first, then allocation for in-service zones.
Nothing is written when the decision finds anything blocking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Connection

from reconfigurator.db.networking.read import RepairLookup, load_state
from reconfigurator.db.networking.stored_blueprint import load_blueprint_networking
from reconfigurator.db.networking.write import apply_plan
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.targets import current_target
from reconfigurator.errors import NotCurrentTarget, TargetDisabled
from reconfigurator.executor.steps import StepContext, StepDetails
from reconfigurator.networking import (
    BlueprintNetworking,
    MissingRowPolicy,
    NetworkingPlan,
    Table,
    decide,
)

STEP_NAME = "Ensure external networking resources"

#: Called inside the transaction right after the target check (used by tests to pause a run).
TargetCheckedHook = Callable[[Connection], None]


@dataclass(slots=True)
class EnsureExternalNetworking:
    """The step as a callable; ``after_target_check`` is a hook for fault-injection tests."""

    after_target_check: TargetCheckedHook | None = None
    #: Refuse to write when an operator has disabled execution of the target.
    require_enabled: bool = True
    #: What the last target asks of the tables, read from its rows once: a blueprint that
    #: has been the target can neither change nor be deleted.
    _wanted: BlueprintNetworking | None = field(default=None, init=False, repr=False)

    @property
    def wanted_reads(self) -> int:
        """How many times this step has read what a blueprint asks for (once per target)."""
        return self._wanted_reads

    _wanted_reads: int = field(default=0, init=False, repr=False)

    def _wanted_for(self, conn: Connection, blueprint_id: UUID) -> BlueprintNetworking:
        """What the blueprint asks for: the kept record, or read inside the transaction
        that has just found the blueprint to be the current target."""
        if self._wanted is not None and self._wanted.blueprint_id == blueprint_id:
            return self._wanted
        self._wanted_reads += 1
        return load_blueprint_networking(conn, blueprint_id)

    def __call__(self, ctx: StepContext) -> StepDetails:
        attempts = 0
        wanted: BlueprintNetworking | None = None

        def body(conn: Connection) -> NetworkingPlan:
            nonlocal attempts, wanted
            attempts += 1
            target = current_target(conn)
            if target is None or target.blueprint_id != ctx.blueprint_id:
                raise NotCurrentTarget(
                    ctx.blueprint_id, target.blueprint_id if target is not None else None
                )
            if self.require_enabled and not target.enabled:
                raise TargetDisabled(ctx.blueprint_id)
            if self.after_target_check is not None:
                self.after_target_check(conn)
            if wanted is None:
                wanted = self._wanted_for(conn, ctx.blueprint_id)
            plan = decide(wanted, load_state(conn, wanted, _repair_lookup(ctx.missing_rows)))
            blocking = plan.blocking_error(ctx.missing_rows)
            if blocking is not None:
                raise blocking
            apply_plan(conn, plan, blueprint_id=ctx.blueprint_id, execution_id=ctx.execution_id)
            return plan

        plan = run_transaction(ctx.engine, body, policy=ctx.retry_policy)
        self._wanted = wanted
        _log_outcome(ctx, plan)
        return _details(plan, attempts, ctx.missing_rows)


def _repair_lookup(policy: MissingRowPolicy) -> RepairLookup:
    """Under ``fail`` every missing row must come back by name (the first one fails the run);
    otherwise repairs recorded by earlier runs are only counted."""
    return RepairLookup.LIST if policy is MissingRowPolicy.FAIL else RepairLookup.COUNT


def _details(plan: NetworkingPlan, attempts: int, policy: MissingRowPolicy) -> dict[str, Any]:
    return {
        "external_ips": plan.counts(Table.EXTERNAL_IP),
        "nics": plan.counts(Table.NIC),
        "repairs": [
            {
                "zone_id": str(d.zone_id),
                "table": d.table.value,
                "row_id": str(d.row_id),
                "result": d.result.value,
                "action": "never created; nothing written, repair recorded",
            }
            for d in plan.new_repairs()
        ],
        "warnings": [warning.to_json() for warning in plan.warnings],
        "missing_rows": policy.value,
        "attempts": attempts,
    }


def _log_outcome(ctx: StepContext, plan: NetworkingPlan) -> None:
    log = ctx.log
    if log.isEnabledFor(logging.DEBUG):
        for dealloc in plan.deallocations:
            log.debug(
                "expunged zone row: %s",
                dealloc.result.value,
                extra={
                    "zone_id": str(dealloc.zone_id),
                    "table": dealloc.table.value,
                    "row_id": str(dealloc.row_id),
                },
            )
        for create in plan.external_ip_creates:
            log.debug(
                "created external IP",
                extra={"zone_id": str(create.desired.zone_id), "row_id": str(create.desired.id)},
            )
        for nic in plan.nic_creates:
            log.debug(
                "created service NIC", extra={"zone_id": str(nic.zone_id), "row_id": str(nic.id)}
            )
    repairs = plan.new_repairs()
    if repairs:
        log.warning(
            "rows of expunged zones were never created; nothing written, repairs recorded",
            extra={
                "repairs": len(repairs),
                "zone_ids": ",".join(sorted({str(r.zone_id) for r in repairs})[:20]),
            },
        )
    for warning in plan.warnings:
        log.warning(
            "service NIC accepted with a difference",
            extra={
                "zone_id": str(warning.zone_id),
                "row_id": str(warning.row_id),
                "detail": warning.detail,
            },
        )
    ext, nics = plan.counts(Table.EXTERNAL_IP), plan.counts(Table.NIC)
    log.info(
        "external networking ensured",
        extra={
            "ips_created": ext["created"],
            "ips_soft_deleted": ext["soft_deleted"],
            "nics_created": nics["created"],
            "nics_soft_deleted": nics["soft_deleted"],
            "unchanged": ext["unchanged"] + nics["unchanged"],
        },
    )
