"""Migrations apply, revert and re-apply, and agree with the ORM models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Index, inspect, text
from sqlalchemy.engine import Engine

from reconfigurator.db import migrate
from reconfigurator.db.schema import metadata, service_network_interface_view


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _enum_types(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                    " WHERE t.typtype = 'e' AND n.nspname = current_schema()"
                )
            ).scalars()
        )


def test_upgrade_downgrade_upgrade(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert set(metadata.tables) <= _tables(empty_engine)
    assert len(_enum_types(empty_engine)) == 14

    migrate.downgrade(empty_engine, "base")
    assert migrate.current_revision(empty_engine) is None
    # Alembic's version table and the (empty) schema lock table stay.
    assert _tables(empty_engine) <= {"alembic_version", "recon_schema_lock"}
    assert _enum_types(empty_engine) == set()

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert set(metadata.tables) <= _tables(empty_engine)


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before = _tables(engine)
    migrate.upgrade(engine)
    assert _tables(engine) == before
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_check_constraints_and_partial_indexes_agree(engine: Engine) -> None:
    """Autogenerate does not compare CHECKs or index predicates; compare them here."""
    with engine.connect() as conn:
        db_checks = set(
            conn.execute(
                text(
                    "SELECT conname FROM pg_constraint c JOIN pg_namespace n"
                    " ON n.oid = c.connamespace"
                    " WHERE contype = 'c' AND n.nspname = current_schema()"
                )
            ).scalars()
        )
        db_partial = {
            name
            for name, definition in conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                )
            )
            if "WHERE" in definition and "time_deleted IS NULL" in definition
        }
    model_checks = {
        str(c.name)
        for table in metadata.tables.values()
        for c in table.constraints
        if isinstance(c, CheckConstraint)
    }
    model_partial = {
        str(ix.name)
        for table in metadata.tables.values()
        for ix in table.indexes
        if isinstance(ix, Index) and ix.dialect_options["postgresql"]["where"] is not None
    }
    assert model_checks == db_checks
    assert model_partial == db_partial
    assert len(model_partial) == 15


def test_upstream_names_of_constraints_and_indexes(engine: Engine) -> None:
    """The tables shared with upstream carry upstream's CHECK and index names."""
    inspector = inspect(engine)
    checks = {
        table: {c["name"] for c in inspector.get_check_constraints(table)}
        for table in ("external_ip", "network_interface", "ip_pool_range")
    }
    indexes = {
        table: {i["name"] for i in inspector.get_indexes(table)}
        for table in ("external_ip", "network_interface", "ip_pool", "ip_pool_range")
    }
    assert checks["external_ip"] == {
        "fips_and_services_need_names",
        "fips_and_services_need_descriptions",
        "null_project_id",
        "null_snat_parent_id",
        "ephemeral_kind_service",
        "detached_null_parent_id",
    }
    assert {"at_least_one_ip_address", "transit_ips_require_ip_address"} <= checks[
        "network_interface"
    ]
    assert "check_address_order" in checks["ip_pool_range"]
    assert {
        "external_ip_unique",
        "lookup_external_ip_by_parent",
        "lookup_floating_ip_by_name",
    } <= indexes["external_ip"]
    assert {
        "network_interface_subnet_id_ipv4_key",
        "network_interface_subnet_id_ipv6_key",
        "network_interface_vpc_id_mac_key",
        "network_interface_parent_id_name_kind_key",
        "network_interface_parent_id_slot_key",
    } <= indexes["network_interface"]
    assert "lookup_pool_by_name" in indexes["ip_pool"]
    assert {
        "lookup_pool_range_by_first_address",
        "lookup_pool_range_by_last_address",
    } <= indexes["ip_pool_range"]


def test_service_network_interface_is_upstreams_view(engine: Engine) -> None:
    inspector = inspect(engine)
    assert "service_network_interface" in inspector.get_view_names()
    assert "service_network_interface" not in inspector.get_table_names()
    columns = [c["name"] for c in inspector.get_columns("service_network_interface")]
    assert columns == [c.name for c in service_network_interface_view.columns]
    with engine.connect() as conn:
        definition = " ".join(
            conn.execute(text("SELECT pg_get_viewdef('service_network_interface'::regclass)"))
            .scalar_one()
            .split()
        )
    assert "FROM network_interface WHERE (kind = 'service'" in definition
    for renamed in ("parent_id AS service_id", "ip AS ipv4"):
        assert renamed in definition


def test_a_fresh_database_has_no_service_pool(engine: Engine) -> None:
    """Pools are created, with random ids, by the first range of their IP version."""
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ip_pool")).scalar() == 0
