"""The blueprint's JSON Schema documents itself: every object and every field says what it is."""

from __future__ import annotations

from typing import Any

from reconfigurator.blueprint.model import Blueprint


def _objects(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"Blueprint": schema, **schema["$defs"]}


def test_every_field_of_the_json_schema_has_a_description() -> None:
    undocumented = [
        f"{name}.{field}"
        for name, definition in _objects(Blueprint.model_json_schema()).items()
        for field, spec in definition.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undocumented == []


def test_every_object_of_the_json_schema_has_a_description() -> None:
    undocumented = [
        name
        for name, definition in _objects(Blueprint.model_json_schema()).items()
        if definition.get("type") == "object" and not definition.get("description")
    ]
    assert undocumented == []
