"""Array literals as statement parameters: what the server reads back is what was sent."""

from __future__ import annotations

import uuid
from ipaddress import ip_address

import pytest
from sqlalchemy import BigInteger, Boolean, String, Uuid, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.engine import Engine

from reconfigurator.db.array_params import (
    array_literal,
    array_param,
    bool_array_literal,
    text_array_literal,
)

AWKWARD_TEXT = [
    "",
    "NULL",
    "null",
    "plain",
    "  leading and trailing  ",
    "comma, and {braces}",
    'double "quotes"',
    "back\\slash and \\\\ two",
    "trailing backslash\\",
    "it's; DROP TABLE external_ip; --",
    "tab\tnewline\nend",
    "ünïcödé ☃",
]


def test_text_survives_the_round_trip(engine: Engine) -> None:
    with engine.connect() as conn:
        got = conn.execute(
            select(array_param("p", String())), {"p": text_array_literal(AWKWARD_TEXT)}
        ).scalar_one()
    assert got == AWKWARD_TEXT


@pytest.mark.parametrize("count", [0, 1, 5000])
def test_ids_numbers_addresses_and_flags_survive_the_round_trip(engine: Engine, count: int) -> None:
    ids = [uuid.UUID(int=i * 7919 + 1) for i in range(count)]
    numbers = [(1 << 47) + i for i in range(count)]
    addresses = [
        ip_address(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}") for i in range(count)
    ]
    flags = [i % 3 == 0 for i in range(count)]
    with engine.connect() as conn:
        row = conn.execute(
            select(
                array_param("ids", Uuid()).label("ids"),
                array_param("numbers", BigInteger()).label("numbers"),
                array_param("addresses", INET()).label("addresses"),
                array_param("flags", Boolean()).label("flags"),
            ),
            {
                "ids": array_literal(ids),
                "numbers": array_literal(numbers),
                "addresses": array_literal(addresses),
                "flags": bool_array_literal(flags),
            },
        ).one()
    assert list(row.ids) == ids
    assert list(row.numbers) == numbers
    assert [ip_address(a) for a in row.addresses] == addresses
    assert list(row.flags) == flags
