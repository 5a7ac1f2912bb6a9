"""Writing a decision: at most four statements (two UPDATEs, two INSERTs), whatever the
number of zones. Rows to insert travel as one array literal per column
(:mod:`reconfigurator.db.array_params`) and are expanded with ``unnest`` on the server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Integer,
    SmallInteger,
    String,
    Uuid,
    any_,
    case,
    false,
    func,
    insert,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.engine import Connection
from sqlalchemy.types import BigInteger, TypeEngine

from reconfigurator.db.array_params import (
    array_literal,
    array_param,
    bool_array_literal,
    text_array_literal,
)
from reconfigurator.db.networking.decide import NetworkingPlan
from reconfigurator.db.networking.rows import Table
from reconfigurator.db.schema import (
    IP_ATTACH_STATE,
    IP_KIND,
    IpAttachState,
    external_ip_table,
    service_network_interface_table,
)
from reconfigurator.errors import ConcurrentModification
from reconfigurator.fixed_data import SERVICE_IP_POOL_ID, SERVICES_VPC_ID

_TABLES: dict[Table, SqlTable] = {
    Table.EXTERNAL_IP: external_ip_table,
    Table.NIC: service_network_interface_table,
}


#: Appended to the description of rows recorded as deleted because they were never created.
TOMBSTONE_NOTE: Final = "(never created; recorded as deleted by the executor)"


def _soft_delete(conn: Connection, table: Table, ids: list[UUID]) -> None:
    if not ids:
        return
    target = _TABLES[table]
    now = func.now()
    result = conn.execute(
        update(target)
        .where(target.c.id == any_(array_param("ids", Uuid())), target.c.time_deleted.is_(None))
        .values(time_deleted=now, time_modified=now),
        {"ids": array_literal(ids)},
    )
    if result.rowcount != len(ids):
        raise ConcurrentModification(table.value, len(ids), result.rowcount)


#: A column of rows to insert: its element type and the array literal of its values.
Column = tuple[TypeEngine[Any], str]


def _unnest_insert(
    conn: Connection,
    target: SqlTable,
    columns: dict[str, Column],
    constants: dict[str, Any],
    deleted: Sequence[bool],
) -> None:
    """INSERT INTO target (...) SELECT ... FROM unnest(:a, :b, ...) — one statement.

    ``deleted[i]`` marks row ``i`` as a tombstone: inserted with ``time_deleted = now()``.
    """
    names = [*columns, "deleted"]
    arrays = [array_param(f"p_{name}", column_type) for name, (column_type, _) in columns.items()]
    arrays.append(array_param("p_deleted", Boolean()))
    rows = func.unnest(*arrays).table_valued(*names).render_derived()
    now = func.now()
    selected = [
        *(rows.c[name] for name in columns),
        *constants.values(),
        now,
        now,
        case((rows.c.deleted, now), else_=null()),
    ]
    target_columns = [*columns, *constants, "time_created", "time_modified", "time_deleted"]
    statement = insert(target).from_select(target_columns, select(*selected))
    params = {f"p_{name}": values for name, (_, values) in columns.items()}
    params["p_deleted"] = bool_array_literal(deleted)
    conn.execute(statement, params)


def _insert_external_ips(conn: Connection, plan: NetworkingPlan) -> None:
    creates = plan.external_ip_creates + plan.external_ip_tombstones
    if not creates:
        return
    _unnest_insert(
        conn,
        external_ip_table,
        {
            "id": (Uuid(), array_literal(c.desired.id for c in creates)),
            "name": (String(), text_array_literal(c.desired.name for c in creates)),
            "description": (
                String(),
                text_array_literal(
                    [c.desired.zone_kind.value for c in plan.external_ip_creates]
                    + [
                        f"{c.desired.zone_kind.value} {TOMBSTONE_NOTE}"
                        for c in plan.external_ip_tombstones
                    ]
                ),
            ),
            "ip_pool_range_id": (Uuid(), array_literal(c.pool_range_id for c in creates)),
            "parent_id": (Uuid(), array_literal(c.desired.zone_id for c in creates)),
            "kind": (IP_KIND, array_literal(c.desired.kind for c in creates)),
            "ip": (INET(), array_literal(c.desired.ip for c in creates)),
            "first_port": (Integer(), array_literal(c.desired.first_port for c in creates)),
            "last_port": (Integer(), array_literal(c.desired.last_port for c in creates)),
        },
        {
            "ip_pool_id": literal(SERVICE_IP_POOL_ID, Uuid()),
            "is_service": true(),
            "state": literal(IpAttachState.ATTACHED, IP_ATTACH_STATE),
            "is_probe": false(),
        },
        [False] * len(plan.external_ip_creates) + [True] * len(plan.external_ip_tombstones),
    )


def _insert_nics(conn: Connection, plan: NetworkingPlan) -> None:
    creates = plan.nic_creates + plan.nic_tombstones
    if not creates:
        return
    _unnest_insert(
        conn,
        service_network_interface_table,
        {
            "id": (Uuid(), array_literal(n.id for n in creates)),
            "name": (String(), text_array_literal(n.name for n in creates)),
            "description": (
                String(),
                text_array_literal(
                    [f"{n.zone_kind.value} service vNIC" for n in plan.nic_creates]
                    + [
                        f"{n.zone_kind.value} service vNIC {TOMBSTONE_NOTE}"
                        for n in plan.nic_tombstones
                    ]
                ),
            ),
            "service_id": (Uuid(), array_literal(n.zone_id for n in creates)),
            "subnet_id": (Uuid(), array_literal(n.subnet_id for n in creates)),
            "mac": (BigInteger(), array_literal(n.mac for n in creates)),
            "ipv4": (INET(), array_literal(n.ipv4 for n in creates)),
            "slot": (SmallInteger(), array_literal(n.slot for n in creates)),
            "is_primary": (Boolean(), bool_array_literal(n.is_primary for n in creates)),
        },
        {"vpc_id": literal(SERVICES_VPC_ID, Uuid())},
        [False] * len(plan.nic_creates) + [True] * len(plan.nic_tombstones),
    )


def apply_plan(conn: Connection, plan: NetworkingPlan) -> None:
    """Deallocate, then allocate, in the caller's transaction."""
    _soft_delete(conn, Table.EXTERNAL_IP, plan.soft_delete_ids(Table.EXTERNAL_IP))
    _soft_delete(conn, Table.NIC, plan.soft_delete_ids(Table.NIC))
    _insert_external_ips(conn, plan)
    _insert_nics(conn, plan)
