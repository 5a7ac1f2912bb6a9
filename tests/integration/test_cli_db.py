"""`recon db` as a user runs it: separate processes, a fresh data dir or a given URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from reconfigurator.db import migrate
from reconfigurator.testing import DatabaseServer
from tests.cli_runner import data_dir_env, recon


@pytest.fixture
def empty_url(db_server: DatabaseServer) -> Iterator[URL]:
    url = db_server.create_database(migrated=False)
    yield url
    db_server.drop_database(url)


def _plain(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def test_upgrade_twice_on_fresh_data_dir(data_dir: Path) -> None:
    env = data_dir_env(data_dir)
    check = recon("db", "check", env=env)
    assert check.code == 1
    assert "recon db upgrade" in check.stderr
    assert len(check.stderr.strip().splitlines()) == 1

    first = recon("db", "upgrade", env=env)
    assert first.code == 0, first.stderr
    assert f"-> {migrate.head_revision()}" in first.stdout

    second = recon("db", "upgrade", env=env)
    assert second.code == 0, second.stderr
    assert "nothing to do" in second.stdout

    current = recon("db", "current", env=env)
    assert current.code == 0
    assert current.stdout.strip() == f"{migrate.head_revision()} (head)"

    assert recon("db", "check", env=env).code == 0

    url = recon("db", "url", env=env)
    assert url.code == 0
    assert url.stdout.startswith("postgresql+psycopg://postgres@/reconfigurator")


def test_check_and_current_on_given_url(empty_url: URL) -> None:
    env = {"RECON_DATABASE_URL": _plain(empty_url)}
    result = recon("db", "check", env=env)
    assert result.code == 1
    assert result.stderr.strip() == (
        f"error: the database is not migrated (no schema, expected {migrate.head_revision()}):"
        " run `recon db upgrade`"
    )
    assert recon("db", "current", env=env).stdout.startswith("(empty)")
    assert recon("--database-url", _plain(empty_url), "db", "upgrade").code == 0
    assert recon("db", "check", env=env).code == 0

    down = recon("db", "downgrade", "base", env=env)
    assert down.code == 0, down.stderr
    assert recon("db", "check", env=env).code == 1


def test_unreachable_database_is_one_line_exit_2() -> None:
    result = recon("--database-url", "postgresql://nobody:hunter2@127.0.0.1:1/x", "db", "current")
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot connect to the database at ")
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_url_masks_password_unless_asked() -> None:
    given = "postgresql://alice:s3cret@db.example:5432/recon"
    masked = recon("--database-url", given, "db", "url")
    assert masked.code == 0
    assert masked.stdout.strip() == "postgresql+psycopg://alice:***@db.example:5432/recon"
    shown = recon("--database-url", given, "db", "url", "--show-password")
    assert shown.stdout.strip() == "postgresql+psycopg://alice:s3cret@db.example:5432/recon"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:topsecret@localhost/x",
        "cockroachdb://root:topsecret@localhost:26257/defaultdb?sslmode=disable",
    ],
)
def test_upgrade_sql_offline(url: str) -> None:
    result = recon("--database-url", url, "db", "upgrade", "--sql")
    assert result.code == 0, result.stderr
    ddl = result.stdout
    assert "CREATE TYPE ip_kind AS ENUM" in ddl
    assert "CREATE UNIQUE INDEX IF NOT EXISTS ix_external_ip_ip_first_port_live" in ddl
    assert "WHERE time_deleted IS NULL" in ddl
    assert "topsecret" not in ddl + result.stderr
    assert "advisory" not in ddl.lower()
    if url.startswith("cockroachdb"):
        # No transactional DDL is assumed on CockroachDB.
        assert "BEGIN;" not in ddl
    else:
        assert "BEGIN;" in ddl


def test_unknown_revision_is_input_error(empty_url: URL) -> None:
    result = recon("--database-url", _plain(empty_url), "db", "downgrade", "nope")
    assert result.code == 2
    assert "unknown migration revision 'nope'" in result.stderr


def test_unsupported_scheme_exit_2() -> None:
    result = recon("--database-url", "mysql://x@y/z", "db", "current")
    assert result.code == 2
    assert "unsupported database URL scheme" in result.stderr
