from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from reconfigurator.cli.log_format import JsonFormatter, KeyValueFormatter, LogFormat, configure
from reconfigurator.executor.log_context import run_fields


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


def test_json_lines_carry_the_fields_and_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord(
            {
                "name": "reconfigurator.executor",
                "levelname": "ERROR",
                "levelno": logging.ERROR,
                "msg": "step %s failed",
                "args": ("one",),
                "zone_id": "z1",
                "exc_info": sys.exc_info(),
            }
        )
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "step one failed"
    assert data["level"] == "ERROR"
    assert data["logger"] == "reconfigurator.executor"
    assert data["zone_id"] == "z1"
    assert data["timestamp"].endswith("+00:00")
    assert "ValueError: boom" in data["exception"]


def test_records_during_a_run_get_its_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure(1, LogFormat.JSON)
    logger = logging.getLogger("reconfigurator.db.retry")
    with run_fields(blueprint_id="b1", execution_id="e1"):
        logger.info("inside")
        logger.info("explicit", extra={"blueprint_id": "other"})
    logger.info("outside")
    inside, explicit, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["blueprint_id"], inside["execution_id"]) == ("b1", "e1")
    assert explicit["blueprint_id"] == "other"
    assert "blueprint_id" not in outside
