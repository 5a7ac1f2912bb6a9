"""Several `recon` processes started at once, as a deployment script or an impatient person
would start them: on a fresh embedded data dir, and on a fresh database given by URL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from reconfigurator.db import migrate
from reconfigurator.db.engine import make_engine
from reconfigurator.testing import DatabaseServer, fresh_database
from tests.cli_runner import Result, data_dir_env, recon
from tests.schema_state import catalog

HEAD = migrate.head_revision()

#: What no user should ever see, whatever the timing.
RAW_ERRORS = ("Traceback", "duplicate key", "database error", "psycopg", "sqlalchemy")


def _together(commands: list[list[str]], env: dict[str, str], timeout: float = 240) -> list[Result]:
    """Start every command at once (as separate processes) and wait for all of them."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    full_env.update(env)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "reconfigurator", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        for args in commands
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append(Result(proc.returncode, out, err))
    return results


def _assert_no_raw_errors(results: list[Result]) -> None:
    for result in results:
        for raw in RAW_ERRORS:
            assert raw not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) <= 1, result.stderr


def test_eight_commands_at_once_on_a_fresh_data_dir(data_dir: Path) -> None:
    commands = [
        ["db", "upgrade"],
        ["status"],
        ["pool", "show"],
        ["db", "upgrade"],
        ["status"],
        ["db", "upgrade"],
        ["pool", "show"],
        ["db", "upgrade"],
    ]
    results = _together(commands, data_dir_env(data_dir))
    _assert_no_raw_errors(results)
    upgrades = [r for c, r in zip(commands, results, strict=True) if c == ["db", "upgrade"]]
    readers = [r for c, r in zip(commands, results, strict=True) if c != ["db", "upgrade"]]
    assert all(r.code == 0 for r in upgrades), [r.stderr for r in upgrades]
    # Exactly one process applied the revisions; the others found them applied.
    assert sum(f"upgraded (empty) -> {HEAD}" in r.stdout for r in upgrades) == 1
    assert sum(f"already at {HEAD}" in r.stdout for r in upgrades) == len(upgrades) - 1
    for reader in readers:
        # A reader that ran before the upgrade was told so (exit 2, the documented code for
        # an un-migrated database); any other ran.
        if reader.code == 2:
            assert "recon db upgrade" in reader.stderr, reader.stderr
        else:
            assert reader.code == 0, reader.stderr
    # And the data dir is one server with one database, at the head revision.
    assert recon("db", "check", env=data_dir_env(data_dir)).code == 0
    assert recon("status", env=data_dir_env(data_dir)).code == 0


@pytest.fixture
def empty_url(db_server: DatabaseServer) -> Iterator[URL]:
    url = db_server.create_database(migrated=False)
    yield url
    db_server.drop_database(url)


def test_four_upgrades_at_once_on_a_fresh_database(
    db_server: DatabaseServer, empty_url: URL
) -> None:
    env = {"RECON_DATABASE_URL": empty_url.render_as_string(hide_password=False)}
    results = _together([["db", "upgrade"]] * 4, env)
    _assert_no_raw_errors(results)
    assert [r.code for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert sum(f"upgraded (empty) -> {HEAD}" in r.stdout for r in results) == 1
    assert sum(f"already at {HEAD}" in r.stdout for r in results) == 3

    check = recon("db", "check", env=env)
    assert check.code == 0, check.stderr
    engine = make_engine(empty_url)
    try:
        upgraded = catalog(engine)
    finally:
        engine.dispose()
    with fresh_database(db_server, migrated=False) as clean:
        migrate.upgrade(clean)
        assert upgraded == catalog(clean)
