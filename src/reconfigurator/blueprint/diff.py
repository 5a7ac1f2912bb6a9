"""What changed between two blueprints: sleds, disks and zones, by id. Pure: no database.

Zones and disks are matched by id. A zone (or disk) whose disposition went from in-service to
expunged is listed as *expunged*; any other difference of a zone or disk is listed as *changed*
with the JSON paths of the fields that differ and their old and new values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from reconfigurator.blueprint.model import Blueprint, BlueprintDisk, BlueprintSled, BlueprintZone

#: Blueprint fields compared as metadata (the id is what is being compared, so not listed).
_METADATA_FIELDS = ("parent_blueprint_id", "time_created", "creator", "comment")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs. Values are JSON values; ``None`` also stands for "absent"."""

    path: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class SledChange:
    """A sled whose state differs between the two blueprints."""

    sled_id: UUID
    old_state: str
    new_state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sled_id": str(self.sled_id),
            "old_state": self.old_state,
            "new_state": self.new_state,
        }


@dataclass(frozen=True, slots=True)
class DiskEntry:
    """A disk that was added, removed, expunged or changed; ``changes`` only for changed."""

    sled_id: UUID
    disk_id: UUID
    pool_id: UUID
    changes: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sled_id": str(self.sled_id),
            "disk_id": str(self.disk_id),
            "pool_id": str(self.pool_id),
        }
        if self.changes:
            data["changes"] = [change.to_json() for change in self.changes]
        return data


@dataclass(frozen=True, slots=True)
class ZoneEntry:
    """A zone that was added, removed, expunged or changed; ``changes`` only for changed.

    ``sled_id`` is the zone's sled in the newer blueprint (in the older one if removed).
    """

    sled_id: UUID
    zone_id: UUID
    kind: str
    changes: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sled_id": str(self.sled_id),
            "zone_id": str(self.zone_id),
            "kind": self.kind,
        }
        if self.changes:
            data["changes"] = [change.to_json() for change in self.changes]
        return data


@dataclass(frozen=True, slots=True)
class BlueprintDiff:
    """The differences from blueprint ``before_id`` to blueprint ``after_id``."""

    before_id: UUID
    after_id: UUID
    metadata: tuple[FieldChange, ...]
    sleds_added: tuple[UUID, ...]
    sleds_removed: tuple[UUID, ...]
    sleds_changed: tuple[SledChange, ...]
    disks_added: tuple[DiskEntry, ...]
    disks_removed: tuple[DiskEntry, ...]
    disks_expunged: tuple[DiskEntry, ...]
    disks_changed: tuple[DiskEntry, ...]
    zones_added: tuple[ZoneEntry, ...]
    zones_removed: tuple[ZoneEntry, ...]
    zones_expunged: tuple[ZoneEntry, ...]
    zones_changed: tuple[ZoneEntry, ...]

    @property
    def is_empty(self) -> bool:
        """No difference in sleds, disks or zones (metadata is not counted)."""
        return not (
            self.sleds_added
            or self.sleds_removed
            or self.sleds_changed
            or self.disks_added
            or self.disks_removed
            or self.disks_expunged
            or self.disks_changed
            or self.zones_added
            or self.zones_removed
            or self.zones_expunged
            or self.zones_changed
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "before": str(self.before_id),
            "after": str(self.after_id),
            "metadata": [change.to_json() for change in self.metadata],
            "sleds": {
                "added": [str(sled_id) for sled_id in self.sleds_added],
                "removed": [str(sled_id) for sled_id in self.sleds_removed],
                "changed": [change.to_json() for change in self.sleds_changed],
            },
            "disks": {
                "added": [disk.to_json() for disk in self.disks_added],
                "removed": [disk.to_json() for disk in self.disks_removed],
                "expunged": [disk.to_json() for disk in self.disks_expunged],
                "changed": [disk.to_json() for disk in self.disks_changed],
            },
            "zones": {
                "added": [zone.to_json() for zone in self.zones_added],
                "removed": [zone.to_json() for zone in self.zones_removed],
                "expunged": [zone.to_json() for zone in self.zones_expunged],
                "changed": [zone.to_json() for zone in self.zones_changed],
            },
        }


def diff_blueprints(before: Blueprint, after: Blueprint) -> BlueprintDiff:
    """What changed from ``before`` to ``after`` (each list ordered by sled id, then id)."""
    before_doc = before.to_document()
    after_doc = after.to_document()
    metadata = tuple(
        FieldChange(name, before_doc[name], after_doc[name])
        for name in _METADATA_FIELDS
        if before_doc[name] != after_doc[name]
    )

    old_sleds = {sled.id: sled for sled in before.sleds}
    new_sleds = {sled.id: sled for sled in after.sleds}
    sleds_changed = tuple(
        SledChange(sled_id, old_sleds[sled_id].state.value, sled.state.value)
        for sled_id, sled in new_sleds.items()
        if sled_id in old_sleds and old_sleds[sled_id].state != sled.state
    )

    disks = _diff_disks(_disks(before), _disks(after))
    zones = _diff_zones(_zones(before), _zones(after))
    return BlueprintDiff(
        before_id=before.id,
        after_id=after.id,
        metadata=metadata,
        sleds_added=tuple(sled_id for sled_id in new_sleds if sled_id not in old_sleds),
        sleds_removed=tuple(sled_id for sled_id in old_sleds if sled_id not in new_sleds),
        sleds_changed=sleds_changed,
        disks_added=disks[0],
        disks_removed=disks[1],
        disks_expunged=disks[2],
        disks_changed=disks[3],
        zones_added=zones[0],
        zones_removed=zones[1],
        zones_expunged=zones[2],
        zones_changed=zones[3],
    )


# --- disks and zones ----------------------------------------------------------------------------

_Four = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]


def _disks(blueprint: Blueprint) -> dict[UUID, tuple[BlueprintSled, BlueprintDisk]]:
    return {disk.id: (sled, disk) for sled in blueprint.sleds for disk in sled.disks}


def _zones(blueprint: Blueprint) -> dict[UUID, tuple[BlueprintSled, BlueprintZone]]:
    return {zone.id: (sled, zone) for sled, zone in blueprint.zones()}


def _diff_disks(
    old: dict[UUID, tuple[BlueprintSled, BlueprintDisk]],
    new: dict[UUID, tuple[BlueprintSled, BlueprintDisk]],
) -> _Four:
    added = [
        DiskEntry(sled.id, disk.id, disk.pool_id)
        for disk_id, (sled, disk) in new.items()
        if disk_id not in old
    ]
    removed = [
        DiskEntry(sled.id, disk.id, disk.pool_id)
        for disk_id, (sled, disk) in old.items()
        if disk_id not in new
    ]
    expunged: list[DiskEntry] = []
    changed: list[DiskEntry] = []
    for disk_id, (sled, disk) in new.items():
        if disk_id not in old:
            continue
        old_sled, old_disk = old[disk_id]
        changes = _changes(old_disk.model_dump(mode="json"), disk.model_dump(mode="json"))
        if old_sled.id != sled.id:
            changes.insert(0, FieldChange("sled_id", str(old_sled.id), str(sled.id)))
        if old_disk.is_in_service and not disk.is_in_service:
            expunged.append(DiskEntry(sled.id, disk.id, disk.pool_id))
            changes = [c for c in changes if not c.path.startswith("disposition.")]
        if changes:
            changed.append(DiskEntry(sled.id, disk.id, disk.pool_id, tuple(changes)))
    return tuple(added), tuple(removed), tuple(expunged), tuple(changed)


def _diff_zones(
    old: dict[UUID, tuple[BlueprintSled, BlueprintZone]],
    new: dict[UUID, tuple[BlueprintSled, BlueprintZone]],
) -> _Four:
    added = [
        ZoneEntry(sled.id, zone.id, zone.kind.value)
        for zone_id, (sled, zone) in new.items()
        if zone_id not in old
    ]
    removed = [
        ZoneEntry(sled.id, zone.id, zone.kind.value)
        for zone_id, (sled, zone) in old.items()
        if zone_id not in new
    ]
    expunged: list[ZoneEntry] = []
    changed: list[ZoneEntry] = []
    for zone_id, (sled, zone) in new.items():
        if zone_id not in old:
            continue
        old_sled, old_zone = old[zone_id]
        changes = _changes(old_zone.model_dump(mode="json"), zone.model_dump(mode="json"))
        if old_sled.id != sled.id:
            changes.insert(0, FieldChange("sled_id", str(old_sled.id), str(sled.id)))
        if old_zone.is_in_service and zone.is_expunged:
            expunged.append(ZoneEntry(sled.id, zone.id, zone.kind.value))
            changes = [c for c in changes if not c.path.startswith("disposition.")]
        if changes:
            changed.append(ZoneEntry(sled.id, zone.id, zone.kind.value, tuple(changes)))
    return tuple(added), tuple(removed), tuple(expunged), tuple(changed)


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Leaf fields that differ between two JSON objects, as dotted paths, in key order."""
    return list(_walk("", old, new))


def _walk(prefix: str, old: Any, new: Any) -> Iterator[FieldChange]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = list(old) + [key for key in new if key not in old]
        for key in keys:
            yield from _walk(f"{prefix}.{key}" if prefix else key, old.get(key), new.get(key))
    elif isinstance(old, Mapping):
        for key, value in old.items():
            yield from _walk(f"{prefix}.{key}", value, None)
        if new is not None:
            yield FieldChange(prefix, None, new)
    elif isinstance(new, Mapping):
        if old is not None:
            yield FieldChange(prefix, old, None)
        for key, value in new.items():
            yield from _walk(f"{prefix}.{key}", None, value)
    elif old != new:
        yield FieldChange(prefix, old, new)
