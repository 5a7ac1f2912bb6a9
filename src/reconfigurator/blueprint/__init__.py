"""Blueprints: the pydantic model of the JSON format, lint, diff, and the conversion from
upstream's blueprint JSON. Pure: no database."""

from reconfigurator.blueprint.model import (
    Blueprint,
    BlueprintDisk,
    BlueprintSled,
    BlueprintZone,
    Disposition,
    ExpungedDisposition,
    ExternalIp,
    InServiceDisposition,
    ServiceNic,
    SnatExternalIp,
    ZoneKind,
)
from reconfigurator.blueprint.omicron import from_omicron, parse_omicron_blueprint

__all__ = [
    "Blueprint",
    "BlueprintDisk",
    "BlueprintSled",
    "BlueprintZone",
    "Disposition",
    "ExpungedDisposition",
    "ExternalIp",
    "InServiceDisposition",
    "ServiceNic",
    "SnatExternalIp",
    "ZoneKind",
    "from_omicron",
    "parse_omicron_blueprint",
]
