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


# --- blueprints and targets ------------------------------------------------------------------


class BlueprintInvalid(InputError):
    """A blueprint document does not match the JSON format. ``path`` is a JSON path."""

    def __init__(self, path: str, message: str, *, more: int = 0) -> None:
        self.path = path
        self.message = message
        self.more = more
        extra = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        super().__init__(f"invalid blueprint at {path}: {message}{extra}")


class BlueprintLintFailed(InputError):
    """A blueprint breaks a lint rule; ``findings`` are the lint messages (each names zones)."""

    def __init__(self, blueprint_id: object, findings: list[str]) -> None:
        self.blueprint_id = blueprint_id
        self.findings = findings
        count = len(findings)
        super().__init__(
            f"blueprint {blueprint_id} fails lint ({count} problem{'s' if count != 1 else ''}): "
            + "; ".join(findings)
        )


class BlueprintNotFound(InputError):
    def __init__(self, reference: object) -> None:
        self.reference = reference
        super().__init__(f"no blueprint matches {reference}")


class AmbiguousBlueprintId(InputError):
    def __init__(self, prefix: str, matches: list[object]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(str(m) for m in matches[:5])
        super().__init__(f"blueprint id prefix {prefix!r} is ambiguous: matches {shown}")


class BlueprintContentConflict(ReconError):
    """A blueprint with this id is already stored with different content."""

    def __init__(self, blueprint_id: object) -> None:
        self.blueprint_id = blueprint_id
        super().__init__(f"blueprint {blueprint_id} already exists with different content")


class BlueprintIsTarget(ReconError):
    def __init__(self, blueprint_id: object) -> None:
        self.blueprint_id = blueprint_id
        super().__init__(f"blueprint {blueprint_id} is the current target and cannot be deleted")


class NoTarget(ReconError):
    def __init__(self) -> None:
        super().__init__("no target blueprint has been set")


class TargetParentMismatch(ReconError):
    """A blueprint can only become the target if its parent is the current target."""

    def __init__(self, blueprint_id: object, parent_id: object, current_target_id: object) -> None:
        self.blueprint_id = blueprint_id
        self.parent_id = parent_id
        self.current_target_id = current_target_id
        if current_target_id is None:
            reason = (
                f"has parent {parent_id} but there is no target yet"
                " (the first target has no parent)"
            )
        elif parent_id is None:
            reason = f"has no parent but the current target is {current_target_id}"
        else:
            reason = f"has parent {parent_id}, not the current target {current_target_id}"
        super().__init__(f"blueprint {blueprint_id} cannot become the target: it {reason}")


class NotCurrentTarget(ReconError):
    """An executor was asked to realize a blueprint that is not the current target."""

    def __init__(self, blueprint_id: object, current_target_id: object) -> None:
        self.blueprint_id = blueprint_id
        self.current_target_id = current_target_id
        current = current_target_id if current_target_id is not None else "(none)"
        super().__init__(
            f"blueprint {blueprint_id} is not the current target (the target is {current})"
        )


# --- executor ------------------------------------------------------------------------------


class RecordNotFound(ReconError):
    """Under the ``fail`` missing-row policy: an expunged zone's row does not exist."""

    def __init__(self, zone_id: object, table: str, row_id: object) -> None:
        self.zone_id = zone_id
        self.table = table
        self.row_id = row_id
        super().__init__(
            f"Record not found: {table} row {row_id} of expunged zone {zone_id} does not exist"
        )


class Conflict(ReconError):
    """One inconsistency between the blueprint and the database that blocks execution.

    ``owner`` is the zone (or other parent) that currently holds the contested row or
    address, when there is one.
    """

    def __init__(
        self,
        zone_id: object,
        table: str,
        row_id: object,
        detail: str,
        owner: object | None = None,
    ) -> None:
        self.zone_id = zone_id
        self.table = table
        self.row_id = row_id
        self.detail = detail
        self.owner = owner
        held = f" (held by {owner})" if owner is not None else ""
        super().__init__(f"zone {zone_id}: {table} row {row_id}: {detail}{held}")


class ExternalNetworkingConflict(ReconError):
    """The blueprint cannot be realized: one or more conflicts; nothing was written."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        if not conflicts:
            raise ValueError("ExternalNetworkingConflict needs at least one conflict")
        self.conflicts = conflicts
        first = conflicts[0]
        rest = len(conflicts) - 1
        more = f" (and {rest} more conflict{'s' if rest != 1 else ''})" if rest else ""
        super().__init__(f"conflict: {first}{more}")

    @property
    def zone_id(self) -> object:
        return self.conflicts[0].zone_id
