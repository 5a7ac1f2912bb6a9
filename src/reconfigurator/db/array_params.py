"""Array parameters sent as the text of one array literal.

A statement that covers any number of rows takes its ids, addresses and column values as
arrays. Handing the driver a Python list makes it adapt every element on its own (for tens of
thousands of ids that costs more than the query); an array literal such as ``{a,b,c}`` is one
string, built in one pass (and by callers that run the same statement often, once).

The parameter is sent untyped and cast in the SQL (``CAST(:ids AS UUID[])``), so the server
takes its type from the cast and parses it once, as a constant. (Typed as text, the cast would
be a conversion that the server repeats for every row a filter examines.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, bindparam, cast
from sqlalchemy.types import NullType, TypeEngine


def array_param(name: str, element: TypeEngine[Any]) -> ColumnElement[Any]:
    """``CAST(:name AS element[])``, to be bound to an array literal."""
    return cast(bindparam(name, type_=NullType()), ARRAY(element))


def _present(values: Iterable[object]) -> list[object]:
    items = list(values)
    if None in items:
        # str(None) would be stored as the text "None"; these literals hold no NULLs.
        raise ValueError("an array literal cannot hold None")
    return items


def array_literal(values: Iterable[object]) -> str:
    """The array literal of values whose text needs no quoting: ids, numbers, addresses."""
    return "{" + ",".join(map(str, _present(values))) + "}"


def _quoted(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def text_array_literal(values: Iterable[str]) -> str:
    """The array literal of arbitrary strings: every element quoted and escaped."""
    return "{" + ",".join(map(_quoted, _present(values))) + "}"


def bool_array_literal(values: Iterable[bool]) -> str:
    """The PostgreSQL array literal of booleans (``{true,false}``)."""
    return "{" + ",".join("true" if value else "false" for value in values) + "}"


def nullable_array_literal(values: Iterable[object | None]) -> str:
    """The array literal of values that need no quoting, ``None`` as SQL ``NULL``."""
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"
