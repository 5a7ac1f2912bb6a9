"""What must hold of the networking tables, checked independently of the executor's code.

The tables are ``external_ip``, the service rows of ``network_interface`` (``kind =
'service'``) and ``external_networking_repair``, the record of rows of expunged zones that
were never created (for which nothing is written to the other two).

* :func:`realization_problems`: the tables realize a blueprint — every in-service zone with
  external networking has exactly its blueprint's external IP row and NIC row live (same id,
  name, address, ports, MAC, subnet, slot), no expunged zone has a live row, every row of an
  expunged zone either exists soft-deleted or does not exist at all and the repair record
  lists it exactly once, and no live row belongs to anything but an in-service zone of the
  blueprint.
* :func:`duplicate_live_addresses`: no two live rows hold one address (external IP with
  overlapping ports, NIC IPv4 or IPv6 address in a subnet, MAC, NIC slot of a zone).
* :func:`repair_record_problems`: the repair record lists a row at most once, and only a row
  that does not exist (a never-created row is never written later).
* :func:`step_report_problems`: a run's report counts as ``not_found`` every row of an expunged
  zone that does not exist, and lists as repairs exactly the rows it recorded.
* :func:`work_left`, :func:`audit_work_left`: the audit's findings, less those that say a
  never-created row's repair is already recorded (nothing left to do).
* :class:`RowLedger`: across observations, no row ever disappears (rows are only
  soft-deleted, repairs are never forgotten), no soft-deleted row becomes live again, and
  neither a soft-deleted row nor a repair entry ever changes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, Final
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from reconfigurator.audit import AuditReport, FindingKind, audit
from reconfigurator.blueprint.model import Blueprint, SnatExternalIp
from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID, ServiceKind, mac_to_int

#: How the repair record and the executor's report name the two tables.
EXTERNAL_IP: Final = "external_ip"
NIC: Final = "service_network_interface"

EXTERNAL_IP_COLUMNS = (
    "id, parent_id, name, ip, first_port, last_port, kind, is_service, time_deleted"
)
NIC_COLUMNS = (
    "id, parent_id, name, vpc_id, subnet_id, mac, ip, ipv6, slot, is_primary, time_deleted"
)
#: Service NICs are the rows of upstream's ``network_interface`` with ``kind = 'service'``.
SERVICE_NICS = "network_interface WHERE kind = 'service'"
REPAIR_COLUMNS = "table_name, row_id, zone_id, execution_id"

Address = IPv4Address | IPv6Address


def _address(value: object) -> Address:
    """An INET value as the driver returns it (address, interface or text) → address."""
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    return ip_address(str(value).split("/", 1)[0])


def _optional_address(value: object) -> Address | None:
    return None if value is None else _address(value)


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


@dataclass(frozen=True, slots=True)
class ExternalIpRow:
    id: UUID
    parent_id: UUID | None
    name: str
    ip: Address
    first_port: int
    last_port: int
    kind: str
    is_service: bool
    live: bool


@dataclass(frozen=True, slots=True)
class NicRow:
    id: UUID
    parent_id: UUID
    name: str
    vpc_id: UUID
    subnet_id: UUID
    mac: int
    ipv4: Address | None
    ipv6: Address | None
    slot: int
    is_primary: bool
    live: bool


@dataclass(frozen=True, slots=True)
class RepairEntry:
    """A row of ``external_networking_repair``: ``table``'s row ``row_id`` of expunged zone
    ``zone_id`` was never created, as run ``execution_id`` found first."""

    table: str
    row_id: UUID
    zone_id: UUID
    execution_id: UUID | None


@dataclass(slots=True)
class Tables:
    external_ips: list[ExternalIpRow]
    nics: list[NicRow]
    repairs: list[RepairEntry]

    def live_external_ips(self) -> list[ExternalIpRow]:
        return [row for row in self.external_ips if row.live]

    def live_nics(self) -> list[NicRow]:
        return [row for row in self.nics if row.live]

    def rows_with_id(self, table: str, row_id: UUID) -> list[ExternalIpRow] | list[NicRow]:
        if table == EXTERNAL_IP:
            return [row for row in self.external_ips if row.id == row_id]
        return [row for row in self.nics if row.id == row_id]

    def repairs_of(self, table: str, row_id: UUID) -> list[RepairEntry]:
        return [entry for entry in self.repairs if (entry.table, entry.row_id) == (table, row_id)]


def read_tables(conn: Connection) -> Tables:
    external_ips = [
        ExternalIpRow(
            row.id,
            row.parent_id,
            row.name,
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
            row.parent_id,
            row.name,
            row.vpc_id,
            row.subnet_id,
            row.mac,
            _optional_address(row.ip),
            _optional_address(row.ipv6),
            row.slot,
            row.is_primary,
            row.time_deleted is None,
        )
        for row in conn.execute(text(f"SELECT {NIC_COLUMNS} FROM {SERVICE_NICS}"))
    ]
    repairs = [
        RepairEntry(row.table_name, row.row_id, row.zone_id, row.execution_id)
        for row in conn.execute(text(f"SELECT {REPAIR_COLUMNS} FROM external_networking_repair"))
    ]
    return Tables(external_ips, nics, repairs)


def read_tables_consistently(engine: Engine) -> Tables:
    """Every table from one snapshot."""
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
        live_nics[nic_row.parent_id].append(nic_row)

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
            problems += _retired_row_problems(tables, zone.id, EXTERNAL_IP, external.id)
            problems += _retired_row_problems(tables, zone.id, NIC, nic.id)
            continue
        in_service.add(zone.id)
        kind = ServiceKind(networking.kind)
        wanted_ip = ExternalIpRow(
            external.id,
            zone.id,
            kind.row_name(zone.id),
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
            nic.ip,
            nic.ipv6,
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
    for parent, nic_rows in live_nics.items():
        if parent not in in_service:
            problems.append(f"{len(nic_rows)} live NIC rows of {parent}, not an in-service zone")
    return problems + duplicate_live_addresses(tables) + repair_record_problems(tables)


def _retired_row_problems(tables: Tables, zone_id: UUID, table: str, row_id: UUID) -> list[str]:
    """A row of an expunged zone is the zone's, soft-deleted; or, never created, it does not
    exist at all and the repair record lists it exactly once, for this zone."""
    rows = tables.rows_with_id(table, row_id)
    if rows:
        return [
            f"{table} row {row_id} of expunged zone {zone_id} belongs to {row.parent_id}"
            for row in rows
            if row.parent_id != zone_id
        ]
    listed = tables.repairs_of(table, row_id)
    if [entry.zone_id for entry in listed] != [zone_id]:
        return [
            f"{table} row {row_id} of expunged zone {zone_id} was never created, but the"
            f" repair record lists it for {[str(entry.zone_id) for entry in listed]}"
        ]
    return []


def repair_record_problems(tables: Tables) -> list[str]:
    """The repair record lists each row at most once, and only rows that do not exist: the
    executor writes nothing for a never-created row, then or later."""
    problems: list[str] = []
    listed = Counter((entry.table, entry.row_id) for entry in tables.repairs)
    for (table, row_id), times in sorted(listed.items(), key=str):
        if times > 1:
            problems.append(f"the repair record lists {table} row {row_id} {times} times")
        if table not in (EXTERNAL_IP, NIC):
            problems.append(f"the repair record names an unknown table {table!r}")
        elif tables.rows_with_id(table, row_id):
            problems.append(f"{table} row {row_id} exists, yet is recorded as never created")
    return problems


def step_report_problems(
    tables: Tables, blueprint: Blueprint, details: dict[str, Any], execution_id: UUID
) -> list[str]:
    """How a successful run's step report disagrees with the tables read after it: its
    ``not_found`` counts every row of an expunged zone that does not exist, and its
    ``repairs`` list exactly the rows this run recorded (those it met for the first time)."""
    problems: list[str] = []
    missing = Counter[str]()
    for zone in blueprint.expunged_zones():
        external, nic = zone.external_ip, zone.nic
        if external is None or nic is None:
            continue
        for table, row_id in ((EXTERNAL_IP, external.id), (NIC, nic.id)):
            if not tables.rows_with_id(table, row_id):
                missing[table] += 1
    for table, key in ((EXTERNAL_IP, "external_ips"), (NIC, "nics")):
        if details[key]["not_found"] != missing[table]:
            problems.append(
                f"{key}: not_found {details[key]['not_found']}, but {missing[table]} rows of"
                " expunged zones do not exist"
            )
    listed = sorted((r["table"], r["row_id"], r["zone_id"]) for r in details["repairs"])
    recorded = sorted(
        (entry.table, str(entry.row_id), str(entry.zone_id))
        for entry in tables.repairs
        if entry.execution_id == execution_id
    )
    if listed != recorded:
        problems.append(f"the run listed repairs {listed}, but recorded {recorded}")
    return problems


def duplicate_live_addresses(tables: Tables) -> list[str]:
    """Two live rows holding one address: never allowed, whatever the blueprint says."""
    problems: list[str] = []
    by_ip: dict[Address, list[ExternalIpRow]] = defaultdict(list)
    for ext_row in tables.live_external_ips():
        by_ip[ext_row.ip].append(ext_row)
    for address, rows in by_ip.items():
        for i, first in enumerate(rows):
            for second in rows[i + 1 :]:
                if first.first_port <= second.last_port and second.first_port <= first.last_port:
                    problems.append(
                        f"external IP {address} held by live rows {first.id} ({first.parent_id})"
                        f" and {second.id} ({second.parent_id}) with overlapping ports"
                    )
    keys: dict[str, dict[tuple[Any, ...], list[NicRow]]] = {
        "NIC IPv4": defaultdict(list),
        "NIC IPv6": defaultdict(list),
        "MAC": defaultdict(list),
        "NIC slot": defaultdict(list),
    }
    for nic in tables.live_nics():
        if nic.ipv4 is not None:
            keys["NIC IPv4"][(nic.subnet_id, nic.ipv4)].append(nic)
        if nic.ipv6 is not None:
            keys["NIC IPv6"][(nic.subnet_id, nic.ipv6)].append(nic)
        keys["MAC"][(nic.vpc_id, nic.mac)].append(nic)
        keys["NIC slot"][(nic.parent_id, nic.slot)].append(nic)
    for what, groups in keys.items():
        for key, nics in groups.items():
            if len(nics) > 1:
                owners = ", ".join(f"{n.id} ({n.parent_id})" for n in nics)
                problems.append(f"{what} {key} held by {len(nics)} live rows: {owners}")
    return problems


def work_left(report: AuditReport, tables: Tables) -> list[dict[str, Any]]:
    """The audit's findings that say something is left to do or in the way: all of them
    except a never-created row of an expunged zone whose repair the record already holds."""
    recorded = {(entry.table, entry.row_id) for entry in tables.repairs}
    return [
        finding.to_json()
        for finding in report.findings
        if not (
            finding.kind is FindingKind.NEVER_CREATED
            and not finding.blocking
            and (finding.table, finding.row_id) in recorded
        )
    ]


def audit_work_left(engine: Engine, blueprint: Blueprint) -> list[dict[str, Any]]:
    """:func:`work_left` of the audit of ``blueprint`` (call when nothing else writes)."""
    return work_left(audit(engine, blueprint), read_tables_consistently(engine))


#: What the ledger watches. Each query's first column is the row's key and its last says
#: whether the row may still change: a live row may be soft-deleted; a soft-deleted row and a
#: repair entry are final.
LEDGER_QUERIES: Final = {
    EXTERNAL_IP: "SELECT t.id AS _key, t.*, t.time_deleted IS NULL AS _live FROM external_ip t",
    NIC: (
        "SELECT t.id AS _key, t.*, t.time_deleted IS NULL AS _live"
        " FROM network_interface t WHERE t.kind = 'service'"
    ),
    "external_networking_repair": (
        "SELECT t.table_name || ' ' || t.row_id || ' ' || t.zone_id AS _key, t.*,"
        " false AS _live FROM external_networking_repair t"
    ),
}

LedgerKey = tuple[str, Any]


@dataclass
class RowLedger:
    """Remembers every row seen; reports rows that vanish, revive or change once final."""

    live: dict[LedgerKey, bool] = field(default_factory=dict)
    final_rows: dict[LedgerKey, tuple[Any, ...]] = field(default_factory=dict)
    observations: int = 0
    lost: set[LedgerKey] = field(default_factory=set)
    revived: set[LedgerKey] = field(default_factory=set)
    rewritten: set[LedgerKey] = field(default_factory=set)

    @property
    def rows_seen(self) -> int:
        return len(self.live)

    def observe(self, conn: Connection) -> list[str]:
        """Compare the tables with everything seen before (call inside one snapshot)."""
        self.observations += 1
        current: dict[LedgerKey, tuple[Any, ...]] = {}
        for table, query in LEDGER_QUERIES.items():
            for fetched in conn.execute(text(query)):
                current[(table, fetched[0])] = tuple(fetched)
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
            if key in self.final_rows and self.final_rows[key] != row:
                self.rewritten.add(key)
                problems.append(f"{key[0]} row {key[1]} changed after it was final")
        for key, row in current.items():
            live = bool(row[-1])
            if self.live.get(key, True):
                self.live[key] = live
            if not live:
                self.final_rows.setdefault(key, row)
        return problems

    def observe_engine(self, engine: Engine) -> list[str]:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return self.observe(conn)
