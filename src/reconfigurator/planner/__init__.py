"""The planner: a child blueprint from a parent blueprint and the planning input.

Pure: it reads a :class:`~reconfigurator.blueprint.model.Blueprint` and a
:class:`PlanningInput` and returns a new blueprint; it imports nothing from the database layer.
"""

from reconfigurator.planner.ids import IdSource, RandomIds, SeededIds
from reconfigurator.planner.planner import PlanResult, plan
from reconfigurator.planning_input import (
    DiskInput,
    DiskPolicy,
    DiskState,
    IpRange,
    NicIpStack,
    PlanningInput,
    SledInput,
    SledPolicy,
    SledState,
    ZonePolicy,
)

__all__ = [
    "DiskInput",
    "DiskPolicy",
    "DiskState",
    "IdSource",
    "IpRange",
    "NicIpStack",
    "PlanResult",
    "PlanningInput",
    "RandomIds",
    "SeededIds",
    "SledInput",
    "SledPolicy",
    "SledState",
    "ZonePolicy",
    "plan",
]
