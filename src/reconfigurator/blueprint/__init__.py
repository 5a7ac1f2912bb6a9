"""Blueprints: the pydantic model of the JSON format, lint, and diff. Pure: no database."""

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
]
