"""Upstream's networking tables: network_interface and its view, per-version service pools,
upstream's constraint and index names, and a record of repairs instead of placeholder rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Data moves as follows, and nothing that stands for a real allocation is lost:

* every ``service_network_interface`` row becomes a ``network_interface`` row with
  ``kind = 'service'`` (``service_id`` → ``parent_id``, ``ipv4`` → ``ip``), and
  ``service_network_interface`` becomes upstream's view over them;
* placeholder rows that executors of revision 0001 wrote for never-created rows of expunged
  zones are recognised exactly (their description ends in the note those executors wrote, and
  they were created, modified and deleted at one instant) and moved into
  ``external_networking_repair``;
* each service pool gets its IP version (IPv6 when it holds only IPv6 ranges, else IPv4);
  IPv6 ranges of an IPv4 service pool move to an IPv6 service pool (created when missing),
  and their external IPs follow them;
* each range's ``rcgen`` becomes the number of external IPs allocated from it.

Every statement is guarded or idempotent, so the revision completes when run again after a
failure part-way (CockroachDB commits each DDL statement on its own).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from reconfigurator.db import ddl

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS: dict[str, tuple[str, ...]] = {
    "ip_version": ("v4", "v6"),
    "ip_pool_type": ("unicast", "multicast"),
    "network_interface_kind": ("instance", "service", "probe"),
}

LIVE = "time_deleted IS NULL"
SERVICES = "system_services"
#: The service pool revision 0001 created.
LEGACY_SERVICE_POOL_ID = "001de000-0001-4000-8000-000000000001"

#: The note revision-0001 executors appended to the description of a placeholder row.
PLACEHOLDER_NOTE = "(never created; recorded as deleted by the executor)"
ZONE_KINDS = ("nexus", "external_dns", "boundary_ntp")


def _placeholder(descriptions: Sequence[str]) -> str:
    listed = ", ".join(f"'{d}'" for d in descriptions)
    return (
        f"description IN ({listed}) AND time_deleted = time_created"
        " AND time_modified = time_created"
    )


EXTERNAL_IP_PLACEHOLDER = _placeholder([f"{kind} {PLACEHOLDER_NOTE}" for kind in ZONE_KINDS])
NIC_PLACEHOLDER = _placeholder([f"{kind} service vNIC {PLACEHOLDER_NOTE}" for kind in ZONE_KINDS])

EXTERNAL_IP_CHECKS = {
    "fips_and_services_need_names": (
        "(is_service = true AND name IS NOT NULL)"
        " OR (is_service = false AND kind != 'floating' AND name IS NULL)"
        " OR (is_service = false AND kind = 'floating' AND name IS NOT NULL)"
    ),
    "fips_and_services_need_descriptions": (
        "(is_service = true AND description IS NOT NULL)"
        " OR (is_service = false AND kind != 'floating' AND description IS NULL)"
        " OR (is_service = false AND kind = 'floating' AND description IS NOT NULL)"
    ),
    "null_project_id": (
        "(kind = 'floating' AND is_service = false AND project_id IS NOT NULL)"
        " OR ((kind != 'floating' OR is_service = true) AND project_id IS NULL)"
    ),
    "null_snat_parent_id": "kind != 'snat' OR parent_id IS NOT NULL",
    "ephemeral_kind_service": "(kind = 'ephemeral' AND is_service = false) OR kind != 'ephemeral'",
    "detached_null_parent_id": "state = 'detached' OR parent_id IS NOT NULL",
}
OLD_EXTERNAL_IP_CHECKS = {
    "ck_external_ip_service_named_without_project": (
        "NOT is_service OR (name IS NOT NULL AND description IS NOT NULL AND project_id IS NULL)"
    ),
    "ck_external_ip_snat_has_parent": "kind != 'snat' OR parent_id IS NOT NULL",
    "ck_external_ip_service_not_ephemeral": "NOT (is_service AND kind = 'ephemeral')",
    "ck_external_ip_attached_has_parent": "state = 'detached' OR parent_id IS NOT NULL",
    "ck_external_ip_port_range": (
        "first_port >= 0 AND last_port <= 65535 AND first_port <= last_port"
    ),
}

#: (name, table, columns, unique, predicate) of the indexes this revision creates.
NEW_INDEXES: tuple[tuple[str, str, tuple[str, ...], bool, str | None], ...] = (
    ("lookup_pool_by_name", "ip_pool", ("name",), True, LIVE),
    ("lookup_ip_pool_by_type", "ip_pool", ("pool_type",), False, LIVE),
    (
        "ip_pool_one_service_pool_per_version",
        "ip_pool",
        ("ip_version",),
        True,
        f"assignment = '{SERVICES}' AND {LIVE}",
    ),
    ("lookup_pool_range_by_first_address", "ip_pool_range", ("first_address",), True, LIVE),
    ("lookup_pool_range_by_last_address", "ip_pool_range", ("last_address",), True, LIVE),
    ("ip_pool_range_by_pool_id", "ip_pool_range", ("ip_pool_id",), False, LIVE),
    ("external_ip_by_pool", "external_ip", ("ip_pool_id", "ip_pool_range_id", "ip"), False, LIVE),
    ("external_ip_unique", "external_ip", ("ip", "first_port"), True, LIVE),
    (
        "lookup_external_ip_by_parent",
        "external_ip",
        ("parent_id", "id"),
        True,
        f"parent_id IS NOT NULL AND {LIVE}",
    ),
    (
        "lookup_floating_ip_by_name",
        "external_ip",
        ("name",),
        True,
        f"kind = 'floating' AND {LIVE} AND project_id IS NULL",
    ),
    (
        "network_interface_subnet_id_ipv4_key",
        "network_interface",
        ("subnet_id", "ip"),
        True,
        f"{LIVE} AND ip IS NOT NULL",
    ),
    (
        "network_interface_subnet_id_ipv6_key",
        "network_interface",
        ("subnet_id", "ipv6"),
        True,
        f"{LIVE} AND ipv6 IS NOT NULL",
    ),
    ("network_interface_vpc_id_mac_key", "network_interface", ("vpc_id", "mac"), True, LIVE),
    (
        "network_interface_parent_id_name_kind_key",
        "network_interface",
        ("parent_id", "name", "kind"),
        True,
        LIVE,
    ),
    (
        "network_interface_parent_id_slot_key",
        "network_interface",
        ("parent_id", "slot"),
        True,
        LIVE,
    ),
    ("network_interface_by_parent", "network_interface", ("parent_id",), False, None),
)

#: The indexes of revision 0001 that the ones above replace.
OLD_INDEXES: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("ix_ip_pool_name_live", "ip_pool", ("name",), True),
    ("ix_ip_pool_range_first_address_live", "ip_pool_range", ("first_address",), True),
    ("ix_ip_pool_range_last_address_live", "ip_pool_range", ("last_address",), True),
    ("ix_ip_pool_range_ip_pool_id_live", "ip_pool_range", ("ip_pool_id",), False),
    ("ix_external_ip_ip_first_port_live", "external_ip", ("ip", "first_port"), True),
    ("ix_external_ip_parent_id_id_live", "external_ip", ("parent_id", "id"), True),
)

OLD_NIC = "service_network_interface"
OLD_NIC_CHECKS = {
    "ck_service_network_interface_slot_range": "slot >= 0 AND slot < 8",
    "ck_service_network_interface_mac_48_bits": "mac >= 0 AND mac < 281474976710656",
    "ck_service_network_interface_ipv4_family": "family(ipv4) = 4",
    "ck_service_network_interface_ipv6_family": "ipv6 IS NULL OR family(ipv6) = 6",
}
OLD_NIC_INDEXES = {
    "ix_service_network_interface_subnet_id_ipv4_live": ("subnet_id", "ipv4"),
    "ix_service_network_interface_vpc_id_mac_live": ("vpc_id", "mac"),
    "ix_service_network_interface_service_id_slot_live": ("service_id", "slot"),
    "ix_service_network_interface_service_id_name_live": ("service_id", "name"),
}

VIEW_SQL = (
    "SELECT id, name, description, time_created, time_modified, time_deleted,"
    " parent_id AS service_id, vpc_id, subnet_id, mac, ip AS ipv4, ipv6, slot, is_primary"
    " FROM network_interface WHERE kind = 'service'"
)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_deleted", sa.DateTime(timezone=True), nullable=True),
    ]


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def upgrade() -> None:
    for name, values in ENUMS.items():
        ddl.create_enum(name, values)
    _repairs_from_placeholders()
    _pools()
    _ranges()
    _external_ip()
    _network_interface()


def _repairs_from_placeholders() -> None:
    ddl.create_table(
        "external_networking_repair",
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("row_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("blueprint_id", sa.Uuid(), nullable=True),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("time_recorded", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "table_name IN ('external_ip', 'service_network_interface')",
            name="external_networking_repair_table_name",
        ),
        sa.PrimaryKeyConstraint(
            "table_name", "row_id", "zone_id", name="pk_external_networking_repair"
        ),
    )
    sources = [("external_ip", "parent_id", EXTERNAL_IP_PLACEHOLDER)]
    if ddl.offline() or ddl.relation_kind(OLD_NIC) == "table":
        sources.append((OLD_NIC, "service_id", NIC_PLACEHOLDER))
    for table, parent, placeholder in sources:
        op.execute(
            "INSERT INTO external_networking_repair"
            " (table_name, row_id, zone_id, blueprint_id, execution_id, time_recorded)"
            f" SELECT '{table}', id, {parent}, NULL, NULL, time_created FROM {table}"
            f" WHERE {placeholder} ON CONFLICT DO NOTHING"
        )
        op.execute(f"DELETE FROM {table} WHERE {placeholder}")


def _pools() -> None:
    ddl.add_column(
        "ip_pool", sa.Column("rcgen", sa.BigInteger(), nullable=False, server_default="0")
    )
    ddl.add_column("ip_pool", sa.Column("ip_version", _enum("ip_version"), nullable=True))
    ddl.add_column(
        "ip_pool",
        sa.Column(
            "pool_type", _enum("ip_pool_type"), nullable=False, server_default=sa.text("'unicast'")
        ),
    )
    live_ranges = (
        "SELECT 1 FROM ip_pool_range r WHERE r.ip_pool_id = ip_pool.id"
        " AND r.time_deleted IS NULL AND family(r.first_address) = {}"
    )
    op.execute(
        "UPDATE ip_pool SET ip_version = 'v6' WHERE ip_version IS NULL"
        f" AND EXISTS ({live_ranges.format(6)}) AND NOT EXISTS ({live_ranges.format(4)})"
    )
    op.execute("UPDATE ip_pool SET ip_version = 'v4' WHERE ip_version IS NULL")
    op.alter_column("ip_pool", "ip_version", nullable=False)
    op.alter_column("ip_pool", "rcgen", server_default=None)
    # IPv6 ranges of an IPv4 service pool move to the IPv6 service pool.
    v4_services = (
        f"SELECT id FROM ip_pool WHERE assignment = '{SERVICES}' AND ip_version = 'v4' AND {LIVE}"
    )
    v6_service = (
        f"SELECT id FROM ip_pool WHERE assignment = '{SERVICES}' AND ip_version = 'v6'"
        f" AND {LIVE} ORDER BY time_created, id LIMIT 1"
    )
    misplaced = (
        "SELECT 1 FROM ip_pool_range WHERE family(first_address) = 6"
        f" AND ip_pool_id IN ({v4_services})"
    )
    op.execute(
        "INSERT INTO ip_pool (id, name, description, time_created, time_modified, rcgen,"
        " ip_version, pool_type, assignment)"
        " SELECT gen_random_uuid(), 'oxide-service-pool-v6',"
        " 'IPv6 addresses of the rack''s system services', now(), now(), 0, 'v6', 'unicast',"
        f" '{SERVICES}' WHERE EXISTS ({misplaced}) AND NOT EXISTS ({v6_service})"
    )
    op.execute(
        f"UPDATE ip_pool_range SET ip_pool_id = ({v6_service})"
        f" WHERE family(first_address) = 6 AND ip_pool_id IN ({v4_services})"
    )
    op.execute(
        f"UPDATE external_ip SET ip_pool_id = ({v6_service})"
        f" WHERE family(ip) = 6 AND ip_pool_id IN ({v4_services})"
        " AND ip_pool_range_id IN (SELECT id FROM ip_pool_range"
        f" WHERE ip_pool_id = ({v6_service}))"
    )
    # Revision 0001 seeded a service pool with a fixed id; a pool that never got a range or
    # gave out an address goes, and the first range added creates the pool, as on a rack.
    op.execute(
        f"DELETE FROM ip_pool WHERE id = '{LEGACY_SERVICE_POOL_ID}'"
        " AND NOT EXISTS (SELECT 1 FROM ip_pool_range WHERE ip_pool_id = ip_pool.id)"
        " AND NOT EXISTS (SELECT 1 FROM external_ip WHERE ip_pool_id = ip_pool.id)"
    )
    # A pool's generation counts changes to its ranges, as upstream's collections do.
    op.execute(
        "UPDATE ip_pool SET rcgen = (SELECT count(*) FROM ip_pool_range r"
        " WHERE r.ip_pool_id = ip_pool.id)"
    )
    _replace_indexes("ip_pool")


def _ranges() -> None:
    ddl.add_column(
        "ip_pool_range", sa.Column("rcgen", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE ip_pool_range SET rcgen = (SELECT count(*) FROM external_ip e"
        " WHERE e.ip_pool_range_id = ip_pool_range.id)"
    )
    op.alter_column("ip_pool_range", "rcgen", server_default=None)
    ddl.drop_constraint("ip_pool_range", "ck_ip_pool_range_ordered_same_family")
    ddl.create_check("ip_pool_range", "check_address_order", "first_address <= last_address")
    ddl.create_check(
        "ip_pool_range", "ip_pool_range_one_family", "family(first_address) = family(last_address)"
    )
    _replace_indexes("ip_pool_range")


def _replace_indexes(table: str) -> None:
    """Create this revision's indexes of ``table``, then drop the ones they replace."""
    for name, of, columns, unique, where in NEW_INDEXES:
        if of == table:
            ddl.create_index(name, table, columns, unique=unique, where=where)
    for name, of, _columns, _unique in OLD_INDEXES:
        if of == table:
            ddl.drop_index(name, table)


def _external_ip() -> None:
    for name in OLD_EXTERNAL_IP_CHECKS:
        ddl.drop_constraint("external_ip", name)
    for name, condition in EXTERNAL_IP_CHECKS.items():
        ddl.create_check("external_ip", name, condition)
    _replace_indexes("external_ip")


def _network_interface() -> None:
    ddl.create_table(
        "network_interface",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        *_timestamps(),
        sa.Column("kind", _enum("network_interface_kind"), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=False),
        sa.Column("vpc_id", sa.Uuid(), nullable=False),
        sa.Column("subnet_id", sa.Uuid(), nullable=False),
        sa.Column("mac", sa.BigInteger(), nullable=False),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column(
            "transit_ips",
            postgresql.ARRAY(postgresql.INET()),
            nullable=False,
            server_default=sa.text("ARRAY[]::INET[]"),
        ),
        sa.Column("ipv6", postgresql.INET(), nullable=True),
        sa.Column(
            "transit_ips_v6",
            postgresql.ARRAY(postgresql.INET()),
            nullable=False,
            server_default=sa.text("ARRAY[]::INET[]"),
        ),
        sa.CheckConstraint("slot >= 0 AND slot < 8", name="network_interface_slot_check"),
        sa.CheckConstraint("ip IS NOT NULL OR ipv6 IS NOT NULL", name="at_least_one_ip_address"),
        sa.CheckConstraint(
            "(array_length(transit_ips, 1) = 0 OR ip IS NOT NULL)"
            " AND (array_length(transit_ips_v6, 1) = 0 OR ipv6 IS NOT NULL)",
            name="transit_ips_require_ip_address",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_network_interface"),
    )
    for name, table, columns, unique, where in NEW_INDEXES:
        if table == "network_interface":
            ddl.create_index(name, table, columns, unique=unique, where=where)
    if ddl.offline() or ddl.relation_kind(OLD_NIC) == "table":
        op.execute(
            "INSERT INTO network_interface (id, name, description, time_created, time_modified,"
            " time_deleted, kind, parent_id, vpc_id, subnet_id, mac, ip, slot, is_primary,"
            " transit_ips, ipv6, transit_ips_v6)"
            " SELECT id, name, description, time_created, time_modified, time_deleted,"
            " 'service', service_id, vpc_id, subnet_id, mac, ipv4, slot, is_primary,"
            f" ARRAY[]::INET[], ipv6, ARRAY[]::INET[] FROM {OLD_NIC}"
            " ON CONFLICT (id) DO NOTHING"
        )
        op.drop_table(OLD_NIC)
    op.execute(f"CREATE OR REPLACE VIEW {OLD_NIC} AS {VIEW_SQL}")


def _one_legacy_service_pool() -> None:
    """Revision 0001 has one service pool, with a fixed id: it takes over the ranges and
    addresses of every other service pool, which then go."""
    legacy = f"'{LEGACY_SERVICE_POOL_ID}'"
    others = f"SELECT id FROM ip_pool WHERE assignment = '{SERVICES}' AND id != {legacy}"
    op.execute(
        "INSERT INTO ip_pool (id, name, description, time_created, time_modified, assignment)"
        f" SELECT {legacy}, 'oxide-service-pool-0001',"
        f" 'IP pool for the rack''s system services', now(), now(), '{SERVICES}'"
        f" WHERE NOT EXISTS (SELECT 1 FROM ip_pool WHERE id = {legacy})"
    )
    op.execute(f"UPDATE ip_pool_range SET ip_pool_id = {legacy} WHERE ip_pool_id IN ({others})")
    op.execute(f"UPDATE external_ip SET ip_pool_id = {legacy} WHERE ip_pool_id IN ({others})")
    op.execute(f"DELETE FROM ip_pool WHERE id IN ({others})")
    op.execute(
        f"UPDATE ip_pool SET name = 'oxide-service-pool', time_deleted = NULL WHERE id = {legacy}"
    )


def downgrade() -> None:
    """Back to revision 0001's tables. Repairs are not turned back into placeholder rows (an
    executor of revision 0001 writes them again); the service pools become revision 0001's
    one pool again. A service NIC without an IPv4 address, or with transit IPs, cannot be
    represented there and stops the downgrade."""
    if not ddl.offline() and ddl.relation_kind("network_interface") == "table":
        unrepresentable = op.get_bind().execute(
            sa.text(
                "SELECT count(*) FROM network_interface WHERE kind = 'service'"
                " AND (ip IS NULL OR transit_ips != '{}' OR transit_ips_v6 != '{}')"
            )
        )
        if unrepresentable.scalar():
            raise RuntimeError(
                "cannot downgrade: service NICs without an IPv4 address or with transit IPs"
                " exist, and revision 0001 has no place for them"
            )
    if ddl.offline() or ddl.relation_kind(OLD_NIC) == "view":
        op.execute(f"DROP VIEW {OLD_NIC}")
    ddl.create_table(
        OLD_NIC,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        *_timestamps(),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("vpc_id", sa.Uuid(), nullable=False),
        sa.Column("subnet_id", sa.Uuid(), nullable=False),
        sa.Column("mac", sa.BigInteger(), nullable=False),
        sa.Column("ipv4", postgresql.INET(), nullable=False),
        sa.Column("ipv6", postgresql.INET(), nullable=True),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        *(sa.CheckConstraint(sql, name=name) for name, sql in OLD_NIC_CHECKS.items()),
        sa.PrimaryKeyConstraint("id", name=f"pk_{OLD_NIC}"),
    )
    for name, columns in OLD_NIC_INDEXES.items():
        ddl.create_index(name, OLD_NIC, columns, unique=True, where=LIVE)
    if ddl.offline() or ddl.relation_kind("network_interface") == "table":
        op.execute(
            f"INSERT INTO {OLD_NIC} (id, name, description, time_created, time_modified,"
            " time_deleted, service_id, vpc_id, subnet_id, mac, ipv4, ipv6, slot, is_primary)"
            " SELECT id, name, description, time_created, time_modified, time_deleted,"
            " parent_id, vpc_id, subnet_id, mac, ip, ipv6, slot, is_primary"
            " FROM network_interface WHERE kind = 'service' ON CONFLICT (id) DO NOTHING"
        )
    ddl.drop_table("network_interface")

    for name, table, _columns, _unique, _where in NEW_INDEXES:
        if table != "network_interface":
            ddl.drop_index(name, table)
    for name, table, columns, unique in OLD_INDEXES:
        ddl.create_index(name, table, columns, unique=unique, where=LIVE)
    for name in EXTERNAL_IP_CHECKS:
        ddl.drop_constraint("external_ip", name)
    for name, condition in OLD_EXTERNAL_IP_CHECKS.items():
        ddl.create_check("external_ip", name, condition)

    ddl.drop_constraint("ip_pool_range", "check_address_order")
    ddl.drop_constraint("ip_pool_range", "ip_pool_range_one_family")
    ddl.create_check(
        "ip_pool_range",
        "ck_ip_pool_range_ordered_same_family",
        "family(first_address) = family(last_address) AND first_address <= last_address",
    )
    ddl.drop_column("ip_pool_range", "rcgen")
    for column in ("rcgen", "ip_version", "pool_type"):
        ddl.drop_column("ip_pool", column)
    _one_legacy_service_pool()
    ddl.drop_table("external_networking_repair")
    for name in reversed(ENUMS):
        ddl.drop_enum(name)
