"""What a blueprint asks of the two tables: for each in-service zone with external networking,
the external IP and service NIC rows it needs; for each expunged one, the row ids to retire.

Built from the blueprint model alone (pure). Rows carry the values upstream writes: names
``<prefix>-<zone id>``, the zone kind as the external IP's description, the kind's subnet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

from reconfigurator.blueprint.model import Blueprint, BlueprintZone, SnatExternalIp
from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID, ServiceKind
from reconfigurator.networking.rows import ExternalIpRow, IpAddress, IpNetwork, NicRow, Table


@dataclass(frozen=True, slots=True)
class DesiredExternalIp:
    """The external IP row an in-service zone needs."""

    zone_id: UUID
    zone_kind: ServiceKind
    id: UUID
    ip: IpAddress
    first_port: int
    last_port: int
    kind: str  # "floating" or "snat"

    @property
    def name(self) -> str:
        """The row's name, as upstream writes it."""
        return self.zone_kind.row_name(self.zone_id)

    @property
    def description(self) -> str:
        """The row's description, as upstream writes it: the zone kind."""
        return self.zone_kind.value

    def differences(self, row: ExternalIpRow) -> list[str]:
        """The fields where a row with this id differs from it (empty when equal)."""
        differences = []
        if row.ip != self.ip:
            differences.append(f"ip {row.ip} (blueprint: {self.ip})")
        if (row.first_port, row.last_port) != (self.first_port, self.last_port):
            differences.append(
                f"ports {row.first_port}-{row.last_port}"
                f" (blueprint: {self.first_port}-{self.last_port})"
            )
        if row.kind != self.kind:
            differences.append(f"kind {row.kind} (blueprint: {self.kind})")
        if not row.is_service:
            differences.append("not a service IP")
        return differences


@dataclass(frozen=True, slots=True)
class DesiredNic:
    """The service NIC row an in-service zone needs."""

    zone_id: UUID
    zone_kind: ServiceKind
    id: UUID
    name: str
    subnet_id: UUID
    mac: int
    ipv4: IPv4Address | None
    ipv6: IPv6Address | None
    slot: int
    is_primary: bool
    transit_ips: tuple[IpNetwork, ...] = ()

    @property
    def vpc_id(self) -> UUID:
        """The services VPC."""
        return SERVICES_VPC_ID

    @property
    def description(self) -> str:
        """The row's description, as upstream writes it."""
        return f"{self.zone_kind.value} service vNIC"

    @property
    def addresses(self) -> str:
        """The NIC's addresses, for messages."""
        return " ".join(str(a) for a in (self.ipv4, self.ipv6) if a is not None)

    def matches(self, row: NicRow) -> bool:
        """Whether ``row`` is this NIC as upstream judges it: equal IPv4, IPv6, MAC, slot and
        primary flag, whatever its id, subnet or name."""
        return (
            row.ipv4 == self.ipv4
            and row.ipv6 == self.ipv6
            and row.mac == self.mac
            and row.slot == self.slot
            and row.is_primary == self.is_primary
        )

    def differences(self, row: NicRow) -> list[str]:
        """The fields :meth:`matches` compares where ``row`` differs."""
        pairs: list[tuple[str, object, object]] = [
            ("ip", row.ipv4, self.ipv4),
            ("ipv6", row.ipv6, self.ipv6),
            ("mac", f"{row.mac:#x}", f"{self.mac:#x}"),
            ("slot", row.slot, self.slot),
            ("primary", row.is_primary, self.is_primary),
        ]
        return [
            f"{name} {ours} (blueprint: {theirs})" for name, ours, theirs in pairs if ours != theirs
        ]

    def incidental_differences(self, row: NicRow) -> list[str]:
        """Differences of a matching row that do not block (reported as warnings)."""
        differences = []
        if row.id != self.id:
            differences.append(f"row id {row.id} (blueprint: {self.id})")
        if row.subnet_id != self.subnet_id or row.vpc_id != self.vpc_id:
            differences.append(f"subnet {row.subnet_id} (blueprint: {self.subnet_id})")
        if row.name != self.name:
            differences.append(f"name {row.name!r} (blueprint: {self.name!r})")
        if set(row.transit_ips) != set(self.transit_ips):
            shown = ", ".join(map(str, row.transit_ips)) or "none"
            wanted = ", ".join(map(str, self.transit_ips)) or "none"
            differences.append(f"transit IPs {shown} (blueprint: {wanted})")
        return differences


@dataclass(frozen=True, slots=True)
class ExpungedZoneRows:
    """The row ids an expunged zone's blueprint entry records (and the zone, when the whole
    blueprint is at hand, from which the full rows are derived only when they are needed)."""

    zone_id: UUID
    external_ip_id: UUID
    nic_id: UUID
    zone: BlueprintZone | None = None


@dataclass(frozen=True, slots=True)
class StoredExpungedZones:
    """The expunged zones of a blueprint left in the database, where they are classified by
    the query that reads the tables: only what the decision needs of them as a whole.

    ``count`` is the number of expunged zones with external networking; ``claims`` maps a
    (table, row id) that an in-service zone of the blueprint records too to the expunged zone
    recording it (the last one, in executor order).
    """

    count: int
    claims: Mapping[tuple[Table, UUID], UUID]


def desired_external_ip(zone: BlueprintZone) -> DesiredExternalIp | None:
    """The external IP row ``zone`` needs (``None`` for zones without external networking)."""
    networking = zone.networking
    if networking is None:
        return None
    external = networking.external_ip
    snat = isinstance(external, SnatExternalIp)
    return DesiredExternalIp(
        zone_id=zone.id,
        zone_kind=ServiceKind(networking.kind),
        id=external.id,
        ip=external.ip,
        first_port=external.first_port,
        last_port=external.last_port,
        kind="snat" if snat else "floating",
    )


def desired_nic(zone: BlueprintZone) -> DesiredNic | None:
    """The service NIC row ``zone`` needs (``None`` for zones without external networking)."""
    networking = zone.networking
    if networking is None:
        return None
    nic = networking.nic
    kind = ServiceKind(networking.kind)
    return DesiredNic(
        zone_id=zone.id,
        zone_kind=kind,
        id=nic.id,
        name=nic.name,
        subnet_id=SERVICE_SUBNETS[kind].id,
        mac=nic.mac_int,
        ipv4=nic.ip,
        ipv6=nic.ipv6,
        slot=nic.slot,
        is_primary=nic.primary,
        transit_ips=nic.transit_ips,
    )


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class BlueprintNetworking:
    """What one blueprint asks of the two tables, in executor order (sled id, zone id).

    Compared and hashed by identity (what is derived from it is cached by identity, and
    hashing tens of thousands of records would cost more than the cache saves).
    """

    blueprint_id: UUID
    expunged: tuple[ExpungedZoneRows, ...]
    external_ips: tuple[DesiredExternalIp, ...]
    nics: tuple[DesiredNic, ...]
    #: Set when the expunged zones stay in the database (``expunged`` is then empty).
    stored_expunged: StoredExpungedZones | None = None

    @property
    def expunged_count(self) -> int:
        """The number of expunged zones with external networking."""
        if self.stored_expunged is not None:
            return self.stored_expunged.count
        return len(self.expunged)

    def expunged_claims(self, table: Table) -> dict[UUID, UUID]:
        """Row ids of ``table`` that expunged zones record, to the zone recording each (the
        stored form names only those an in-service zone records too)."""
        if self.stored_expunged is not None:
            return {
                row_id: zone_id
                for (kind, row_id), zone_id in self.stored_expunged.claims.items()
                if kind is table
            }
        return {
            (z.external_ip_id if table is Table.EXTERNAL_IP else z.nic_id): z.zone_id
            for z in self.expunged
        }

    @classmethod
    def of(cls, blueprint: Blueprint) -> BlueprintNetworking:
        """What ``blueprint`` asks for."""
        expunged: list[ExpungedZoneRows] = []
        external_ips: list[DesiredExternalIp] = []
        nics: list[DesiredNic] = []
        for zone in blueprint.all_zones():
            networking = zone.networking
            if networking is None:
                continue
            if zone.is_expunged:
                expunged.append(
                    ExpungedZoneRows(zone.id, networking.external_ip.id, networking.nic.id, zone)
                )
            else:
                external = desired_external_ip(zone)
                nic = desired_nic(zone)
                if external is not None and nic is not None:
                    external_ips.append(external)
                    nics.append(nic)
        return cls(blueprint.id, tuple(expunged), tuple(external_ips), tuple(nics))

    def in_service_zone_ids(self) -> Iterator[UUID]:
        """The in-service zones with external networking."""
        return (desired.zone_id for desired in self.external_ips)
