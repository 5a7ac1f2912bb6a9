#!/usr/bin/env python3
"""Cut the ``Blueprint`` schema out of omicron's internal API document for the tests.

    git -C OMICRON show COMMIT:openapi/nexus-lockstep.json > nexus-lockstep.json
    python scripts/extract_omicron_schema.py nexus-lockstep.json --commit COMMIT \\
        > tests/fixtures/omicron_blueprint_schema.json

Keeps ``Blueprint`` and every schema it refers to, directly or not, with only what a
validator needs (types, properties, required keys, tags, patterns, formats, bounds): prose
(``description``, ``title``, ``example``) and Rust type annotations are left out. The
commit and the source path are recorded in the output, so the tests can say which version
of upstream's format their fixture follows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SOURCE_PATH = "openapi/nexus-lockstep.json"
ROOT_SCHEMA = "Blueprint"
_REF_PREFIX = "#/components/schemas/"
#: Keys that carry prose or Rust-side annotations, not rules.
_DROPPED_KEYS = frozenset({"description", "title", "example", "x-rust-type"})


def _refs(node: Any) -> list[str]:
    """Names of the component schemas ``node`` refers to."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value.removeprefix(_REF_PREFIX))
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def _rules_only(node: Any, *, in_properties: bool = False) -> Any:
    """``node`` without prose keys; property names are kept whatever they are called."""
    if isinstance(node, dict):
        return {
            key: _rules_only(value, in_properties=key == "properties" and not in_properties)
            for key, value in node.items()
            if in_properties or key not in _DROPPED_KEYS
        }
    if isinstance(node, list):
        return [_rules_only(value) for value in node]
    return node


def extract(document: dict[str, Any], commit: str) -> dict[str, Any]:
    """The reduced schema set: ``Blueprint`` and its closure under ``$ref``."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    wanted = [ROOT_SCHEMA]
    kept: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in kept:
            continue
        kept[name] = _rules_only(schemas[name])
        wanted.extend(_refs(schemas[name]))
    return {
        "source": {"repository": "oxidecomputer/omicron", "commit": commit, "path": SOURCE_PATH},
        "root": ROOT_SCHEMA,
        "schemas": dict(sorted(kept.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("document", type=Path, help=f"a copy of upstream's {SOURCE_PATH}")
    parser.add_argument("--commit", required=True, help="the omicron commit it was taken from")
    args = parser.parse_args()
    document = json.loads(args.document.read_text())
    json.dump(extract(document, args.commit), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
