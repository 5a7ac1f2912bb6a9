"""Database URLs: dialect normalization and password masking."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from reconfigurator.errors import ConfigurationError

#: Driver names that are accepted and what they mean.
_DRIVERNAMES = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "cockroachdb": "cockroachdb+psycopg",
    "cockroachdb+psycopg": "cockroachdb+psycopg",
}


def normalize_url(raw: str | URL) -> URL:
    """Parse a database URL and point it at the psycopg 3 driver.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``;
    ``cockroachdb://`` becomes ``cockroachdb+psycopg://``. Other dialects are refused.
    """
    try:
        url = make_url(raw) if isinstance(raw, str) else raw
    except ArgumentError:
        raise ConfigurationError(f"not a database URL: {mask_text(str(raw))}") from None
    except ValueError as exc:
        raise ConfigurationError(f"not a database URL: {exc}") from None
    drivername = _DRIVERNAMES.get(url.drivername)
    if drivername is None:
        raise ConfigurationError(
            f"unsupported database URL scheme {url.drivername!r}: use postgresql://,"
            " postgresql+psycopg://, cockroachdb:// or cockroachdb+psycopg://"
        )
    return url.set(drivername=drivername)


def masked(url: URL) -> str:
    """The URL as text with its password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def mask_text(raw: str) -> str:
    """Mask the password of something that may or may not parse as a URL."""
    try:
        return masked(make_url(raw))
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def is_cockroachdb(url: URL) -> bool:
    """Whether the URL is of a CockroachDB server."""
    return url.get_backend_name() == "cockroachdb"
