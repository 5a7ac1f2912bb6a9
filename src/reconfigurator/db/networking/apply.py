"""Writing a decision: at most four statements (two UPDATEs, two INSERTs), whatever the
number of zones. Rows to insert travel as one array parameter per column and are expanded
with ``unnest`` on the server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Boolean,
    Integer,
    SmallInteger,
    String,
    Uuid,
    any_,
    bindparam,
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
        .where(
            target.c.id == any_(bindparam("ids", type_=ARRAY(Uuid()))),
            target.c.time_deleted.is_(None),
        )
        .values(time_deleted=now, time_modified=now),
        {"ids": ids},
    )
    if result.rowcount != len(ids):
        raise ConcurrentModification(table.value, len(ids), result.rowcount)


def _unnest_insert(
    conn: Connection,
    target: SqlTable,
    columns: dict[str, tuple[TypeEngine[Any], Sequence[Any]]],
    constants: dict[str, Any],
    deleted: Sequence[bool],
) -> None:
    """INSERT INTO target (...) SELECT ... FROM unnest(:a, :b, ...) — one statement.

    ``deleted[i]`` marks row ``i`` as a tombstone: inserted with ``time_deleted = now()``.
    """
    names = [*columns, "deleted"]
    arrays = [
        bindparam(f"p_{name}", type_=ARRAY(column_type))
        for name, (column_type, _) in columns.items()
    ] + [bindparam("p_deleted", type_=ARRAY(Boolean()))]
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
    params: dict[str, list[Any]] = {
        f"p_{name}": list(values) for name, (_, values) in columns.items()
    }
    params["p_deleted"] = list(deleted)
    conn.execute(statement, params)


def _insert_external_ips(conn: Connection, plan: NetworkingPlan) -> None:
    creates = plan.external_ip_creates + plan.external_ip_tombstones
    if not creates:
        return
    _unnest_insert(
        conn,
        external_ip_table,
        {
            "id": (Uuid(), [c.desired.id for c in creates]),
            "name": (String(), [c.desired.name for c in creates]),
            "description": (
                String(),
                [c.desired.zone_kind.value for c in plan.external_ip_creates]
                + [
                    f"{c.desired.zone_kind.value} {TOMBSTONE_NOTE}"
                    for c in plan.external_ip_tombstones
                ],
            ),
            "ip_pool_range_id": (Uuid(), [c.pool_range_id for c in creates]),
            "parent_id": (Uuid(), [c.desired.zone_id for c in creates]),
            "kind": (IP_KIND, [c.desired.kind for c in creates]),
            "ip": (INET(), [str(c.desired.ip) for c in creates]),
            "first_port": (Integer(), [c.desired.first_port for c in creates]),
            "last_port": (Integer(), [c.desired.last_port for c in creates]),
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
            "id": (Uuid(), [n.id for n in creates]),
            "name": (String(), [n.name for n in creates]),
            "description": (
                String(),
                [f"{n.zone_kind.value} service vNIC" for n in plan.nic_creates]
                + [
                    f"{n.zone_kind.value} service vNIC {TOMBSTONE_NOTE}"
                    for n in plan.nic_tombstones
                ],
            ),
            "service_id": (Uuid(), [n.zone_id for n in creates]),
            "subnet_id": (Uuid(), [n.subnet_id for n in creates]),
            "mac": (BigInteger(), [n.mac for n in creates]),
            "ipv4": (INET(), [str(n.ipv4) for n in creates]),
            "slot": (SmallInteger(), [n.slot for n in creates]),
            "is_primary": (Boolean(), [n.is_primary for n in creates]),
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
