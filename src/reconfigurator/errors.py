"""Typed errors raised by the library.

Every error carries the identifiers a person needs to act on it (zone, table, row, owner,
blueprint), both as attributes and in its message. Two families matter to callers:

* :class:`InputError` and :class:`DatabaseSetupError`: the operation could not run at all
  (bad input, unreachable or un-migrated database).
* everything else derived from :class:`ReconError`: the operation ran and failed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID


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


class SchemaLockTimeout(DatabaseSetupError):
    """Another process held the schema lock (``recon_schema_lock``) for as long as we waited.

    ``holder`` is ``host:pid:tag`` of that process, ``time_acquired`` when it took the lock,
    ``time_expires`` when its lease runs out unless it renews it (a crashed holder does not).
    """

    def __init__(
        self,
        waited_s: float,
        holder: str | None,
        time_acquired: datetime | None,
        time_expires: datetime | None,
    ) -> None:
        self.waited_s = waited_s
        self.holder = holder
        self.time_acquired = time_acquired
        self.time_expires = time_expires
        since = f" since {time_acquired.isoformat(timespec='seconds')}" if time_acquired else ""
        until = (
            f", lease until {time_expires.isoformat(timespec='seconds')}" if time_expires else ""
        )
        super().__init__(
            f"another schema change holds the lock ({holder or 'unknown holder'}{since}{until});"
            f" gave up after {waited_s:g}s. If that process is gone, its lease runs out on its"
            " own, or run `recon db unlock`"
        )


class TablesMissing(DatabaseSetupError):
    """The database lacks tables a reader needs (it was not made by this project's migrations
    nor by upstream's DDL, or only in part)."""

    def __init__(self, tables: list[str]) -> None:
        self.tables = tables
        super().__init__(
            f"the database lacks the table{'s' if len(tables) != 1 else ''} {', '.join(tables)}"
            " (needed to read blueprints and networking rows)"
        )


class ColumnsMissing(DatabaseSetupError):
    """Tables a reader needs lack columns it reads."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        super().__init__(
            f"the database lacks the column{'s' if len(columns) != 1 else ''}"
            f" {', '.join(columns)} (needed to read blueprints and networking rows)"
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


class CommitOutcomeUnknown(ReconError):
    """The database could not say whether a transaction committed (SQLSTATE 40003, "result is
    ambiguous"): its writes may or may not have landed. Never retried blindly; an idempotent
    caller (the executor's steps) confirms the outcome on its next run.

    ``sqlstate`` and ``detail`` are the database's; the error is chained as ``__cause__``.
    """

    def __init__(self, sqlstate: str | None, detail: str) -> None:
        self.sqlstate = sqlstate
        self.detail = detail
        super().__init__(
            f"outcome unknown: the database could not say whether the transaction committed"
            f" ({sqlstate or 'no SQLSTATE'}: {detail}); the next run will confirm it"
        )


# --- blueprints and targets ------------------------------------------------------------------


class BlueprintInvalid(InputError):
    """A blueprint document does not match the JSON format. ``path`` is a JSON path."""

    #: How the message begins, before `` at <path>``.
    subject = "invalid blueprint"

    def __init__(self, path: str, message: str, *, more: int = 0) -> None:
        self.path = path
        self.message = message
        self.more = more
        extra = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        super().__init__(f"{self.subject} at {path}: {message}{extra}")


class OmicronRefusal(enum.StrEnum):
    """Why an upstream (omicron) blueprint was not converted (stable, for scripts)."""

    #: Not shaped as upstream's schema says: a missing or unknown key, a wrong JSON type, an
    #: unknown tag, a value that does not match upstream's own pattern.
    MALFORMED = "malformed"
    #: Valid upstream, but this project's format has no way to hold it (a zone kind it does
    #: not model, a NIC that is not a service NIC of its zone, an internal zpool).
    UNREPRESENTABLE = "unrepresentable"
    #: Converted, but the result breaks a rule of this project's format (a generation of 0,
    #: a NIC slot above 7, a MAC written without leading zeros).
    INVALID = "invalid"


class OmicronBlueprintRefused(BlueprintInvalid):
    """An upstream blueprint cannot be converted; nothing of it is kept.

    ``path`` is a JSON path into the *upstream* document (``sleds.<sled id>.zones[3]
    .zone_type.type``), ``reason`` says whether the input is malformed, valid upstream but
    not representable here, or converted into something this format refuses.
    """

    subject = "cannot convert the omicron blueprint"

    def __init__(self, path: str, message: str, *, reason: OmicronRefusal, more: int = 0) -> None:
        self.reason = reason
        super().__init__(path, f"{message} ({reason.value})", more=more)


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
    """No stored blueprint has this id (or id prefix)."""

    def __init__(self, reference: object) -> None:
        self.reference = reference
        super().__init__(f"no blueprint matches {reference}")


class AmbiguousBlueprintId(InputError):
    """An id prefix matches several stored blueprints."""

    def __init__(self, prefix: str, matches: list[object]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(str(m) for m in matches[:5])
        super().__init__(f"blueprint id prefix {prefix!r} is ambiguous: matches {shown}")


class BlueprintNotStorable(InputError):
    """A valid blueprint that upstream's blueprint tables cannot hold (``reason`` says why)."""

    def __init__(self, blueprint_id: object, reason: str) -> None:
        self.blueprint_id = blueprint_id
        self.reason = reason
        super().__init__(f"blueprint {blueprint_id} cannot be stored: {reason}")


class BlueprintRowsInconsistent(ReconError):
    """A stored blueprint's rows do not make a valid blueprint (edited by hand, or written by
    another program); ``reason`` names the first problem."""

    def __init__(self, blueprint_id: object, reason: str) -> None:
        self.blueprint_id = blueprint_id
        self.reason = reason
        super().__init__(f"stored blueprint {blueprint_id} is inconsistent: {reason}")


class BlueprintContentConflict(ReconError):
    """A blueprint with this id is already stored with different content."""

    def __init__(self, blueprint_id: object) -> None:
        self.blueprint_id = blueprint_id
        super().__init__(f"blueprint {blueprint_id} already exists with different content")


class BlueprintIsTarget(ReconError):
    """The blueprint is the current target, so it cannot be deleted."""

    def __init__(self, blueprint_id: object) -> None:
        self.blueprint_id = blueprint_id
        super().__init__(f"blueprint {blueprint_id} is the current target and cannot be deleted")


class NoTarget(ReconError):
    """No target blueprint has been set yet."""

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


class TargetDisabled(ReconError):
    """Execution of the current target has been disabled by an operator."""

    def __init__(self, blueprint_id: object) -> None:
        self.blueprint_id = blueprint_id
        super().__init__(
            f"execution of target blueprint {blueprint_id} is disabled"
            f" (enable it with `recon target set {blueprint_id} --enable`)"
        )


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


class ConflictKind(enum.StrEnum):
    """What is in the way of realizing a zone's external networking (stable, for scripts)."""

    #: The row id the blueprint records for the zone belongs to another zone (or parent).
    ROW_OWNED_BY_OTHER = "row_owned_by_other"
    #: The in-service zone's own row (the blueprint's id) is soft-deleted.
    ROW_SOFT_DELETED = "row_soft_deleted"
    #: The zone's own live row (the blueprint's id) differs from the blueprint.
    ROW_MISMATCH = "row_mismatch"
    #: The zone holds a different live row than the one the blueprint records.
    ZONE_HOLDS_OTHER_ROW = "zone_holds_other_row"
    #: The external IP (address and ports) is held by another live row.
    EXTERNAL_IP_HELD = "external_ip_held"
    #: A NIC address (IPv4 or IPv6) is held by another live NIC of the subnet.
    NIC_IP_HELD = "nic_ip_held"
    #: The MAC address is held by another live NIC of the VPC.
    MAC_HELD = "mac_held"
    #: The NIC's slot is held by a live NIC of another kind whose parent is the zone.
    SLOT_HELD = "slot_held"
    #: Another zone of the same blueprint wants the same address, MAC or row id.
    CLAIMED_IN_BLUEPRINT = "claimed_in_blueprint"
    #: The external IP is in no live range of the service IP pool of its version.
    OUTSIDE_SERVICE_POOL = "outside_service_pool"

    @property
    def is_mismatch(self) -> bool:
        """Whether this is the zone's own row differing from the blueprint (the audit's
        ``mismatch``), rather than something else in the way (``conflict``)."""
        return self in {ConflictKind.ROW_MISMATCH, ConflictKind.ZONE_HOLDS_OTHER_ROW}


class Conflict(ReconError):
    """One inconsistency between the blueprint and the database that blocks execution.

    ``row_id`` is the contested row (the blueprint's, or the one in the way); ``owner`` is the
    zone (or other parent) that currently holds the contested row or address, when there is
    one.
    """

    def __init__(
        self,
        kind: ConflictKind,
        zone_id: UUID,
        table: str,
        row_id: UUID,
        detail: str,
        *,
        owner: UUID | None = None,
    ) -> None:
        self.kind = kind
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


class ConcurrentModification(ReconError):
    """A row changed between reading and writing inside one transaction (should not happen
    under SERIALIZABLE isolation; reported rather than ignored)."""

    def __init__(self, table: str, expected: int, actual: int) -> None:
        self.table = table
        super().__init__(
            f"{table}: expected to soft-delete {expected} live rows but {actual} were live"
        )


# --- planner and planning input --------------------------------------------------------------


class PlanningInputInvalid(InputError):
    """The planning input contradicts itself (an id twice, a malformed range)."""


class SledNotFound(InputError):
    """No sled of the planning input matches this id (or prefix)."""

    def __init__(self, reference: object) -> None:
        self.reference = reference
        super().__init__(f"no sled matches {reference}")


class DiskNotFound(InputError):
    """No disk of the planning input matches this disk or pool id (or prefix)."""

    def __init__(self, reference: object) -> None:
        self.reference = reference
        super().__init__(f"no disk matches {reference} (by disk id or pool id)")


class AmbiguousId(InputError):
    """An id prefix matches more than one sled or disk."""

    def __init__(self, what: str, prefix: str, matches: list[object]) -> None:
        self.what = what
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(str(m) for m in matches[:5])
        super().__init__(f"{what} id prefix {prefix!r} is ambiguous: matches {shown}")


class SledAlreadyExists(InputError):
    """A sled with this id is already part of the planning input."""

    def __init__(self, sled_id: object) -> None:
        self.sled_id = sled_id
        super().__init__(f"sled {sled_id} already exists")


class DiskAlreadyExists(InputError):
    """A disk id or pool id is already used by another disk."""

    def __init__(self, what: str, value: object, disk_id: object) -> None:
        self.what = what
        self.value = value
        self.disk_id = disk_id
        super().__init__(f"{what} {value} is already used by disk {disk_id}")


class SledNotInService(InputError):
    """The sled is expunged or decommissioned, so disks cannot be added to it."""

    def __init__(self, sled_id: object, policy: str, state: str) -> None:
        self.sled_id = sled_id
        self.policy = policy
        self.state = state
        super().__init__(f"sled {sled_id} is not in service (policy {policy}, state {state})")


class InvalidIpRange(InputError):
    """An IP range whose addresses are of different families or out of order."""

    def __init__(self, first: object, last: object, reason: str) -> None:
        self.first = first
        self.last = last
        self.reason = reason
        super().__init__(f"invalid IP range {first} - {last}: {reason}")


class IpRangeOverlap(InputError):
    """A new range overlaps a live range of some IP pool."""

    def __init__(
        self, first: object, last: object, range_id: object, existing: tuple[object, object]
    ) -> None:
        self.first = first
        self.last = last
        self.range_id = range_id
        self.existing = existing
        super().__init__(
            f"IP range {first} - {last} overlaps range {range_id} ({existing[0]} - {existing[1]})"
        )


# --- blueprint lint and diff -----------------------------------------------------------------


class BlueprintInTargetHistory(ReconError):
    """A blueprint that was a target once stays: the target history refers to it."""

    def __init__(self, blueprint_id: object, versions: list[int]) -> None:
        self.blueprint_id = blueprint_id
        self.versions = versions
        shown = ", ".join(str(v) for v in versions)
        plural = "s" if len(versions) != 1 else ""
        super().__init__(
            f"blueprint {blueprint_id} is in the target history (version{plural} {shown})"
            " and cannot be deleted"
        )
