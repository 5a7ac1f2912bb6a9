"""Revision 0003 moves every stored blueprint document into rows without losing anything.

The database is the populated revision-0001 fixture (several blueprints, targets, executions,
an expunge race), upgraded to revision 0002 and then to 0003.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db import blueprint_rows, migrate
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.retry import run_transaction
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from tests.db_support import snapshot
from tests.integration.test_migration_0002 import load_0001_database

BLUEPRINT_TABLES = (
    "bp_sled_metadata",
    "bp_omicron_physical_disk",
    "bp_omicron_zone",
    "bp_omicron_zone_nic",
    "bp_omicron_zone_nic_transit_ip",
)


def _documents(engine: Engine) -> dict[UUID, dict[str, Any]]:
    with engine.connect() as conn:
        return {
            row.id: row.document
            for row in conn.execute(text("SELECT id, document FROM blueprint ORDER BY id"))
        }


def _exports(engine: Engine, ids: list[UUID]) -> dict[UUID, str]:
    return {
        blueprint_id: run_transaction(
            engine, lambda conn, b=blueprint_id: get_blueprint(conn, b)
        ).to_json()
        for blueprint_id in ids
    }


@pytest.fixture
def at_0002(empty_engine: Engine) -> Engine:
    load_0001_database(empty_engine)
    migrate.upgrade(empty_engine, "0002")
    return empty_engine


def test_every_blueprint_exports_as_its_canonical_json(at_0002: Engine) -> None:
    documents = _documents(at_0002)
    assert len(documents) >= 3
    canonical = {i: Blueprint.model_validate(d).to_json() for i, d in documents.items()}
    # The documents were written canonically: the new model reads them unchanged.
    assert all(json.loads(canonical[i]) == d for i, d in documents.items())

    migrate.upgrade(at_0002)
    assert migrate.current_revision(at_0002) == migrate.head_revision()
    with at_0002.connect() as conn:
        columns = set(
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'blueprint' AND table_schema = current_schema()"
                )
            ).scalars()
        )
        zones = conn.execute(text("SELECT count(*) FROM bp_omicron_zone")).scalar()
        generations = set(
            conn.execute(text("SELECT external_networking_generation FROM blueprint")).scalars()
        )
    assert "document" not in columns
    assert zones == sum(len(s["zones"]) for d in documents.values() for s in d["sleds"])
    assert generations == {1}
    assert _exports(at_0002, list(documents)) == canonical


def test_the_next_execution_after_the_upgrade_writes_nothing(empty_engine: Engine) -> None:
    load_0001_database(empty_engine)
    migrate.upgrade(empty_engine)
    before = snapshot(empty_engine)
    report = Executor(empty_engine).execute()
    assert report.succeeded, report.error
    step = report.step(EXTERNAL_NETWORKING_STEP).details
    assert step["repairs"] == []
    assert step["external_ips"]["not_found"] == step["nics"]["not_found"] == 12
    assert step["external_ips"]["created"] == step["nics"]["created"] == 0
    assert step["external_ips"]["soft_deleted"] == step["nics"]["soft_deleted"] == 0
    assert snapshot(empty_engine) == before


def test_a_failure_while_moving_leaves_every_document_and_a_rerun_completes(
    at_0002: Engine,
) -> None:
    documents = _documents(at_0002)
    canonical = {i: Blueprint.model_validate(d).to_json() for i, d in documents.items()}
    real_write = blueprint_rows.write_blueprint_rows
    calls = 0

    def failing_write(conn: Any, blueprint: Blueprint) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("connection lost while moving blueprints")
        real_write(conn, blueprint)

    with (
        mock.patch.object(blueprint_rows, "write_blueprint_rows", failing_write),
        pytest.raises(RuntimeError, match="connection lost"),
    ):
        migrate.upgrade(at_0002)
    assert migrate.current_revision(at_0002) == "0002"
    assert _documents(at_0002) == documents

    migrate.upgrade(at_0002)
    assert _exports(at_0002, list(documents)) == canonical


def test_downgrade_gives_back_the_documents(at_0002: Engine) -> None:
    documents = _documents(at_0002)
    migrate.upgrade(at_0002)
    migrate.downgrade(at_0002, "0002")
    assert migrate.current_revision(at_0002) == "0002"
    assert _documents(at_0002) == documents
    with at_0002.connect() as conn:
        present = set(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema()"
                )
            ).scalars()
        )
    assert not present & set(BLUEPRINT_TABLES)
    # And up again, to the same rows.
    migrate.upgrade(at_0002)
    assert set(_exports(at_0002, list(documents))) == set(documents)
