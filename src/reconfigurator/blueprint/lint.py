"""Lint: consistency rules a blueprint must satisfy beyond its JSON format.

Like the upstream blueprint linter, this looks for resources that two in-service zones would
both need (external IPs with overlapping ports, NIC IPs, MACs, row ids), zones placed where
they cannot run, and service NICs that do not fit the fixed networking data
(docs/design.md#fixed-data). Expunged zones may share addresses with in-service zones:
addresses are reused once a zone is gone. Every finding names the zone(s) it is about.
Pure: no database.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

from reconfigurator.blueprint.model import (
    Blueprint,
    BlueprintSled,
    BlueprintZone,
    ExternalIp,
    ServiceNic,
    SledState,
    SnatExternalIp,
)
from reconfigurator.blueprint.networking_generation import expected_generation
from reconfigurator.fixed_data import (
    MAC_RANGE_FIRST,
    MAC_RANGE_LAST,
    SERVICE_SUBNETS,
    SERVICES_VPC_VNI,
    SNAT_BLOCK_PORTS,
    IpVersion,
    ServiceSubnet,
    int_to_mac,
)


class LintCode(enum.StrEnum):
    """What kind of problem a finding is (stable, for scripts)."""

    DUPLICATE_SLED_ID = "duplicate_sled_id"
    DUPLICATE_DISK_ID = "duplicate_disk_id"
    DUPLICATE_POOL_ID = "duplicate_pool_id"
    DUPLICATE_ZONE_ID = "duplicate_zone_id"
    POOL_NOT_ON_SLED = "pool_not_on_sled"
    ZONE_ON_EXPUNGED_DISK = "zone_on_expunged_disk"
    ZONE_ON_DECOMMISSIONED_SLED = "zone_on_decommissioned_sled"
    NIC_SUBNET_MISMATCH = "nic_subnet_mismatch"
    NIC_IP_NOT_ASSIGNABLE = "nic_ip_not_assignable"
    NIC_MAC_OUT_OF_RANGE = "nic_mac_out_of_range"
    NIC_VNI_MISMATCH = "nic_vni_mismatch"
    SNAT_PORTS_UNALIGNED = "snat_ports_unaligned"
    DUPLICATE_EXTERNAL_IP = "duplicate_external_ip"
    DUPLICATE_NIC_IP = "duplicate_nic_ip"
    DUPLICATE_NIC_MAC = "duplicate_nic_mac"
    DUPLICATE_EXTERNAL_IP_ID = "duplicate_external_ip_id"
    DUPLICATE_NIC_ID = "duplicate_nic_id"
    EXTERNAL_NETWORKING_GENERATION = "external_networking_generation"


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One broken rule. ``message`` names every zone in ``zone_ids``."""

    code: LintCode
    message: str
    zone_ids: tuple[UUID, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "message": self.message,
            "zone_ids": [str(zone_id) for zone_id in self.zone_ids],
        }

    def __str__(self) -> str:
        return self.message


def lint(blueprint: Blueprint, parent: Blueprint | None = None) -> list[LintFinding]:
    """Every rule ``blueprint`` breaks, in a deterministic order (empty when it is clean).

    With ``parent`` (the blueprint its ``parent_blueprint_id`` names), its
    ``external_networking_generation`` is checked against the parent's too.
    """
    findings: list[LintFinding] = []
    findings.extend(_unique_structure(blueprint))
    findings.extend(_placement(blueprint))
    findings.extend(_zone_networking(blueprint))
    findings.extend(_in_service_addresses(blueprint))
    findings.extend(_row_ids(blueprint))
    if parent is not None:
        findings.extend(lint_against_parent(blueprint, parent))
    return findings


def lint_against_parent(blueprint: Blueprint, parent: Blueprint) -> list[LintFinding]:
    """The rules that compare ``blueprint`` with its parent (its external networking
    generation)."""
    return list(_networking_generation(blueprint, parent))


def _networking_generation(blueprint: Blueprint, parent: Blueprint) -> Iterator[LintFinding]:
    if blueprint.parent_blueprint_id != parent.id:
        raise ValueError(f"blueprint {parent.id} is not the parent of blueprint {blueprint.id}")
    expected = expected_generation(parent, blueprint.sleds)
    found = blueprint.external_networking_generation
    if found != expected:
        changed = expected != parent.external_networking_generation
        why = (
            "the external networking of its in-service zones differs from its parent's"
            if changed
            else "the external networking of its in-service zones is its parent's"
        )
        yield LintFinding(
            LintCode.EXTERNAL_NETWORKING_GENERATION,
            f"external_networking_generation is {found}, expected {expected}: {why}"
            f" (parent {parent.id} has {parent.external_networking_generation})",
        )


# --- helpers ---------------------------------------------------------------------------------


def _zone_ref(zone: BlueprintZone) -> str:
    return f"zone {zone.id} ({zone.kind.value})"


def _zone_refs(zones: Iterable[BlueprintZone]) -> str:
    refs = [_zone_ref(zone) for zone in zones]
    if len(refs) <= 2:
        return " and ".join(refs)
    return ", ".join(refs[:-1]) + f" and {refs[-1]}"


def _distinct_zones(zones: Iterable[BlueprintZone]) -> list[BlueprintZone]:
    """Zones with distinct ids, in first-seen order (duplicated zone ids are reported apart)."""
    seen: dict[UUID, BlueprintZone] = {}
    for zone in zones:
        seen.setdefault(zone.id, zone)
    return list(seen.values())


# --- rules ------------------------------------------------------------------------------------


def _unique_structure(blueprint: Blueprint) -> Iterator[LintFinding]:
    sled_count: dict[UUID, int] = defaultdict(int)
    disk_sleds: dict[UUID, list[UUID]] = defaultdict(list)
    pool_sleds: dict[UUID, list[UUID]] = defaultdict(list)
    zone_sleds: dict[UUID, list[UUID]] = defaultdict(list)
    for sled in blueprint.sleds:
        sled_count[sled.id] += 1
        for disk in sled.disks:
            disk_sleds[disk.id].append(sled.id)
            pool_sleds[disk.pool_id].append(sled.id)
        for zone in sled.zones:
            zone_sleds[zone.id].append(sled.id)
    for sled_id, count in sled_count.items():
        if count > 1:
            yield LintFinding(
                LintCode.DUPLICATE_SLED_ID, f"sled id {sled_id} appears {count} times"
            )
    for disk_id, sleds in disk_sleds.items():
        if len(sleds) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_DISK_ID,
                f"disk id {disk_id} appears {len(sleds)} times (on sleds {_ids(sleds)})",
            )
    for pool_id, sleds in pool_sleds.items():
        if len(sleds) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_POOL_ID,
                f"pool id {pool_id} belongs to {len(sleds)} disks (on sleds {_ids(sleds)})",
            )
    for zone_id, sleds in zone_sleds.items():
        if len(sleds) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_ZONE_ID,
                f"zone id {zone_id} appears {len(sleds)} times (on sleds {_ids(sleds)})",
                (zone_id,),
            )


def _ids(ids: Iterable[UUID]) -> str:
    return ", ".join(str(i) for i in ids)


def _placement(blueprint: Blueprint) -> Iterator[LintFinding]:
    pool_owner: dict[UUID, UUID] = {}
    for sled in blueprint.sleds:
        for disk in sled.disks:
            pool_owner.setdefault(disk.pool_id, sled.id)
    for sled, zone in blueprint.zones():
        yield from _zone_placement(sled, zone, pool_owner)


def _zone_placement(
    sled: BlueprintSled, zone: BlueprintZone, pool_owner: dict[UUID, UUID]
) -> Iterator[LintFinding]:
    pool = zone.filesystem_pool
    disk = sled.disk_for_pool(pool)
    if disk is None:
        owner = pool_owner.get(pool)
        where = (
            f"which is a disk of sled {owner}, not of its own sled {sled.id}"
            if owner is not None
            else f"which is not the pool of any disk on its sled {sled.id}"
        )
        yield LintFinding(
            LintCode.POOL_NOT_ON_SLED,
            f"{_zone_ref(zone)} has filesystem pool {pool}, {where}",
            (zone.id,),
        )
    elif zone.is_in_service and not disk.is_in_service:
        yield LintFinding(
            LintCode.ZONE_ON_EXPUNGED_DISK,
            f"in-service {_zone_ref(zone)} is on pool {pool} of expunged disk {disk.id}"
            f" (sled {sled.id})",
            (zone.id,),
        )
    if zone.is_in_service and sled.state is SledState.DECOMMISSIONED:
        yield LintFinding(
            LintCode.ZONE_ON_DECOMMISSIONED_SLED,
            f"in-service {_zone_ref(zone)} is on decommissioned sled {sled.id}",
            (zone.id,),
        )


def _zone_networking(blueprint: Blueprint) -> Iterator[LintFinding]:
    """Each zone's own NIC and SNAT data against the fixed networking data."""
    for zone in blueprint.all_zones():
        nic = zone.nic
        service = zone.kind.service_kind
        if nic is None or service is None:
            continue
        yield from _nic_addresses(zone, nic, SERVICE_SUBNETS[service])
        if not MAC_RANGE_FIRST <= nic.mac_int <= MAC_RANGE_LAST:
            yield LintFinding(
                LintCode.NIC_MAC_OUT_OF_RANGE,
                f"{_zone_ref(zone)}: NIC MAC {nic.mac} is outside the system-service range"
                f" {int_to_mac(MAC_RANGE_FIRST)} - {int_to_mac(MAC_RANGE_LAST)}",
                (zone.id,),
            )
        if nic.vni != SERVICES_VPC_VNI:
            yield LintFinding(
                LintCode.NIC_VNI_MISMATCH,
                f"{_zone_ref(zone)}: NIC VNI {nic.vni} is not the services VNI {SERVICES_VPC_VNI}",
                (zone.id,),
            )
        external = zone.external_ip
        if isinstance(external, SnatExternalIp) and (
            external.first_port % SNAT_BLOCK_PORTS != 0
            or external.last_port != external.first_port + SNAT_BLOCK_PORTS - 1
        ):
            yield LintFinding(
                LintCode.SNAT_PORTS_UNALIGNED,
                f"{_zone_ref(zone)}: SNAT ports {external.first_port}-{external.last_port}"
                f" are not an aligned block of {SNAT_BLOCK_PORTS} ports",
                (zone.id,),
            )


def _nic_addresses(
    zone: BlueprintZone, nic: ServiceNic, subnet: ServiceSubnet
) -> Iterator[LintFinding]:
    """Each address family the NIC has: the kind's subnet, an assignable address in it."""
    families: list[tuple[str, IPv4Address | IPv6Address | None, object, object]] = [
        ("", nic.ip, nic.subnet, subnet.ipv4),
        ("IPv6 ", nic.ipv6, nic.ipv6_subnet, subnet.ipv6),
    ]
    for family, address, given, expected in families:
        if address is None:
            continue
        if given != expected:
            yield LintFinding(
                LintCode.NIC_SUBNET_MISMATCH,
                f"{_zone_ref(zone)}: NIC {family}subnet {given} is not the"
                f" {subnet.kind.value} subnet {expected}",
                (zone.id,),
            )
        if not subnet.is_assignable(address):
            network = subnet.network(IpVersion.of(address))
            reason = (
                "is reserved (the first 5 addresses, and the IPv4 broadcast address, are)"
                if address in network
                else "is outside it"
            )
            yield LintFinding(
                LintCode.NIC_IP_NOT_ASSIGNABLE,
                f"{_zone_ref(zone)}: NIC {family}IP {address} is not assignable in the"
                f" {subnet.kind.value} subnet {network}: it {reason}",
                (zone.id,),
            )


def _nic_ips(nic: ServiceNic) -> list[IPv4Address | IPv6Address]:
    return [address for address in (nic.ip, nic.ipv6) if address is not None]


def _in_service_addresses(blueprint: Blueprint) -> Iterator[LintFinding]:
    """No two in-service zones may need the same external IP ports, NIC IP or MAC."""
    external: dict[
        IPv4Address | IPv6Address, list[tuple[BlueprintZone, ExternalIp | SnatExternalIp]]
    ] = defaultdict(list)
    nic_ips: dict[IPv4Address | IPv6Address, list[BlueprintZone]] = defaultdict(list)
    macs: dict[int, list[BlueprintZone]] = defaultdict(list)
    for zone in _distinct_zones(blueprint.in_service_zones()):
        ip = zone.external_ip
        nic = zone.nic
        if ip is not None:
            external[ip.ip].append((zone, ip))
        if nic is not None:
            for address in _nic_ips(nic):
                nic_ips[address].append(zone)
            macs[nic.mac_int].append(zone)

    for address, users in external.items():
        for index, (first, a) in enumerate(users):
            for second, b in users[index + 1 :]:
                if a.first_port <= b.last_port and b.first_port <= a.last_port:
                    yield LintFinding(
                        LintCode.DUPLICATE_EXTERNAL_IP,
                        f"in-service {_zone_refs([first, second])} both use external IP"
                        f" {address} with overlapping ports ({a.first_port}-{a.last_port} and"
                        f" {b.first_port}-{b.last_port})",
                        (first.id, second.id),
                    )
    for nic_ip, zones in nic_ips.items():
        if len(zones) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_NIC_IP,
                f"in-service {_zone_refs(zones)} share NIC IP {nic_ip}",
                tuple(zone.id for zone in zones),
            )
    for mac, zones in macs.items():
        if len(zones) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_NIC_MAC,
                f"in-service {_zone_refs(zones)} share NIC MAC {int_to_mac(mac)}",
                tuple(zone.id for zone in zones),
            )


def _row_ids(blueprint: Blueprint) -> Iterator[LintFinding]:
    """A database row id belongs to one zone, whatever the zones' dispositions."""
    external_ids: dict[UUID, list[BlueprintZone]] = defaultdict(list)
    nic_ids: dict[UUID, list[BlueprintZone]] = defaultdict(list)
    for zone in blueprint.all_zones():
        ip = zone.external_ip
        nic = zone.nic
        if ip is not None:
            external_ids[ip.id].append(zone)
        if nic is not None:
            nic_ids[nic.id].append(zone)
    for row_id, zones in external_ids.items():
        owners = _distinct_zones(zones)
        if len(owners) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_EXTERNAL_IP_ID,
                f"external IP row id {row_id} is used by {_zone_refs(owners)}",
                tuple(zone.id for zone in owners),
            )
    for row_id, zones in nic_ids.items():
        owners = _distinct_zones(zones)
        if len(owners) > 1:
            yield LintFinding(
                LintCode.DUPLICATE_NIC_ID,
                f"NIC row id {row_id} is used by {_zone_refs(owners)}",
                tuple(zone.id for zone in owners),
            )
