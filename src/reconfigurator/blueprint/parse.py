"""Reading blueprint documents: JSON in, a validated :class:`Blueprint` or a typed error out.

A document that does not match the format raises :class:`BlueprintInvalid` naming the JSON
path of the first problem (``sleds[0].zones[1].zone_type.nic.mac``); one that breaks a lint
rule raises :class:`BlueprintLintFailed` naming the zones.

Validation leaves the interpreter as it found it: the garbage collector in particular is
neither paused nor tuned here, since its switch is global to the process and belongs to the
program that imports this library. A large blueprint allocates a few hundred thousand objects
and the collector runs a few times while they are made. The validation work itself is kept
small by the model (each distinct address is parsed once, and the address families are tried
in a fixed order: see :mod:`reconfigurator.blueprint.model`). A program that parses very large
documents on a latency-sensitive path may pause the collector around its own call, knowing
what else runs in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import DISPOSITION_TAGS, ZONE_KIND_TAGS, Blueprint
from reconfigurator.errors import BlueprintInvalid, BlueprintLintFailed

#: How the document root is named in error messages.
ROOT_PATH = "$"

#: Fields whose value is a tagged union: pydantic puts the tag into error locations after them.
_TAGGED_FIELDS = {"zone_type": ZONE_KIND_TAGS, "disposition": DISPOSITION_TAGS}

_IP_ERRORS = frozenset({"ip_v4_address", "ip_v6_address"})
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
#: The tag field of every tagged union of the format.
_DISCRIMINATOR = "kind"

_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field (not part of the blueprint format)",
}


def parse_blueprint(data: str | bytes) -> Blueprint:
    """Parse and validate a blueprint JSON document.

    Raises :class:`BlueprintInvalid` (with the JSON path of the first problem) for anything
    that is not a valid blueprint document, including input that is not JSON at all.
    """
    try:
        return Blueprint.model_validate_json(data)
    except ValidationError as exc:
        raise invalid_from_validation_error(exc) from exc


def blueprint_from_document(document: Any) -> Blueprint:
    """Validate a blueprint document already decoded from JSON (as stored in the database).

    Raises ``pydantic.ValidationError`` if it does not match the format.
    """
    return Blueprint.model_validate(document)


def check_lint(blueprint: Blueprint) -> None:
    """Raise :class:`BlueprintLintFailed` (naming the zones) if lint finds any problem."""
    findings = lint(blueprint)
    if findings:
        raise BlueprintLintFailed(blueprint.id, [finding.message for finding in findings])


def json_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a JSON path, without union tags.

    ``('sleds', 0, 'zones', 1, 'zone_type', 'nexus', 'nic', 'mac')`` →
    ``sleds[0].zones[1].zone_type.nic.mac``; the empty location is the root, ``$``.
    """
    path = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_union_tag(previous, part):
            pass
        else:
            path += f".{part}" if path else part
        previous = part
    return path or ROOT_PATH


def _is_union_tag(previous: int | str | None, part: str) -> bool:
    if isinstance(previous, str) and part in _TAGGED_FIELDS.get(previous, frozenset()):
        return True
    # Members of a plain union (e.g. IPv4Address | IPv6Address) are named by their validator.
    return "[" in part or "(" in part


def invalid_from_validation_error(exc: ValidationError) -> BlueprintInvalid:
    """The first problem of ``exc`` as :class:`BlueprintInvalid`; ``more`` counts the rest."""
    by_path: dict[str, list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False):
        by_path.setdefault(json_path(error["loc"]), []).append(error)
    if not by_path:  # pragma: no cover - pydantic always reports at least one error
        return BlueprintInvalid(ROOT_PATH, "not a valid blueprint")
    path, errors = next(iter(by_path.items()))
    if errors[0]["type"] in _TAG_ERRORS:
        # The tag itself is wrong or missing: point at it, not at the whole object.
        path = f"{path}.{_DISCRIMINATOR}" if path != ROOT_PATH else _DISCRIMINATOR
    return BlueprintInvalid(path, _message(errors), more=len(by_path) - 1)


def _message(errors: list[ErrorDetails]) -> str:
    kinds = {error["type"] for error in errors}
    if kinds <= _IP_ERRORS:
        return "not a valid IPv4 or IPv6 address" if len(kinds) > 1 else _one(errors[0])
    messages: list[str] = []
    for error in errors:
        text = _one(error)
        if text not in messages:
            messages.append(text)
    return "; ".join(messages)


def _one(error: ErrorDetails) -> str:
    if error["type"] == "json_invalid":
        return f"not valid JSON: {error.get('ctx', {}).get('error', error['msg'])}"
    message = _MESSAGES.get(error["type"], error["msg"])
    message = message.removeprefix("Value error, ")
    return " ".join(message.split())
