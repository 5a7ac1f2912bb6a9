"""Reading the rows the decision needs, with a fixed number of statements.

One SELECT per table, whatever the size of the blueprint, in two parts joined by
``UNION ALL``:

* **In-service zones**: the rows with the blueprint's ids, the live rows whose parent is one of
  its in-service zones, and the live rows holding an address it wants. These come back whole,
  since each is compared with the blueprint.
* **Expunged zones**, by the row ids the blueprint records, classified on the server. A row that
  exists, belongs to its zone and is already soft-deleted needs nothing but counting, and in a
  long-lived system nearly every expunged zone's rows are like that; so the SELECT returns only
  the others (no row with that id, a live row, a row of another zone), each with its position
  in the blueprint's list of expunged zones.

Arrays travel as array literals (:mod:`reconfigurator.db.array_params`), built once per
blueprint and kept while its networking record lives: a blueprint that has carried expunged
zones for years names tens of thousands of ids, and adapting them one by one on every run
would cost more than the query itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, TypeVar
from uuid import UUID
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.engine import Connection, Row
from sqlalchemy.types import BigInteger

from reconfigurator.db.array_params import array_literal, array_param
from reconfigurator.db.networking.decide import NetworkingState, PoolRange
from reconfigurator.db.networking.rows import (
    BlueprintNetworking,
    ExternalIpRow,
    IpAddress,
    NicRow,
    Table,
)
from reconfigurator.db.schema import (
    external_ip_table,
    ip_pool_range_table,
    ip_pool_table,
    service_network_interface_table,
)
from reconfigurator.fixed_data import SERVICE_IP_POOL_ASSIGNMENT, SERVICES_VPC_ID

EXT = external_ip_table
NIC = service_network_interface_table


#: The columns the decision reads, per table.
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
    NIC.c.service_id,
    NIC.c.name,
    NIC.c.vpc_id,
    NIC.c.subnet_id,
    NIC.c.mac,
    NIC.c.ipv4,
    NIC.c.slot,
    NIC.c.is_primary,
    NIC.c.time_deleted,
)


def _in_service_part(columns: Iterable[Any], condition: ColumnElement[bool]) -> Any:
    return select(cast(null(), BigInteger()).label("ord"), *columns).where(condition)


def _expunged_part(table: SqlTable, parent: ColumnElement[Any], columns: Iterable[Any]) -> Any:
    """Rows of expunged zones that are not simply already soft-deleted, with the position
    (1-based ``ord``) of their zone in the blueprint's list."""
    wanted = (
        func.unnest(
            array_param("expunged_row_ids", Uuid()), array_param("expunged_zone_ids", Uuid())
        )
        .table_valued("row_id", "zone_id", with_ordinality="ord")
        .render_derived()
    )
    return (
        select(wanted.c.ord, *columns)
        .select_from(wanted.outerjoin(table, table.c.id == wanted.c.row_id))
        .where(
            or_(
                table.c.id.is_(None),
                table.c.time_deleted.is_(None),
                parent.is_distinct_from(wanted.c.zone_id),
            )
        )
    )


#: One statement per table: the in-service part (``ord`` NULL), then the expunged part.
EXTERNAL_IP_QUERY = union_all(
    _in_service_part(
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
    ),
    _expunged_part(EXT, EXT.c.parent_id, EXTERNAL_IP_COLUMNS),
)

NIC_QUERY = union_all(
    _in_service_part(
        NIC_COLUMNS,
        or_(
            NIC.c.id == any_(array_param("row_ids", Uuid())),
            and_(
                NIC.c.time_deleted.is_(None),
                or_(
                    NIC.c.service_id == any_(array_param("zone_ids", Uuid())),
                    and_(
                        NIC.c.subnet_id == any_(array_param("subnet_ids", Uuid())),
                        NIC.c.ipv4 == any_(array_param("ips", INET())),
                    ),
                    and_(
                        NIC.c.vpc_id == bindparam("vpc_id", type_=Uuid()),
                        NIC.c.mac == any_(array_param("macs", BigInteger())),
                    ),
                ),
            ),
        ),
    ),
    _expunged_part(NIC, NIC.c.service_id, NIC_COLUMNS),
)

POOL_RANGE_QUERY = (
    select(
        ip_pool_range_table.c.id,
        ip_pool_range_table.c.first_address,
        ip_pool_range_table.c.last_address,
    )
    .join(ip_pool_table, ip_pool_table.c.id == ip_pool_range_table.c.ip_pool_id)
    .where(
        ip_pool_table.c.assignment == SERVICE_IP_POOL_ASSIGNMENT,
        ip_pool_table.c.time_deleted.is_(None),
        ip_pool_range_table.c.time_deleted.is_(None),
    )
    .order_by(ip_pool_range_table.c.first_address)
)


def _address(value: Any) -> IpAddress:
    """An address as the driver returns it: psycopg already gives ``ipaddress`` objects, so
    parse only what arrives as text."""
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    return ip_address(value)


def load_pool_ranges(conn: Connection) -> list[PoolRange]:
    return [
        PoolRange(row.id, _address(row.first_address), _address(row.last_address))
        for row in conn.execute(POOL_RANGE_QUERY)
    ]


def _external_ip_row(row: Row[Any]) -> ExternalIpRow:
    return ExternalIpRow(
        id=row.id,
        parent_id=row.parent_id,
        ip=_address(row.ip),
        first_port=row.first_port,
        last_port=row.last_port,
        kind=str(row.kind),
        is_service=row.is_service,
        time_deleted=row.time_deleted,
    )


def _nic_row(row: Row[Any]) -> NicRow:
    return NicRow(
        id=row.id,
        service_id=row.service_id,
        name=row.name,
        vpc_id=row.vpc_id,
        subnet_id=row.subnet_id,
        mac=row.mac,
        ipv4=_address(row.ipv4),  # type: ignore[arg-type]  # the schema CHECKs family 4
        slot=row.slot,
        is_primary=row.is_primary,
        time_deleted=row.time_deleted,
    )


@dataclass(frozen=True, slots=True)
class _Parameters:
    external_ips: dict[str, Any]
    nics: dict[str, Any]


#: Query parameters per blueprint, kept while the blueprint's networking record is alive (an
#: executor keeps the record of its target between runs).
_PARAMETERS: WeakKeyDictionary[BlueprintNetworking, _Parameters] = WeakKeyDictionary()


def _parameters(wanted: BlueprintNetworking) -> _Parameters:
    """The query parameters of a blueprint, built on its first run."""
    cached = _PARAMETERS.get(wanted)
    if cached is not None:
        return cached
    zone_ids = array_literal(d.zone_id for d in wanted.external_ips)
    expunged_zone_ids = array_literal(z.zone_id for z in wanted.expunged)
    parameters = _Parameters(
        external_ips={
            "row_ids": array_literal(d.id for d in wanted.external_ips),
            "zone_ids": zone_ids,
            "ips": array_literal(sorted({str(d.ip) for d in wanted.external_ips})),
            "expunged_row_ids": array_literal(z.external_ip_id for z in wanted.expunged),
            "expunged_zone_ids": expunged_zone_ids,
        },
        nics={
            "row_ids": array_literal(d.id for d in wanted.nics),
            "zone_ids": zone_ids,
            "subnet_ids": array_literal(sorted({d.subnet_id for d in wanted.nics})),
            "ips": array_literal(sorted({str(d.ipv4) for d in wanted.nics})),
            "vpc_id": SERVICES_VPC_ID,
            "macs": array_literal(sorted({d.mac for d in wanted.nics})),
            "expunged_row_ids": array_literal(z.nic_id for z in wanted.expunged),
            "expunged_zone_ids": expunged_zone_ids,
        },
    )
    _PARAMETERS[wanted] = parameters
    return parameters


_Row = TypeVar("_Row", ExternalIpRow, NicRow)


def _sort_rows(
    result: Iterable[Row[Any]],
    convert: Callable[[Row[Any]], _Row],
    by_id: dict[UUID, _Row],
    expunged: dict[int, _Row | None],
) -> None:
    """Rows of the in-service part by id; rows of the expunged part by zone position."""
    for row in result:
        found = None if row.id is None else convert(row)
        if row.ord is not None:
            expunged[row.ord - 1] = found
        elif found is not None:
            by_id[row.id] = found


def load_state(conn: Connection, wanted: BlueprintNetworking) -> NetworkingState:
    """Three SELECTs (one per table and the pool ranges), whatever the size of the blueprint."""
    parameters = _parameters(wanted)
    state = NetworkingState({}, {}, load_pool_ranges(conn), {}, {})
    _sort_rows(
        conn.execute(EXTERNAL_IP_QUERY, parameters.external_ips),
        _external_ip_row,
        state.external_ips,
        state.expunged_external_ips,
    )
    _sort_rows(conn.execute(NIC_QUERY, parameters.nics), _nic_row, state.nics, state.expunged_nics)
    return state


ORPHAN_EXTERNAL_IP_QUERY = select(EXT.c.id, EXT.c.parent_id, EXT.c.ip).where(
    EXT.c.time_deleted.is_(None),
    EXT.c.is_service.is_(True),
    ~(EXT.c.parent_id == any_(array_param("zone_ids", Uuid()))),
)
ORPHAN_NIC_QUERY = select(NIC.c.id, NIC.c.service_id, NIC.c.ipv4).where(
    NIC.c.time_deleted.is_(None),
    ~(NIC.c.service_id == any_(array_param("zone_ids", Uuid()))),
)


@dataclass(frozen=True, slots=True)
class LiveServiceRow:
    table: Table
    id: UUID
    parent_id: UUID | None
    address: str


def load_live_rows_outside(conn: Connection, zone_ids: list[UUID]) -> list[LiveServiceRow]:
    """Live service rows whose parent is none of ``zone_ids`` (two SELECTs)."""
    params = {"zone_ids": array_literal(zone_ids)}
    rows = [
        LiveServiceRow(Table.EXTERNAL_IP, row.id, row.parent_id, str(row.ip))
        for row in conn.execute(ORPHAN_EXTERNAL_IP_QUERY, params)
    ]
    rows.extend(
        LiveServiceRow(Table.NIC, row.id, row.service_id, str(row.ipv4))
        for row in conn.execute(ORPHAN_NIC_QUERY, params)
    )
    return rows
