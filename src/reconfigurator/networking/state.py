"""What the decision is given: the rows of the two tables that a blueprint concerns."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from reconfigurator.networking.desired import ExpungedZoneRows
from reconfigurator.networking.rows import ExternalIpRow, NicRow, PoolRange, Table


@dataclass(slots=True)
class NetworkingState:
    """The rows the decision needs, as one snapshot of the tables shows them.

    ``external_ips`` and ``nics`` hold, by id, the rows with the ids of in-service zones, the
    live rows of those zones and the live rows holding an address or MAC they want.

    ``expunged_*`` hold, by the position of the zone in ``BlueprintNetworking.expunged``, the
    row recorded for each expunged zone that needs more than counting: ``None`` when no row
    has that id, else a live row or a row of another zone. ``repaired`` names the positions
    among those ``None`` entries whose repair an earlier run recorded, and ``repaired_counted``
    counts further such rows that were counted rather than listed. Every expunged zone in
    neither has its row, soft-deleted.
    """

    external_ips: dict[UUID, ExternalIpRow] = field(default_factory=dict)
    nics: dict[UUID, NicRow] = field(default_factory=dict)
    pool_ranges: list[PoolRange] = field(default_factory=list)
    expunged_external_ips: dict[int, ExternalIpRow | None] = field(default_factory=dict)
    expunged_nics: dict[int, NicRow | None] = field(default_factory=dict)
    repaired: set[tuple[Table, int]] = field(default_factory=set)
    repaired_counted: dict[Table, int] = field(default_factory=dict)
    #: The expunged zones at the positions above, when the blueprint's list of them stayed
    #: in the database (else the position indexes ``BlueprintNetworking.expunged``).
    expunged_zones: dict[int, ExpungedZoneRows] = field(default_factory=dict)
