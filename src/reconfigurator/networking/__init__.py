"""External networking of zones, decided without I/O.

What a blueprint asks of the ``external_ip`` and ``network_interface`` tables
(:mod:`~reconfigurator.networking.desired`), what those tables hold
(:mod:`~reconfigurator.networking.rows`, :mod:`~reconfigurator.networking.state`), and the
decision between the two (:mod:`~reconfigurator.networking.decide`), whose result is a
:class:`~reconfigurator.networking.plan.NetworkingPlan`. The executor reads the state, decides,
and writes the plan; the audit reads, decides, and reports. Nothing here touches a database.
"""

from reconfigurator.networking.decide import decide
from reconfigurator.networking.desired import (
    BlueprintNetworking,
    DesiredExternalIp,
    DesiredNic,
    ExpungedZoneRows,
)
from reconfigurator.networking.plan import (
    Deallocation,
    ExternalIpCreate,
    NetworkingPlan,
    NicWarning,
    RowResult,
)
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.networking.rows import ExternalIpRow, NicRow, PoolRange, Table
from reconfigurator.networking.state import NetworkingState

__all__ = [
    "BlueprintNetworking",
    "Deallocation",
    "DesiredExternalIp",
    "DesiredNic",
    "ExpungedZoneRows",
    "ExternalIpCreate",
    "ExternalIpRow",
    "MissingRowPolicy",
    "NetworkingPlan",
    "NetworkingState",
    "NicRow",
    "NicWarning",
    "PoolRange",
    "RowResult",
    "Table",
    "decide",
]
