"""What every command shares: the chosen database and the consoles."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from rich.console import Console
from sqlalchemy.engine import URL, Engine

from reconfigurator.db.engine import check_connection, embedded_database_url, make_engine
from reconfigurator.db.migrate import require_migrated
from reconfigurator.db.url import normalize_url


@dataclass
class AppContext:
    """Built by the top-level callback; commands get it from ``typer.Context.obj``."""

    database_url: str | None
    json_output: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    _url: URL | None = None
    _engine: Engine | None = None

    def url(self) -> URL:
        """The URL in use: the one given, else the embedded server's (started on demand)."""
        if self._url is None:
            if self.database_url:
                self._url = normalize_url(self.database_url)
            else:
                self._url = embedded_database_url()
        return self._url

    def configured_url(self) -> URL | None:
        """The URL the user gave, normalized, without starting anything."""
        return normalize_url(self.database_url) if self.database_url else None

    def engine(self) -> Engine:
        """A connected engine (raises ``DatabaseUnavailable`` with one line if it cannot)."""
        if self._engine is None:
            engine = make_engine(self.url())
            check_connection(engine)
            self._engine = engine
        return self._engine

    def migrated_engine(self) -> Engine:
        """Like :meth:`engine`, and the schema must be at the head revision."""
        engine = self.engine()
        require_migrated(engine)
        return engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def app_context(ctx: typer.Context) -> AppContext:
    """The :class:`AppContext` the root callback stored for this invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # pragma: no cover - the callback always sets it
        raise RuntimeError("recon callback did not run")
    return obj
