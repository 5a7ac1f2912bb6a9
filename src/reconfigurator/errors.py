"""Typed errors raised by the library.

Every error carries the identifiers a person needs to act on it (zone, table, row, owner,
blueprint), both as attributes and in its message. Two families matter to callers:

* :class:`InputError` and :class:`DatabaseSetupError`: the operation could not run at all
  (bad input, unreachable or un-migrated database).
* everything else derived from :class:`ReconError`: the operation ran and failed.
"""

from __future__ import annotations


class ReconError(Exception):
    """Base class of every error this library raises on purpose."""


# --- the operation could not run -------------------------------------------------------------


class InputError(ReconError):
    """Input given by the caller is invalid (a file, an argument, a URL)."""


class ConfigurationError(InputError):
    """The configuration (database URL, data directory) is unusable."""


class DatabaseSetupError(ReconError):
    """The database cannot be used as it is: unreachable, or not migrated to this version."""


class DatabaseUnavailable(DatabaseSetupError):
    """No connection could be made. ``url`` is the URL with its password masked."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot connect to the database at {url}: {reason}")


class DatabaseNotMigrated(DatabaseSetupError):
    """The database schema is not at the revision this version of the library expects."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        at = "no schema" if current is None else f"schema revision {current}"
        super().__init__(
            f"the database is not migrated ({at}, expected {head}): run `recon db upgrade`"
        )


# --- the operation ran and failed ------------------------------------------------------------


class TransactionRetriesExhausted(ReconError):
    """A transaction kept hitting retryable conflicts until its attempt budget ran out.

    The last database error is chained as ``__cause__``.
    """

    def __init__(self, attempts: int, last_error: str) -> None:
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(f"transaction gave up after {attempts} attempts; last error: {last_error}")
