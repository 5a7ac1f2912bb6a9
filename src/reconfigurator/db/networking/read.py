"""Reading the rows the decision needs, with a fixed number of statements.

One SELECT per table, whatever the size of the blueprint, joined by ``UNION ALL`` from:

* **In-service zones**: the rows with the blueprint's ids, the live rows whose parent is one of
  its in-service zones, and the live rows holding an address or MAC it wants. These come back
  whole, since each is compared with the blueprint.
* **Expunged zones**, by the row ids the blueprint records, classified on the server. A row that
  exists, belongs to its zone and is already soft-deleted needs nothing but counting, and in a
  long-lived system nearly every expunged zone's rows are like that; so the SELECT returns only
  the others (no row with that id, a live row, a row of another parent). The expunged zones
  come either from the stored blueprint's ``bp_omicron_zone`` rows, joined in the same SELECT
  (the executor: they never travel), each row naming its zone; or from arrays the caller sends
  (a blueprint in hand, as the audit of a document has), each row with its zone's position.
* **Recorded repairs**: a row that was never created and whose repair an earlier run recorded
  in ``external_networking_repair`` is, under :attr:`RepairLookup.COUNT`, counted on the server
  (one row carries the count) instead of coming back row by row, so a run that has nothing to
  do stays as cheap as before any repair.

Every column read from ``external_ip``, ``network_interface`` and the pool tables is one that
upstream's tables have: with :attr:`RepairLookup.NONE` the statements run unchanged on a
database created by upstream's own DDL.

Arrays travel as array literals (:mod:`reconfigurator.db.array_params`), built once per
blueprint and kept while its networking record lives: a blueprint that has carried expunged
zones for years names tens of thousands of ids, and adapting them one by one on every run
would cost more than the query itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_interface
from typing import Any, Final, TypeVar
from uuid import UUID
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.selectable import CompoundSelect

from reconfigurator.db.array_params import array_literal, array_param
from reconfigurator.db.schema import (
    BpDisposition,
    bp_omicron_zone_table,
    external_ip_table,
    external_networking_repair_table,
    ip_pool_range_table,
    ip_pool_table,
    network_interface_table,
)
from reconfigurator.db.values import to_address
from reconfigurator.fixed_data import SERVICE_IP_POOL_ASSIGNMENT, SERVICES_VPC_ID
from reconfigurator.networking.desired import BlueprintNetworking, ExpungedZoneRows
from reconfigurator.networking.rows import (
    SERVICE_NIC_KIND,
    ExternalIpRow,
    IpNetwork,
    NicRow,
    PoolRange,
    Table,
)
from reconfigurator.networking.state import NetworkingState

EXT = external_ip_table
NIC = network_interface_table
REPAIR = external_networking_repair_table
ZONE = bp_omicron_zone_table


class RepairLookup(enum.Enum):
    """How recorded repairs of never-created rows are read."""

    #: Counted on the server (the executor under the default missing-row policy).
    COUNT = "count"
    #: Listed row by row and flagged (the ``fail`` policy, which names the first; the audit).
    LIST = "list"
    #: Not read: the database has no repair record (upstream's own DDL). Every missing row
    #: comes back unflagged.
    NONE = "none"


#: The columns the decision reads, per table (all of them upstream's).
EXTERNAL_IP_COLUMNS = (
    EXT.c.id,
    EXT.c.parent_id,
    EXT.c.ip,
    EXT.c.first_port,
    EXT.c.last_port,
    EXT.c.kind,
    EXT.c.is_service,
    EXT.c.time_deleted,
)
NIC_COLUMNS = (
    NIC.c.id,
    NIC.c.parent_id,
    NIC.c.kind,
    NIC.c.name,
    NIC.c.vpc_id,
    NIC.c.subnet_id,
    NIC.c.mac,
    NIC.c.ip,
    NIC.c.ipv6,
    NIC.c.slot,
    NIC.c.is_primary,
    NIC.c.transit_ips,
    NIC.c.transit_ips_v6,
    NIC.c.time_deleted,
)


def _typed_null(column: Any) -> Any:
    return cast(null(), column.type).label(column.name)


#: Columns a query over a stored blueprint adds: the expunged zone a row is for.
ZONE_COLUMNS = (
    ZONE.c.sled_id.label("x_sled_id"),
    ZONE.c.id.label("x_zone_id"),
    ZONE.c.external_ip_id.label("x_external_ip_id"),
    ZONE.c.bp_nic_id.label("x_nic_id"),
)


def _zone_nulls(stored: bool) -> list[Any]:
    return [_typed_null(column) for column in ZONE_COLUMNS] if stored else []


def _in_service_part(columns: Iterable[Any], condition: ColumnElement[bool], stored: bool) -> Any:
    return select(
        cast(null(), BigInteger()).label("ord"),
        *columns,
        false().label("repaired"),
        cast(null(), BigInteger()).label("repaired_count"),
        *_zone_nulls(stored),
    ).where(condition)


def _wanted_from_arrays() -> Any:
    """The expunged zones' row ids as the caller sends them, with their positions."""
    return (
        func.unnest(
            array_param("expunged_row_ids", Uuid()), array_param("expunged_zone_ids", Uuid())
        )
        .table_valued("row_id", "zone_id", with_ordinality="ord")
        .render_derived()
    )


def _wanted_from_blueprint(table: SqlTable) -> Any:
    """The expunged zones' row ids as the stored blueprint records them."""
    row_id = ZONE.c.external_ip_id if table is EXT else ZONE.c.bp_nic_id
    return (
        select(
            row_id.label("row_id"),
            ZONE.c.id.label("zone_id"),
            cast(literal(0), BigInteger()).label("ord"),
            *ZONE_COLUMNS,
        )
        .where(
            ZONE.c.blueprint_id == bindparam("blueprint_id", type_=Uuid()),
            ZONE.c.disposition == BpDisposition.EXPUNGED.value,
            row_id.is_not(None),
        )
        .subquery("wanted")
    )


def _owner_differs(table: SqlTable, zone_id: Any) -> ColumnElement[bool]:
    condition = table.c.parent_id.is_distinct_from(zone_id)
    if table is NIC:
        condition = or_(condition, NIC.c.kind != SERVICE_NIC_KIND)
    return condition


def _expunged_parts(
    table: SqlTable, name: Table, columns: tuple[Any, ...], lookup: RepairLookup, stored: bool
) -> list[Any]:
    """Rows of expunged zones that are not simply already soft-deleted, and recorded repairs
    as ``lookup`` says. Each names its zone: by its position (1-based ``ord``) in the list
    the caller sends or, over a stored blueprint, by the zone's columns."""
    wanted = _wanted_from_blueprint(table) if stored else _wanted_from_arrays()
    zone_columns = [wanted.c[column.name] for column in ZONE_COLUMNS] if stored else []
    joined = wanted.outerjoin(table, table.c.id == wanted.c.row_id)
    repaired: ColumnElement[bool]
    if lookup is RepairLookup.NONE:
        repaired = false()
    else:
        joined = joined.outerjoin(
            REPAIR,
            and_(
                table.c.id.is_(None),
                REPAIR.c.table_name == literal(name.value),
                REPAIR.c.row_id == wanted.c.row_id,
                REPAIR.c.zone_id == wanted.c.zone_id,
            ),
        )
        repaired = REPAIR.c.row_id.is_not(None)
    needing = (
        select(wanted.c.ord, *columns, repaired.label("repaired"), *zone_columns)
        .select_from(joined)
        .where(
            or_(
                table.c.id.is_(None),
                table.c.time_deleted.is_(None),
                _owner_differs(table, wanted.c.zone_id),
            )
        )
    )
    count_column = cast(null(), BigInteger()).label("repaired_count")
    if lookup is not RepairLookup.COUNT:
        return [_with_count_column(needing, count_column, stored)]
    found = needing.cte(f"expunged_{table.name}")
    listed = select(
        found.c.ord,
        *(found.c[column.name] for column in columns),
        found.c.repaired,
        count_column,
        *(found.c[column.name] for column in ZONE_COLUMNS if stored),
    ).where(not_(found.c.repaired))
    counted = select(
        cast(null(), BigInteger()).label("ord"),
        *(_typed_null(column) for column in columns),
        true().label("repaired"),
        func.count().label("repaired_count"),
        *_zone_nulls(stored),
    ).where(found.c.repaired)
    return [listed, counted.select_from(found)]


def _with_count_column(needing: Any, count_column: Any, stored: bool) -> Any:
    """``needing`` with the count column in its place (before the zone columns)."""
    if not stored:
        return needing.add_columns(count_column)
    selected = list(needing.selected_columns)
    zone_count = len(ZONE_COLUMNS)
    return needing.with_only_columns(*selected[:-zone_count], count_column, *selected[-zone_count:])


def _external_ip_query(lookup: RepairLookup, stored: bool) -> CompoundSelect[Any]:
    in_service = _in_service_part(
        EXTERNAL_IP_COLUMNS,
        or_(
            EXT.c.id == any_(array_param("row_ids", Uuid())),
            and_(
                EXT.c.time_deleted.is_(None),
                or_(
                    EXT.c.parent_id == any_(array_param("zone_ids", Uuid())),
                    EXT.c.ip == any_(array_param("ips", INET())),
                ),
            ),
        ),
        stored,
    )
    return union_all(
        in_service,
        *_expunged_parts(EXT, Table.EXTERNAL_IP, EXTERNAL_IP_COLUMNS, lookup, stored),
    )


def _nic_query(lookup: RepairLookup, stored: bool) -> CompoundSelect[Any]:
    in_service = _in_service_part(
        NIC_COLUMNS,
        or_(
            NIC.c.id == any_(array_param("row_ids", Uuid())),
            and_(
                NIC.c.time_deleted.is_(None),
                or_(
                    NIC.c.parent_id == any_(array_param("zone_ids", Uuid())),
                    and_(
                        NIC.c.subnet_id == any_(array_param("subnet_ids", Uuid())),
                        or_(
                            NIC.c.ip == any_(array_param("ips", INET())),
                            NIC.c.ipv6 == any_(array_param("ips", INET())),
                        ),
                    ),
                    and_(
                        NIC.c.vpc_id == bindparam("vpc_id", type_=Uuid()),
                        NIC.c.mac == any_(array_param("macs", BigInteger())),
                    ),
                ),
            ),
        ),
        stored,
    )
    return union_all(in_service, *_expunged_parts(NIC, Table.NIC, NIC_COLUMNS, lookup, stored))


#: One statement per table, way of reading repairs, and whether the expunged zones are read
#: from a stored blueprint (``True``) or sent by the caller.
EXTERNAL_IP_QUERIES: Final = {
    (lookup, stored): _external_ip_query(lookup, stored)
    for lookup in RepairLookup
    for stored in (False, True)
}
NIC_QUERIES: Final = {
    (lookup, stored): _nic_query(lookup, stored)
    for lookup in RepairLookup
    for stored in (False, True)
}

POOL_RANGE_QUERY = (
    select(
        ip_pool_range_table.c.id,
        ip_pool_range_table.c.ip_pool_id,
        ip_pool_range_table.c.first_address,
        ip_pool_range_table.c.last_address,
    )
    .join(ip_pool_table, ip_pool_table.c.id == ip_pool_range_table.c.ip_pool_id)
    .where(
        ip_pool_table.c.assignment == SERVICE_IP_POOL_ASSIGNMENT,
        ip_pool_table.c.pool_type == "unicast",
        ip_pool_table.c.time_deleted.is_(None),
        ip_pool_range_table.c.time_deleted.is_(None),
    )
    .order_by(ip_pool_range_table.c.first_address)
)


def _networks(values: Iterable[Any] | None) -> tuple[IpNetwork, ...]:
    """An ``INET[]`` of networks (transit IPs) as networks."""
    if not values:
        return ()
    found: list[IpNetwork] = []
    for value in values:
        interface = value if isinstance(value, IPv4Interface | IPv6Interface) else None
        found.append((interface or ip_interface(str(value))).network)
    return tuple(found)


def load_pool_ranges(conn: Connection) -> list[PoolRange]:
    """The live ranges of the live service pools, lowest first."""
    return [
        PoolRange(
            row.id, row.ip_pool_id, to_address(row.first_address), to_address(row.last_address)
        )
        for row in conn.execute(POOL_RANGE_QUERY)
    ]


def _external_ip_row(row: Row[Any]) -> ExternalIpRow:
    return ExternalIpRow(
        id=row.id,
        parent_id=row.parent_id,
        ip=to_address(row.ip),
        first_port=row.first_port,
        last_port=row.last_port,
        kind=str(row.kind),
        is_service=row.is_service,
        time_deleted=row.time_deleted,
    )


def _nic_row(row: Row[Any]) -> NicRow:
    ipv4 = to_address(row.ip) if row.ip is not None else None
    ipv6 = to_address(row.ipv6) if row.ipv6 is not None else None
    return NicRow(
        id=row.id,
        parent_id=row.parent_id,
        kind=str(row.kind),
        name=row.name,
        vpc_id=row.vpc_id,
        subnet_id=row.subnet_id,
        mac=row.mac,
        # A row of another family in a column is nobody's address of that family.
        ipv4=ipv4 if isinstance(ipv4, IPv4Address) else None,
        ipv6=ipv6 if isinstance(ipv6, IPv6Address) else None,
        slot=row.slot,
        is_primary=row.is_primary,
        transit_ips=_networks(row.transit_ips) + _networks(row.transit_ips_v6),
        time_deleted=row.time_deleted,
    )


@dataclass(frozen=True, slots=True)
class _Parameters:
    external_ips: dict[str, Any]
    nics: dict[str, Any]


#: Query parameters per blueprint, kept while the blueprint's networking record is alive (an
#: executor keeps the record of its target between runs).
_PARAMETERS: WeakKeyDictionary[BlueprintNetworking, _Parameters] = WeakKeyDictionary()


def _parameters(desired: BlueprintNetworking) -> _Parameters:
    """The query parameters of a blueprint, built on its first run."""
    cached = _PARAMETERS.get(desired)
    if cached is not None:
        return cached
    zone_ids = array_literal(d.zone_id for d in desired.external_ips)
    nic_addresses = {str(a) for d in desired.nics for a in (d.ipv4, d.ipv6) if a is not None}
    parameters = _Parameters(
        external_ips={
            "row_ids": array_literal(d.id for d in desired.external_ips),
            "zone_ids": zone_ids,
            "ips": array_literal(sorted({str(d.ip) for d in desired.external_ips})),
        },
        nics={
            "row_ids": array_literal(d.id for d in desired.nics),
            "zone_ids": zone_ids,
            "subnet_ids": array_literal(sorted({d.subnet_id for d in desired.nics})),
            "ips": array_literal(sorted(nic_addresses)),
            "vpc_id": SERVICES_VPC_ID,
            "macs": array_literal(sorted({d.mac for d in desired.nics})),
        },
    )
    if desired.stored_expunged is not None:
        parameters.external_ips["blueprint_id"] = desired.blueprint_id
        parameters.nics["blueprint_id"] = desired.blueprint_id
    else:
        expunged_zone_ids = array_literal(z.zone_id for z in desired.expunged)
        parameters.external_ips["expunged_row_ids"] = array_literal(
            z.external_ip_id for z in desired.expunged
        )
        parameters.external_ips["expunged_zone_ids"] = expunged_zone_ids
        parameters.nics["expunged_row_ids"] = array_literal(z.nic_id for z in desired.expunged)
        parameters.nics["expunged_zone_ids"] = expunged_zone_ids
    _PARAMETERS[desired] = parameters
    return parameters


_Row = TypeVar("_Row", ExternalIpRow, NicRow)


#: An expunged zone of a stored blueprint, in executor order: (sled id, zone id).
_ZoneKey = tuple[UUID, UUID]


def _sort_rows(
    result: Iterable[Row[Any]],
    table: Table,
    convert: Callable[[Row[Any]], _Row],
    into: tuple[dict[UUID, _Row], dict[int, _Row | None]],
    state: NetworkingState,
    *,
    zones: dict[_ZoneKey, ExpungedZoneRows] | None,
) -> list[tuple[_ZoneKey, _Row | None, bool]]:
    """Rows of the in-service part by id; rows of the expunged part by zone position (or,
    over a stored blueprint, returned by zone, for :func:`_place_stored`); the count of
    recorded repairs."""
    by_id, expunged = into
    by_zone: list[tuple[_ZoneKey, _Row | None, bool]] = []
    for row in result:
        if row.repaired_count is not None:
            state.repaired_counted[table] = row.repaired_count
        elif row.ord is None:
            by_id[row.id] = convert(row)
        elif zones is not None:
            key = (row.x_sled_id, row.x_zone_id)
            zones.setdefault(
                key, ExpungedZoneRows(row.x_zone_id, row.x_external_ip_id, row.x_nic_id)
            )
            by_zone.append((key, None if row.id is None else convert(row), bool(row.repaired)))
        else:
            position = row.ord - 1
            expunged[position] = None if row.id is None else convert(row)
            if row.repaired:
                state.repaired.add((table, position))
    return by_zone


def _place_stored(
    state: NetworkingState,
    zones: dict[_ZoneKey, ExpungedZoneRows],
    external_ips: list[tuple[_ZoneKey, ExternalIpRow | None, bool]],
    nics: list[tuple[_ZoneKey, NicRow | None, bool]],
) -> None:
    """Give the expunged zones that came back positions in executor order."""
    positions = {key: index for index, key in enumerate(sorted(zones))}
    for key, zone in zones.items():
        state.expunged_zones[positions[key]] = zone
    for key, ext_row, repaired in external_ips:
        state.expunged_external_ips[positions[key]] = ext_row
        if repaired:
            state.repaired.add((Table.EXTERNAL_IP, positions[key]))
    for key, nic_row, repaired in nics:
        state.expunged_nics[positions[key]] = nic_row
        if repaired:
            state.repaired.add((Table.NIC, positions[key]))


def load_state(
    conn: Connection,
    desired: BlueprintNetworking,
    lookup: RepairLookup = RepairLookup.COUNT,
) -> NetworkingState:
    """Three SELECTs (one per table and the pool ranges), whatever the size of the blueprint.

    When ``desired`` leaves the expunged zones in the database (a stored blueprint), the
    SELECTs join them there and only those needing more than counting come back.
    """
    parameters = _parameters(desired)
    stored = desired.stored_expunged is not None
    zones: dict[_ZoneKey, ExpungedZoneRows] | None = {} if stored else None
    state = NetworkingState(pool_ranges=load_pool_ranges(conn))
    external_ips = _sort_rows(
        conn.execute(EXTERNAL_IP_QUERIES[lookup, stored], parameters.external_ips),
        Table.EXTERNAL_IP,
        _external_ip_row,
        (state.external_ips, state.expunged_external_ips),
        state,
        zones=zones,
    )
    nics = _sort_rows(
        conn.execute(NIC_QUERIES[lookup, stored], parameters.nics),
        Table.NIC,
        _nic_row,
        (state.nics, state.expunged_nics),
        state,
        zones=zones,
    )
    if zones is not None:
        _place_stored(state, zones, external_ips, nics)
    return state


ORPHAN_EXTERNAL_IP_QUERY = select(EXT.c.id, EXT.c.parent_id, EXT.c.ip).where(
    EXT.c.time_deleted.is_(None),
    EXT.c.is_service.is_(True),
    ~(EXT.c.parent_id == any_(array_param("zone_ids", Uuid()))),
)
ORPHAN_NIC_QUERY = select(NIC.c.id, NIC.c.parent_id, NIC.c.ip, NIC.c.ipv6).where(
    NIC.c.time_deleted.is_(None),
    NIC.c.kind == SERVICE_NIC_KIND,
    ~(NIC.c.parent_id == any_(array_param("zone_ids", Uuid()))),
)


@dataclass(frozen=True, slots=True)
class LiveServiceRow:
    """A live service row, for the audit's orphan check."""

    table: Table
    id: UUID
    parent_id: UUID | None
    address: str


def load_live_rows_outside(conn: Connection, zone_ids: list[UUID]) -> list[LiveServiceRow]:
    """Live service rows whose parent is none of ``zone_ids`` (two SELECTs)."""
    params = {"zone_ids": array_literal(zone_ids)}
    rows = [
        LiveServiceRow(Table.EXTERNAL_IP, row.id, row.parent_id, str(to_address(row.ip)))
        for row in conn.execute(ORPHAN_EXTERNAL_IP_QUERY, params)
    ]
    rows.extend(
        LiveServiceRow(
            Table.NIC,
            row.id,
            row.parent_id,
            " ".join(str(to_address(a)) for a in (row.ip, row.ipv6) if a is not None),
        )
        for row in conn.execute(ORPHAN_NIC_QUERY, params)
    )
    return rows


__all__ = [
    "EXTERNAL_IP_QUERIES",
    "NIC_QUERIES",
    "LiveServiceRow",
    "RepairLookup",
    "load_live_rows_outside",
    "load_pool_ranges",
    "load_state",
]
