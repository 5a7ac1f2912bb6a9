from __future__ import annotations

import io
import logging
import sys

import pytest

from reconfigurator.cli.log_format import KeyValueFormatter, configure


def test_structured_fields_are_appended() -> None:
    record = logging.makeLogRecord(
        {
            "name": "reconfigurator.executor",
            "levelname": "INFO",
            "msg": "soft-deleted row",
            "zone_id": "z1",
            "blueprint_id": "b1",
            "detail": "two words",
        }
    )
    line = KeyValueFormatter().format(record)
    assert line.endswith('soft-deleted row blueprint_id=b1 detail="two words" zone_id=z1')


def test_plain_records_unchanged() -> None:
    record = logging.makeLogRecord({"name": "x", "levelname": "WARNING", "msg": "hello"})
    assert KeyValueFormatter().format(record).endswith("WARNING x: hello")


def test_cli_logging_follows_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    # A command run in-process may swap stderr and close the old one: records must go to the
    # stream current when they are emitted, never to a closed one.
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure(0)
    logging.getLogger("reconfigurator.test").warning("one", extra={"zone_id": "z1"})
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("reconfigurator.test").warning("two", extra={"zone_id": "z2"})
    assert "two zone_id=z2" in second.getvalue()
