"""A logging formatter that appends a record's structured fields as ``key=value``."""

from __future__ import annotations

import logging
import sys
from typing import Final, TextIO

_STANDARD: Final = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """``2026-11-23T10:00:00 INFO reconfigurator.executor: msg zone_id=… blueprint_id=…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not fields:
            return base
        rendered = " ".join(f"{key}={_value(val)}" for key, val in sorted(fields.items()))
        return f"{base} {rendered}"


def _value(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not to the stream that
    was current when the handler was made: a command run in-process (a test, a notebook) may
    swap and close its stderr, and later records must not go to a closed stream."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(verbosity: int) -> None:
    """Log to stderr: warnings by default, ``-v`` info, ``-vv`` debug."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = _CurrentStderrHandler()
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger("reconfigurator")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
