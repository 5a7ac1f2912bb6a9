"""Schema migrations (Alembic revisions shipped inside the package).

:func:`upgrade` and :func:`downgrade` hold the schema lock (:mod:`.schema_lock`) while they
run, so processes started together take turns: the first applies each revision, the others
then find the database there already.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from reconfigurator.db import schema_lock
from reconfigurator.db.engine import first_line
from reconfigurator.db.url import is_cockroachdb, masked, normalize_url
from reconfigurator.errors import DatabaseNotMigrated, DatabaseUnavailable, InputError

MIGRATIONS_PACKAGE_DIR: Final = "migrations"


def migrations_dir() -> Path:
    """Where the revisions live: inside the installed package."""
    return Path(str(resources.files("reconfigurator").joinpath(MIGRATIONS_PACKAGE_DIR)))


def alembic_config(
    *,
    url: URL | None = None,
    connection: Connection | None = None,
    output: io.StringIO | None = None,
) -> Config:
    """An Alembic configuration built in code (no ``alembic.ini`` needed, no URL in files).

    ``migrations/env.py`` reads ``connection`` or ``url`` from ``config.attributes``.
    """
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(migrations_dir()))
    if url is not None:
        config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migrations found")
    return head


def known_revisions() -> list[str]:
    """Every revision the package ships, newest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in script.walk_revisions()]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for a database with no schema."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        raise DatabaseUnavailable(masked(engine.url), first_line(exc)) from None


def require_migrated(engine: Engine) -> None:
    """Raise :class:`DatabaseNotMigrated` unless the schema is at the head revision."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise DatabaseNotMigrated(current, head)


def _run_online(engine: Engine, action: str, revision: str) -> None:
    try:
        if is_cockroachdb(engine.url):
            # CockroachDB: each DDL statement commits on its own; revisions do not rely on
            # transactional DDL.
            with engine.connect() as conn:
                autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
                _dispatch(alembic_config(connection=autocommit), action, revision)
        else:
            with engine.begin() as conn:
                _dispatch(alembic_config(connection=conn), action, revision)
    except DBAPIError as exc:
        if exc.connection_invalidated or _is_connect_error(exc):
            raise DatabaseUnavailable(masked(engine.url), first_line(exc)) from None
        raise


def _is_connect_error(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) and "connection" in str(exc.orig).lower()


def _dispatch(config: Config, action: str, revision: str) -> None:
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """The revision before and after an upgrade or downgrade (``None``: no schema)."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _locked(engine: Engine, action: str, revision: str, wait_s: float) -> SchemaChange:
    target = _check_revision(revision)
    try:
        with schema_lock.schema_lock(engine, wait_s=wait_s):
            before = current_revision(engine)
            _run_online(engine, action, target)
            return SchemaChange(before, current_revision(engine))
    except OperationalError as exc:
        if exc.connection_invalidated or _is_connect_error(exc):
            raise DatabaseUnavailable(masked(engine.url), first_line(exc)) from None
        raise


def upgrade(
    engine: Engine, revision: str = "head", *, wait_s: float = schema_lock.DEFAULT_WAIT_S
) -> SchemaChange:
    """Apply revisions up to ``revision``. A database already there is left as it is.

    Waits up to ``wait_s`` for a schema change another process is making
    (:class:`~reconfigurator.errors.SchemaLockTimeout` after that).
    """
    return _locked(engine, "upgrade", revision, wait_s)


def downgrade(
    engine: Engine, revision: str, *, wait_s: float = schema_lock.DEFAULT_WAIT_S
) -> SchemaChange:
    """Revert revisions down to ``revision`` (``base`` removes the whole schema; the empty
    lock table stays)."""
    return _locked(engine, "downgrade", revision, wait_s)


def upgrade_sql(url: str | URL, revision: str = "head", start: str | None = None) -> str:
    """The DDL that upgrading would run, rendered for ``url``'s dialect without connecting."""
    normalized = normalize_url(url)
    output = io.StringIO()
    config = alembic_config(url=normalized, output=output)
    target = _check_revision(revision)
    command.upgrade(config, f"{start}:{target}" if start else target, sql=True)
    return output.getvalue()


def _check_revision(revision: str) -> str:
    if revision in {"head", "base"} or revision.startswith(("+", "-")):
        return revision
    try:
        script = ScriptDirectory.from_config(alembic_config())
        found = script.get_revision(revision)
    except Exception as exc:  # alembic raises several kinds for unknown or ambiguous ids
        raise InputError(f"unknown migration revision {revision!r}: {exc}") from None
    if found is None:
        raise InputError(f"unknown migration revision {revision!r}")
    return found.revision
