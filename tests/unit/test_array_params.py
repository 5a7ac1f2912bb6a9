"""Array literals: built in one pass, and never with a NULL hidden as text."""

from __future__ import annotations

import uuid

import pytest

from reconfigurator.db.array_params import array_literal, bool_array_literal, text_array_literal


def test_literals() -> None:
    ids = [uuid.UUID(int=1), uuid.UUID(int=2)]
    assert array_literal(ids) == "{" + f"{ids[0]},{ids[1]}" + "}"
    assert array_literal([]) == "{}"
    assert text_array_literal(['a "b"', "c\\d", ""]) == '{"a \\"b\\"","c\\\\d",""}'
    assert bool_array_literal([True, False]) == "{true,false}"


@pytest.mark.parametrize("build", [array_literal, text_array_literal])
def test_none_is_refused(build: object) -> None:
    with pytest.raises(ValueError, match="None"):
        build(["a", None])  # type: ignore[operator]
