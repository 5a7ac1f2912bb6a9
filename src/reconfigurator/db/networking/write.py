"""Writing a decision: at most six statements, whatever the number of zones — two UPDATEs
that soft-delete, the INSERT of new external IPs and the ``rcgen`` bump of the ranges they come
from, the INSERT of new service NICs, and the INSERT into this project's repair record.

Rows carry the values upstream writes (names, descriptions, ``state``, ``kind``); nothing is
written to ``external_ip`` or ``network_interface`` for a row that was never created. Rows to
insert travel as one array literal per column (:mod:`reconfigurator.db.array_params`) and are
expanded with ``unnest`` on the server.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    any_,
    cast,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.dialects.postgresql import ARRAY, INET
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.types import BigInteger, TypeEngine

from reconfigurator.db.array_params import (
    array_literal,
    array_param,
    bool_array_literal,
    nullable_array_literal,
    text_array_literal,
)
from reconfigurator.db.schema import (
    IP_ATTACH_STATE,
    IP_KIND,
    NETWORK_INTERFACE_KIND,
    IpAttachState,
    NetworkInterfaceKind,
    external_ip_table,
    external_networking_repair_table,
    ip_pool_range_table,
    network_interface_table,
)
from reconfigurator.errors import ConcurrentModification
from reconfigurator.fixed_data import SERVICES_VPC_ID
from reconfigurator.networking.plan import NetworkingPlan
from reconfigurator.networking.rows import Table

_TABLES: dict[Table, SqlTable] = {
    Table.EXTERNAL_IP: external_ip_table,
    Table.NIC: network_interface_table,
}

#: A column of rows to insert: its element type and the array literal of its values.
Column = tuple[TypeEngine[Any], str]


def _soft_delete(conn: Connection, table: Table, ids: list[UUID]) -> None:
    """``time_deleted = now()`` on live rows (upstream leaves ``time_modified`` as it is)."""
    if not ids:
        return
    target = _TABLES[table]
    result = conn.execute(
        update(target)
        .where(target.c.id == any_(array_param("ids", Uuid())), target.c.time_deleted.is_(None))
        .values(time_deleted=func.now()),
        {"ids": array_literal(ids)},
    )
    if result.rowcount != len(ids):
        raise ConcurrentModification(table.value, len(ids), result.rowcount)


def _unnest_insert(
    conn: Connection,
    target: SqlTable,
    columns: dict[str, Column],
    constants: dict[str, Any],
    *,
    timestamps: tuple[str, ...] = ("time_created", "time_modified"),
    cast_to: dict[str, TypeEngine[Any]] | None = None,
    on_conflict_do_nothing: bool = False,
) -> None:
    """INSERT INTO target (...) SELECT ... FROM unnest(:a, :b, ...) — one statement.

    ``cast_to`` casts a column after unnesting (an array per row travels as the text of its
    literal, since ``unnest`` would flatten an array of arrays).
    """
    casts = cast_to or {}
    arrays = [array_param(f"p_{name}", column_type) for name, (column_type, _) in columns.items()]
    rows = func.unnest(*arrays).table_valued(*columns).render_derived()
    now = func.now()
    selected = [
        *(cast(rows.c[name], casts[name]) if name in casts else rows.c[name] for name in columns),
        *constants.values(),
        *(now for _ in timestamps),
    ]
    target_columns = [*columns, *constants, *timestamps]
    statement = (pg_insert if on_conflict_do_nothing else insert)(target).from_select(
        target_columns, select(*selected)
    )
    if on_conflict_do_nothing:
        statement = statement.on_conflict_do_nothing()  # type: ignore[attr-defined]
    conn.execute(statement, {f"p_{name}": values for name, (_, values) in columns.items()})


def _insert_external_ips(conn: Connection, plan: NetworkingPlan) -> None:
    creates = plan.external_ip_creates
    if not creates:
        return
    _unnest_insert(
        conn,
        external_ip_table,
        {
            "id": (Uuid(), array_literal(c.desired.id for c in creates)),
            "name": (String(), text_array_literal(c.desired.name for c in creates)),
            "description": (String(), text_array_literal(c.desired.description for c in creates)),
            "ip_pool_id": (Uuid(), array_literal(c.pool_range.pool_id for c in creates)),
            "ip_pool_range_id": (Uuid(), array_literal(c.pool_range.id for c in creates)),
            "parent_id": (Uuid(), array_literal(c.desired.zone_id for c in creates)),
            "kind": (IP_KIND, array_literal(c.desired.kind for c in creates)),
            "ip": (INET(), array_literal(c.desired.ip for c in creates)),
            "first_port": (Integer(), array_literal(c.desired.first_port for c in creates)),
            "last_port": (Integer(), array_literal(c.desired.last_port for c in creates)),
        },
        {
            "is_service": true(),
            "state": literal(IpAttachState.ATTACHED, IP_ATTACH_STATE),
            "is_probe": false(),
        },
    )
    _bump_range_generations(conn, plan)


def _bump_range_generations(conn: Connection, plan: NetworkingPlan) -> None:
    """Each range's ``rcgen`` goes up by the number of addresses it gave out (as upstream)."""
    allocations = sorted(plan.range_allocations().items())
    bumps = (
        func.unnest(array_param("range_ids", Uuid()), array_param("counts", BigInteger()))
        .table_valued("id", "allocated")
        .render_derived()
    )
    ranges = ip_pool_range_table
    conn.execute(
        update(ranges)
        .where(ranges.c.id == bumps.c.id)
        .values(rcgen=ranges.c.rcgen + bumps.c.allocated),
        {
            "range_ids": array_literal(range_id for range_id, _ in allocations),
            "counts": array_literal(count for _, count in allocations),
        },
    )


def _transit_literal(networks: tuple[Any, ...]) -> str:
    return "{" + ",".join(str(n) for n in networks) + "}"


def _insert_nics(conn: Connection, plan: NetworkingPlan) -> None:
    creates = plan.nic_creates
    if not creates:
        return
    _unnest_insert(
        conn,
        network_interface_table,
        {
            "id": (Uuid(), array_literal(n.id for n in creates)),
            "name": (String(), text_array_literal(n.name for n in creates)),
            "description": (String(), text_array_literal(n.description for n in creates)),
            "parent_id": (Uuid(), array_literal(n.zone_id for n in creates)),
            "subnet_id": (Uuid(), array_literal(n.subnet_id for n in creates)),
            "mac": (BigInteger(), array_literal(n.mac for n in creates)),
            "ip": (INET(), nullable_array_literal(n.ipv4 for n in creates)),
            "ipv6": (INET(), nullable_array_literal(n.ipv6 for n in creates)),
            "slot": (SmallInteger(), array_literal(n.slot for n in creates)),
            "is_primary": (Boolean(), bool_array_literal(n.is_primary for n in creates)),
            "transit_ips": (
                Text(),
                text_array_literal(
                    _transit_literal(tuple(t for t in n.transit_ips if t.version == 4))
                    for n in creates
                ),
            ),
            "transit_ips_v6": (
                Text(),
                text_array_literal(
                    _transit_literal(tuple(t for t in n.transit_ips if t.version == 6))
                    for n in creates
                ),
            ),
        },
        {
            "kind": literal(NetworkInterfaceKind.SERVICE, NETWORK_INTERFACE_KIND),
            "vpc_id": literal(SERVICES_VPC_ID, Uuid()),
        },
        cast_to={"transit_ips": ARRAY(INET()), "transit_ips_v6": ARRAY(INET())},
    )


def _record_repairs(
    conn: Connection, plan: NetworkingPlan, blueprint_id: UUID, execution_id: UUID | None
) -> None:
    repairs = plan.new_repairs()
    if not repairs:
        return
    _unnest_insert(
        conn,
        external_networking_repair_table,
        {
            "table_name": (Text(), text_array_literal(r.table.value for r in repairs)),
            "row_id": (Uuid(), array_literal(r.row_id for r in repairs)),
            "zone_id": (Uuid(), array_literal(r.zone_id for r in repairs)),
        },
        {
            "blueprint_id": literal(blueprint_id, Uuid()),
            "execution_id": literal(execution_id, Uuid()),
        },
        timestamps=("time_recorded",),
        on_conflict_do_nothing=True,
    )


def apply_plan(
    conn: Connection,
    plan: NetworkingPlan,
    *,
    blueprint_id: UUID,
    execution_id: UUID | None = None,
) -> None:
    """Deallocate, then allocate, then record the repairs met for the first time, in the
    caller's transaction."""
    _soft_delete(conn, Table.EXTERNAL_IP, plan.soft_delete_ids(Table.EXTERNAL_IP))
    _soft_delete(conn, Table.NIC, plan.soft_delete_ids(Table.NIC))
    _insert_external_ips(conn, plan)
    _insert_nics(conn, plan)
    _record_repairs(conn, plan, blueprint_id, execution_id)
