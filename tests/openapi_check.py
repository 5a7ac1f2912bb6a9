"""A small validator for the OpenAPI 3.0 schema subset omicron's internal API uses.

It checks a document against ``tests/fixtures/omicron_blueprint_schema.json`` (cut from
upstream's ``openapi/nexus-lockstep.json`` by ``scripts/extract_omicron_schema.py``), so
the upstream-shaped fixtures are known to be what upstream's API would accept. It knows the
keywords that schema uses: ``$ref``, ``type``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``oneOf`` (exactly one branch), ``allOf``, ``enum``,
``pattern``, ``minimum``, ``minLength``, ``maxLength``, ``nullable``, ``uniqueItems`` and the
formats ``uuid``, ``ip``, ``ipv4``, ``ipv6``, ``date-time`` and ``uint8`` … ``uint64``.
Unknown keywords fail loudly rather than pass silently.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).parent / "fixtures" / "omicron_blueprint_schema.json"
_REF_PREFIX = "#/components/schemas/"
_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
#: Keywords with no rule in them (the extraction keeps ``default`` and ``x-rust-type`` out of
#: ``properties`` only when they are prose; these are harmless).
_IGNORED = frozenset({"default", "x-rust-type", "description", "title", "example"})
_HANDLED = frozenset(
    {
        "$ref",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "oneOf",
        "allOf",
        "enum",
        "pattern",
        "minimum",
        "minLength",
        "maxLength",
        "nullable",
        "uniqueItems",
        "format",
    }
)


class SchemaError(AssertionError):
    """The document does not match; ``path`` says where."""

    def __init__(self, path: str, message: str, *, deepest: str | None = None) -> None:
        self.path = path
        #: The deepest place a failing branch reached (for picking the closest branch).
        self.deepest = deepest or path
        super().__init__(f"{path}: {message}")

    @property
    def depth(self) -> int:
        return self.deepest.count(".") + self.deepest.count("[")


def load_schemas() -> dict[str, Any]:
    """The schema set and where it was taken from."""
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return data


def validate(document: Any, name: str = "Blueprint") -> None:
    """Raise :class:`SchemaError` if ``document`` does not match upstream schema ``name``."""
    schemas = load_schemas()["schemas"]
    _check(document, {"$ref": _REF_PREFIX + name}, schemas, "$")


def _key(path: str, key: str) -> str:
    return key if path == "$" else f"{path}.{key}"


def _check(value: Any, schema: dict[str, Any], schemas: dict[str, Any], path: str) -> None:
    unknown = set(schema) - _HANDLED - _IGNORED
    if unknown:
        raise SchemaError(path, f"the validator does not know keywords {sorted(unknown)}")
    if value is None and schema.get("nullable"):
        return
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(_REF_PREFIX)
        _check(value, schemas[name], schemas, path)
    for branch in schema.get("allOf", []):
        _check(value, branch, schemas, path)
    if "oneOf" in schema:
        _one_of(value, schema["oneOf"], schemas, path)
    if "type" in schema:
        _type(value, schema["type"], path)
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(path, f"{value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        _string(value, schema, path)
    if isinstance(value, int) and not isinstance(value, bool):
        _integer(value, schema, path)
    if isinstance(value, dict):
        _object(value, schema, schemas, path)
    if isinstance(value, list):
        _array(value, schema, schemas, path)


def _one_of(value: Any, branches: list[dict[str, Any]], schemas: dict[str, Any], path: str) -> None:
    errors: list[SchemaError] = []
    for branch in branches:
        try:
            _check(value, branch, schemas, path)
        except SchemaError as exc:
            errors.append(exc)
    matched = len(branches) - len(errors)
    if matched != 1:
        # The branch that got furthest before failing is most likely the one meant.
        closest = max(errors, key=lambda error: error.depth, default=None)
        if closest is None:
            raise SchemaError(path, f"matches {matched} of the oneOf branches, not 1")
        raise SchemaError(
            path,
            f"matches {matched} of the oneOf branches, not 1 (closest: {closest})",
            deepest=closest.deepest,
        )


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _type(value: Any, expected: str, path: str) -> None:
    kinds = _JSON_TYPES[expected]
    wrong_bool = isinstance(value, bool) and expected in {"integer", "number"}
    if value is None or not isinstance(value, kinds) or wrong_bool:
        raise SchemaError(path, f"expected {expected}, found {type(value).__name__}")


def _string(value: str, schema: dict[str, Any], path: str) -> None:
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise SchemaError(path, f"{value!r} does not match {schema['pattern']}")
    if len(value) < schema.get("minLength", 0):
        raise SchemaError(path, f"{value!r} is shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaError(path, f"{value!r} is longer than {schema['maxLength']}")
    checks = {
        "uuid": lambda: uuid.UUID(value),
        "ip": lambda: ip_address(value),
        "ipv4": lambda: IPv4Address(value),
        "ipv6": lambda: IPv6Address(value),
        "date-time": lambda: datetime.fromisoformat(value),
    }
    check = checks.get(schema.get("format", ""))
    if check is not None:
        try:
            check()
        except ValueError:
            raise SchemaError(path, f"{value!r} is not a {schema['format']}") from None


def _integer(value: int, schema: dict[str, Any], path: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise SchemaError(path, f"{value} is below {schema['minimum']}")
    bits = _UINT_BITS.get(schema.get("format", ""))
    if bits is not None and not 0 <= value < 1 << bits:
        raise SchemaError(path, f"{value} is not a {schema['format']}")


def _object(
    value: dict[str, Any], schema: dict[str, Any], schemas: dict[str, Any], path: str
) -> None:
    properties: dict[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            raise SchemaError(_key(path, key), "required field is missing")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], schemas, _key(path, key))
        elif isinstance(extra, dict):
            _check(item, extra, schemas, _key(path, key))
        elif extra is False:
            raise SchemaError(_key(path, key), "unknown field")


def _array(value: list[Any], schema: dict[str, Any], schemas: dict[str, Any], path: str) -> None:
    items = schema.get("items")
    if items is not None:
        for index, item in enumerate(value):
            _check(item, items, schemas, f"{path}[{index}]")
    if schema.get("uniqueItems"):
        encoded = [json.dumps(item, sort_keys=True) for item in value]
        if len(set(encoded)) != len(encoded):
            raise SchemaError(path, "items are not unique")
