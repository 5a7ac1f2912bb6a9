"""``external_networking_generation``: which value a child blueprint must carry.

Upstream bumps a blueprint's external networking generation when, and only when, the external
networking of its in-service zones changes: a zone with an external IP or a service NIC comes
into service, leaves it, moves to another sled, or has either changed. Consumers use the value
to tell that they must look at the blueprint's external networking again.
"""

from __future__ import annotations

from uuid import UUID

from reconfigurator.blueprint.model import (
    Blueprint,
    BlueprintSled,
    ExternalIp,
    ServiceNic,
    SnatExternalIp,
)

#: One in-service zone's external networking: (sled id, zone id, external IP, NIC).
NetworkingEntry = tuple[UUID, UUID, ExternalIp | SnatExternalIp, ServiceNic]


def in_service_networking(sleds: tuple[BlueprintSled, ...]) -> frozenset[NetworkingEntry]:
    """The external networking of the in-service zones of ``sleds``, as a set."""
    entries: set[NetworkingEntry] = set()
    for sled in sleds:
        for zone in sled.zones:
            networking = zone.networking
            if networking is not None and zone.is_in_service:
                entries.add((sled.id, zone.id, networking.external_ip, networking.nic))
    return frozenset(entries)


def expected_generation(parent: Blueprint | None, sleds: tuple[BlueprintSled, ...]) -> int:
    """The generation a child of ``parent`` with ``sleds`` must carry: 1 without a parent;
    the parent's plus one when the in-service external networking differs; else the parent's."""
    if parent is None:
        return 1
    changed = in_service_networking(parent.sleds) != in_service_networking(sleds)
    return parent.external_networking_generation + (1 if changed else 0)
