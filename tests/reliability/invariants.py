"""What must hold of the networking tables, checked independently of the executor's code.

* :func:`realization_problems`: the tables realize a blueprint — every in-service zone with
  external networking has exactly its blueprint's external IP row and NIC row live (same id,
  address, ports, MAC, subnet, slot, name), no expunged zone has a live row, and no live row
  belongs to anything but an in-service zone of the blueprint.
* :func:`duplicate_live_addresses`: no two live rows hold one address (external IP with
  overlapping ports, NIC IP in a subnet, MAC, NIC slot of a zone).
* :class:`RowLedger`: across observations, no row ever disappears (rows are only
  soft-deleted), no soft-deleted row becomes live again, and a soft-deleted row never changes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint, SnatExternalIp
from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID, ServiceKind, mac_to_int

EXTERNAL_IP_COLUMNS = "id, parent_id, ip, first_port, last_port, kind, is_service, time_deleted"
NIC_COLUMNS = "id, service_id, name, vpc_id, subnet_id, mac, ipv4, slot, is_primary, time_deleted"


def _address(value: object) -> IPv4Address | IPv6Address:
    """An INET value as the driver returns it (address, interface or text) → address."""
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    return ip_address(str(value).split("/", 1)[0])


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


@dataclass(frozen=True, slots=True)
class ExternalIpRow:
    id: UUID
    parent_id: UUID | None
    ip: IPv4Address | IPv6Address
    first_port: int
    last_port: int
    kind: str
    is_service: bool
    live: bool


@dataclass(frozen=True, slots=True)
class NicRow:
    id: UUID
    service_id: UUID
    name: str
    vpc_id: UUID
    subnet_id: UUID
    mac: int
    ipv4: IPv4Address | IPv6Address
    slot: int
    is_primary: bool
    live: bool


@dataclass(slots=True)
class Tables:
    external_ips: list[ExternalIpRow]
    nics: list[NicRow]

    def live_external_ips(self) -> list[ExternalIpRow]:
        return [row for row in self.external_ips if row.live]

    def live_nics(self) -> list[NicRow]:
        return [row for row in self.nics if row.live]


def read_tables(conn: Connection) -> Tables:
    external_ips = [
        ExternalIpRow(
            row.id,
            row.parent_id,
            _address(row.ip),
            row.first_port,
            row.last_port,
            _text(row.kind),
            row.is_service,
            row.time_deleted is None,
        )
        for row in conn.execute(text(f"SELECT {EXTERNAL_IP_COLUMNS} FROM external_ip"))
    ]
    nics = [
        NicRow(
            row.id,
            row.service_id,
            row.name,
            row.vpc_id,
            row.subnet_id,
            row.mac,
            _address(row.ipv4),
            row.slot,
            row.is_primary,
            row.time_deleted is None,
        )
        for row in conn.execute(text(f"SELECT {NIC_COLUMNS} FROM service_network_interface"))
    ]
    return Tables(external_ips, nics)


def read_tables_consistently(engine: Engine) -> Tables:
    """Both tables from one snapshot."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return read_tables(conn)


def realization_problems(tables: Tables, blueprint: Blueprint) -> list[str]:
    """Every way the tables fail to realize ``blueprint`` (empty: they realize it)."""
    problems: list[str] = []
    live_ips: dict[UUID | None, list[ExternalIpRow]] = defaultdict(list)
    for ext_row in tables.live_external_ips():
        live_ips[ext_row.parent_id].append(ext_row)
    live_nics: dict[UUID, list[NicRow]] = defaultdict(list)
    for nic_row in tables.live_nics():
        live_nics[nic_row.service_id].append(nic_row)

    in_service: set[UUID] = set()
    for zone in blueprint.all_zones():
        external, nic, networking = zone.external_ip, zone.nic, zone.networking
        if external is None or nic is None or networking is None:
            continue
        ips, nics = live_ips.get(zone.id, []), live_nics.get(zone.id, [])
        if zone.is_expunged:
            if ips or nics:
                problems.append(
                    f"expunged zone {zone.id} has live rows:"
                    f" {[str(r.id) for r in ips]} {[str(r.id) for r in nics]}"
                )
            continue
        in_service.add(zone.id)
        kind = ServiceKind(networking.kind)
        wanted_ip = ExternalIpRow(
            external.id,
            zone.id,
            _address(external.ip),
            external.first_port,
            external.last_port,
            "snat" if isinstance(external, SnatExternalIp) else "floating",
            True,
            True,
        )
        if ips != [wanted_ip]:
            problems.append(f"in-service zone {zone.id}: live external IPs {ips} != {wanted_ip}")
        wanted_nic = NicRow(
            nic.id,
            zone.id,
            nic.name,
            SERVICES_VPC_ID,
            SERVICE_SUBNETS[kind].id,
            mac_to_int(nic.mac),
            _address(nic.ip),
            nic.slot,
            nic.primary,
            True,
        )
        if nics != [wanted_nic]:
            problems.append(f"in-service zone {zone.id}: live NICs {nics} != {wanted_nic}")

    for parent, ext_rows in live_ips.items():
        if parent not in in_service:
            problems.append(
                f"{len(ext_rows)} live external IP rows of {parent}, not an in-service zone"
            )
    for service, nic_rows in live_nics.items():
        if service not in in_service:
            problems.append(f"{len(nic_rows)} live NIC rows of {service}, not an in-service zone")
    return problems + duplicate_live_addresses(tables)


def duplicate_live_addresses(tables: Tables) -> list[str]:
    """Two live rows holding one address: never allowed, whatever the blueprint says."""
    problems: list[str] = []
    by_ip: dict[IPv4Address | IPv6Address, list[ExternalIpRow]] = defaultdict(list)
    for row in tables.live_external_ips():
        by_ip[row.ip].append(row)
    for address, rows in by_ip.items():
        for i, first in enumerate(rows):
            for second in rows[i + 1 :]:
                if first.first_port <= second.last_port and second.first_port <= first.last_port:
                    problems.append(
                        f"external IP {address} held by live rows {first.id} ({first.parent_id})"
                        f" and {second.id} ({second.parent_id}) with overlapping ports"
                    )
    keys: dict[str, dict[tuple[Any, ...], list[NicRow]]] = {
        "NIC IP": defaultdict(list),
        "MAC": defaultdict(list),
        "NIC slot": defaultdict(list),
    }
    for row in tables.live_nics():
        keys["NIC IP"][(row.subnet_id, row.ipv4)].append(row)
        keys["MAC"][(row.vpc_id, row.mac)].append(row)
        keys["NIC slot"][(row.service_id, row.slot)].append(row)
    for what, groups in keys.items():
        for key, rows in groups.items():
            if len(rows) > 1:
                owners = ", ".join(f"{r.id} ({r.service_id})" for r in rows)
                problems.append(f"{what} {key} held by {len(rows)} live rows: {owners}")
    return problems


@dataclass
class RowLedger:
    """Remembers every row seen; reports rows that vanish, revive or change once deleted."""

    live: dict[tuple[str, UUID], bool] = field(default_factory=dict)
    deleted_rows: dict[tuple[str, UUID], tuple[Any, ...]] = field(default_factory=dict)
    observations: int = 0
    lost: set[tuple[str, UUID]] = field(default_factory=set)
    revived: set[tuple[str, UUID]] = field(default_factory=set)
    rewritten: set[tuple[str, UUID]] = field(default_factory=set)

    @property
    def rows_seen(self) -> int:
        return len(self.live)

    def observe(self, conn: Connection) -> list[str]:
        """Compare the tables with everything seen before (call inside one snapshot)."""
        self.observations += 1
        current: dict[tuple[str, UUID], tuple[Any, ...]] = {}
        for table in ("external_ip", "service_network_interface"):
            query = f"SELECT t.*, t.time_deleted IS NULL AS _live FROM {table} t"
            for row in conn.execute(text(query)):
                current[(table, row.id)] = tuple(row)
        problems: list[str] = []
        for key, was_live in self.live.items():
            row = current.get(key)
            if row is None:
                self.lost.add(key)
                problems.append(f"{key[0]} row {key[1]} disappeared")
                continue
            if not was_live and row[-1]:
                self.revived.add(key)
                problems.append(f"{key[0]} row {key[1]} was soft-deleted and is live again")
            if key in self.deleted_rows and self.deleted_rows[key] != row:
                self.rewritten.add(key)
                problems.append(f"{key[0]} row {key[1]} changed after it was soft-deleted")
        for key, row in current.items():
            live = bool(row[-1])
            if self.live.get(key, True):
                self.live[key] = live
            if not live:
                self.deleted_rows.setdefault(key, row)
        return problems

    def observe_engine(self, engine: Engine) -> list[str]:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return self.observe(conn)
