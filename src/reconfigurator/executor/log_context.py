"""The ids of the executor run in progress, for every log record emitted during it.

The executor's own records carry ``blueprint_id`` and ``execution_id`` in their fields; records
of the code it calls (the retry loop of a transaction, a step added by control-plane code that
logs through its own logger) do not know them. :func:`run_fields` makes the ids of the run
current for the block (a context variable, so each thread sees its own run), and
:class:`RunFieldsFilter`, attached by whoever configures logging, copies them onto every record
that lacks them. Nothing here configures logging.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

_NO_FIELDS: Mapping[str, str] = MappingProxyType({})
_RUN_FIELDS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "reconfigurator_run_fields", default=_NO_FIELDS
)


@contextmanager
def run_fields(**fields: str) -> Iterator[None]:
    """Make ``fields`` (e.g. ``blueprint_id``, ``execution_id``) current for the block."""
    token = _RUN_FIELDS.set(MappingProxyType({**_RUN_FIELDS.get(), **fields}))
    try:
        yield
    finally:
        _RUN_FIELDS.reset(token)


def current_run_fields() -> Mapping[str, str]:
    """The fields of the run in progress in this context (empty outside a run)."""
    return _RUN_FIELDS.get()


class RunFieldsFilter(logging.Filter):
    """Adds the current run's fields to a record that does not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _RUN_FIELDS.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
