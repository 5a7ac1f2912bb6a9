"""What a database holds, from its catalog: whether the tables and columns a reader needs are
there, before it reads (so a database of another shape gets one clear error, not a failed
query)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from reconfigurator.db.schema import (
    blueprint_table,
    bp_omicron_physical_disk_table,
    bp_omicron_zone_nic_table,
    bp_omicron_zone_table,
    bp_sled_metadata_table,
    bp_target_table,
    external_ip_table,
    ip_pool_range_table,
    ip_pool_table,
    network_interface_table,
)
from reconfigurator.errors import ColumnsMissing, TablesMissing

_COLUMNS_QUERY = text(
    "SELECT table_name, column_name FROM information_schema.columns"
    " WHERE table_schema = current_schema()"
)


def _columns_of(table: Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.columns)


#: The tables and columns a read-only audit reads: all of them upstream's (a subset of what
#: upstream's own DDL creates).
AUDIT_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    table.name: _columns_of(table)
    for table in (
        bp_target_table,
        blueprint_table,
        bp_sled_metadata_table,
        bp_omicron_physical_disk_table,
        bp_omicron_zone_table,
        bp_omicron_zone_nic_table,
        external_ip_table,
        network_interface_table,
        ip_pool_table,
        ip_pool_range_table,
    )
}


def present_columns(conn: Connection) -> dict[str, set[str]]:
    """Every table of the current schema with its columns."""
    found: dict[str, set[str]] = {}
    for table_name, column_name in conn.execute(_COLUMNS_QUERY):
        found.setdefault(str(table_name), set()).add(str(column_name))
    return found


def require_columns(
    present: Mapping[str, set[str]], needed: Mapping[str, Iterable[str]] = AUDIT_COLUMNS
) -> None:
    """Raise :class:`TablesMissing` naming every missing table, else
    :class:`ColumnsMissing` naming every missing ``table.column``."""
    missing_tables = sorted(name for name in needed if name not in present)
    if missing_tables:
        raise TablesMissing(missing_tables)
    missing_columns = sorted(
        f"{name}.{column}"
        for name, columns in needed.items()
        for column in columns
        if column not in present[name]
    )
    if missing_columns:
        raise ColumnsMissing(missing_columns)
