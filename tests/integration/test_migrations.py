"""Migrations apply, revert and re-apply, and agree with the ORM models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Index, inspect, text
from sqlalchemy.engine import Engine

from reconfigurator.db import migrate
from reconfigurator.db.schema import metadata
from reconfigurator.fixed_data import SERVICE_IP_POOL_ID, SERVICE_IP_POOL_NAME


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
    assert len(_enum_types(empty_engine)) == 8

    migrate.downgrade(empty_engine, "base")
    assert migrate.current_revision(empty_engine) is None
    assert _tables(empty_engine) <= {"alembic_version"}
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
    assert len(model_partial) == 10


def test_service_pool_is_seeded(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, assignment FROM ip_pool")).all()
    assert [(r.id, r.name, r.assignment) for r in rows] == [
        (SERVICE_IP_POOL_ID, SERVICE_IP_POOL_NAME, "system_services")
    ]
