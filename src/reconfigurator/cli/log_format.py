"""How ``recon`` logs on stderr: one line per record, either human (``key=value`` fields
appended to the message) or JSON (one object per line, ``--log-format json``)."""

from __future__ import annotations

import enum
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from reconfigurator.executor.log_context import RunFieldsFilter

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


class LogFormat(enum.StrEnum):
    """The ``--log-format`` choices."""

    HUMAN = "human"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``timestamp`` (RFC 3339, UTC), ``level``, ``logger``,
    ``message``, then the record's structured fields (``blueprint_id``, ``execution_id``,
    ``zone_id``…) and ``exception`` when the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in data:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


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


def configure(verbosity: int, log_format: LogFormat = LogFormat.HUMAN) -> None:
    """Log to stderr: warnings by default, ``-v`` info, ``-vv`` debug; every record emitted
    during an executor run carries the run's ``blueprint_id`` and ``execution_id``."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = _CurrentStderrHandler()
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else KeyValueFormatter())
    handler.addFilter(RunFieldsFilter())
    root = logging.getLogger("reconfigurator")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
