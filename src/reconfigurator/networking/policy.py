"""What a missing row of an expunged zone means."""

from __future__ import annotations

import enum


class MissingRowPolicy(enum.StrEnum):
    """What a missing row of an expunged zone means."""

    #: The row was never created (its blueprint was never executed): as good as deleted.
    #: Nothing is written for it; the repair is reported once and recorded.
    TREAT_AS_DELETED = "treat-as-deleted"
    #: The old behaviour: fail with ``RecordNotFound`` (kept to reproduce and diagnose).
    FAIL = "fail"
