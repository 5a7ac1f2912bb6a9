from __future__ import annotations

import logging

from reconfigurator.cli.log_format import KeyValueFormatter


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
