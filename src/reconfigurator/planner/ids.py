"""Where the planner's new ids come from: seeded (tests, simulations) or random."""

from __future__ import annotations

import random
import uuid
from typing import Protocol


class IdSource(Protocol):
    """Hands out new, uuid4-shaped ids."""

    def new_id(self) -> uuid.UUID: ...


class SeededIds:
    """Deterministic ids: the same seed gives the same sequence of ids."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def __repr__(self) -> str:
        return f"SeededIds({self.seed})"


class RandomIds:
    """Random version-4 ids (what a running system uses)."""

    def new_id(self) -> uuid.UUID:
        return uuid.uuid4()

    def __repr__(self) -> str:
        return "RandomIds()"
