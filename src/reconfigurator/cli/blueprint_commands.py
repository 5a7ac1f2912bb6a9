"""``recon blueprint``: import, inspect, compare, lint and delete stored blueprints."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Connection

from reconfigurator.blueprint.diff import BlueprintDiff, FieldChange, diff_blueprints
from reconfigurator.blueprint.lint import lint as lint_blueprint
from reconfigurator.blueprint.lint import lint_against_parent
from reconfigurator.blueprint.model import Blueprint, BlueprintZone, SnatExternalIp
from reconfigurator.blueprint.omicron import parse_omicron_blueprint
from reconfigurator.blueprint.parse import check_lint, parse_blueprint
from reconfigurator.cli.context import AppContext, app_context
from reconfigurator.cli.render import (
    JsonOption,
    add_row,
    brief_text,
    command_group,
    print_data,
    print_json,
    print_table,
)
from reconfigurator.db import blueprint_store
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.targets import current_target
from reconfigurator.errors import BlueprintLintFailed, InputError

app = command_group("Stored blueprints: import, show, export, diff, lint.")

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="A blueprint id or unique prefix.")]


def read_document(file: str) -> bytes:
    """The bytes of ``file`` (``-`` is standard input); a missing file is an input error."""
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from exc


def load_blueprint(app_ctx: AppContext, reference: str) -> Blueprint:
    """A stored blueprint by id or unique id prefix."""

    def body(conn: Connection) -> Blueprint:
        blueprint_id = blueprint_store.resolve_blueprint_id(conn, reference)
        return blueprint_store.get_blueprint(conn, blueprint_id)

    return run_transaction(app_ctx.migrated_engine(), body)


def _external_ip_text(zone: BlueprintZone) -> str:
    external = zone.external_ip
    if external is None:
        return ""
    if isinstance(external, SnatExternalIp):
        return f"{external.ip} ({external.first_port}-{external.last_port})"
    return str(external.ip)


def _disposition_text(zone: BlueprintZone) -> str:
    disposition = zone.disposition
    if disposition.kind == "expunged":
        cleanup = ", ready for cleanup" if disposition.ready_for_cleanup else ""
        return f"expunged (gen {disposition.as_of_generation}{cleanup})"
    return "in service"


# --- commands --------------------------------------------------------------------------------


class DocumentFormat(enum.StrEnum):
    """Formats ``recon blueprint import`` reads."""

    #: This project's blueprint JSON.
    RECON = "recon"
    #: Upstream's: the ``Blueprint`` of omicron's internal API, converted on import.
    OMICRON = "omicron"


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="Blueprint JSON ('-': stdin).")],
    document_format: Annotated[
        DocumentFormat,
        typer.Option(
            "--format",
            help="recon: this project's blueprint JSON. omicron: upstream's blueprint JSON"
            " (omicron's internal API Blueprint), converted first; see the README for the"
            " version it follows and what it keeps.",
            case_sensitive=False,
        ),
    ] = DocumentFormat.RECON,
) -> None:
    """Validate, lint and store a blueprint; print its id."""
    app_ctx = app_context(ctx)
    document = read_document(file)
    if document_format is DocumentFormat.OMICRON:
        blueprint = parse_omicron_blueprint(document)
    else:
        blueprint = parse_blueprint(document)
    check_lint(blueprint)

    def body(conn: Connection) -> bool:
        parent = _stored_parent(conn, blueprint)
        if parent is not None:
            findings = lint_against_parent(blueprint, parent)
            if findings:
                raise BlueprintLintFailed(blueprint.id, [f.message for f in findings])
        return blueprint_store.insert_blueprint(conn, blueprint)

    inserted = run_transaction(app_ctx.migrated_engine(), body)
    if not inserted:
        typer.echo(f"blueprint {blueprint.id} was already stored with the same content", err=True)
    print_data(app_ctx.out, f"{blueprint.id}\n")


@app.command()
def show(ctx: typer.Context, blueprint_ref: IdArgument, json_output: JsonOption = False) -> None:
    """Summarize a blueprint: metadata and, per sled, its zones."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> tuple[Blueprint, bool]:
        blueprint_id = blueprint_store.resolve_blueprint_id(conn, blueprint_ref)
        target = current_target(conn)
        return (
            blueprint_store.get_blueprint(conn, blueprint_id),
            target is not None and target.blueprint_id == blueprint_id,
        )

    blueprint, is_target = run_transaction(app_ctx.migrated_engine(), body)
    if json_output:
        print_json(app_ctx.out, _summary_json(blueprint, is_target))
        return
    out = app_ctx.out
    target_note = " (current target)" if is_target else ""
    lines = [
        f"blueprint:  {blueprint.id}{target_note}",
        f"parent:     {blueprint.parent_blueprint_id or '(none)'}",
        f"created:    {blueprint.time_created.isoformat()}",
        f"creator:    {blueprint.creator}",
        f"comment:    {blueprint.comment}",
    ]
    print_data(out, "\n".join(lines) + "\n")
    for sled in blueprint.sleds:
        in_service_disks = sum(1 for disk in sled.disks if disk.is_in_service)
        print_data(
            out,
            f"\nsled {sled.id}: {sled.state.value}, {len(sled.disks)} disks"
            f" ({in_service_disks} in service), {len(sled.zones)} zones\n",
        )
        if not sled.zones:
            continue
        table = Table(box=None, pad_edge=False)
        for header in ("zone", "kind", "disposition", "external IP", "NIC IP"):
            table.add_column(header, no_wrap=True)
        for zone in sled.zones:
            nic = zone.nic
            add_row(
                table,
                str(zone.id),
                zone.kind.value,
                _disposition_text(zone),
                _external_ip_text(zone),
                str(nic.ip) if nic is not None else "",
            )
        print_table(out, table)


def _summary_json(blueprint: Blueprint, is_target: bool) -> dict[str, Any]:
    sleds: list[dict[str, Any]] = []
    for sled in blueprint.sleds:
        zones: list[dict[str, Any]] = []
        for zone in sled.zones:
            external = zone.external_ip
            nic = zone.nic
            zones.append(
                {
                    "id": str(zone.id),
                    "kind": zone.kind.value,
                    "disposition": zone.disposition.kind,
                    "filesystem_pool": str(zone.filesystem_pool),
                    "external_ip": str(external.ip) if external is not None else None,
                    "nic_ip": str(nic.ip) if nic is not None else None,
                }
            )
        sleds.append(
            {
                "id": str(sled.id),
                "state": sled.state.value,
                "disks": len(sled.disks),
                "zones": zones,
            }
        )
    document = blueprint.to_document()
    return {
        "id": document["id"],
        "parent_blueprint_id": document["parent_blueprint_id"],
        "time_created": document["time_created"],
        "creator": blueprint.creator,
        "comment": blueprint.comment,
        "is_target": is_target,
        "sleds": sleds,
    }


@app.command()
def export(ctx: typer.Context, blueprint_ref: IdArgument) -> None:
    """Print a stored blueprint as canonical JSON."""
    app_ctx = app_context(ctx)
    print_data(app_ctx.out, load_blueprint(app_ctx, blueprint_ref).to_json())


@app.command("list")
def list_(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List stored blueprints, newest first; the current target is marked."""
    app_ctx = app_context(ctx)
    summaries = run_transaction(app_ctx.migrated_engine(), blueprint_store.list_blueprints)
    if json_output:
        print_json(
            app_ctx.out,
            [
                {
                    "id": str(s.id),
                    "parent_blueprint_id": (
                        str(s.parent_blueprint_id) if s.parent_blueprint_id else None
                    ),
                    "time_created": s.time_created.isoformat(),
                    "creator": s.creator,
                    "comment": s.comment,
                    "is_target": s.is_target,
                }
                for s in summaries
            ],
        )
        return
    if not summaries:
        print_data(app_ctx.out, "no blueprints\n")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("target", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("parent", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("creator")
    table.add_column("comment")
    for s in summaries:
        add_row(
            table,
            "*" if s.is_target else "",
            str(s.id),
            str(s.parent_blueprint_id) if s.parent_blueprint_id else "(none)",
            s.time_created.isoformat(timespec="seconds"),
            s.creator,
            brief_text(s.comment),
        )
    print_table(app_ctx.out, table)


@app.command()
def diff(
    ctx: typer.Context,
    before: Annotated[str, typer.Argument(metavar="A", help="The older blueprint (id/prefix).")],
    after: Annotated[str, typer.Argument(metavar="B", help="The newer blueprint (id/prefix).")],
    json_output: JsonOption = False,
) -> None:
    """Show what changed from blueprint A to blueprint B."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> tuple[Blueprint, Blueprint]:
        a = blueprint_store.resolve_blueprint_id(conn, before)
        b = blueprint_store.resolve_blueprint_id(conn, after)
        return blueprint_store.get_blueprint(conn, a), blueprint_store.get_blueprint(conn, b)

    a, b = run_transaction(app_ctx.migrated_engine(), body)
    result = diff_blueprints(a, b)
    if json_output:
        print_json(app_ctx.out, result.to_json())
        return
    render_diff(app_ctx.out, result)


def render_diff(out: Console, result: BlueprintDiff) -> None:
    """The diff as a table (also used by ``recon plan``)."""
    print_data(out, f"from {result.before_id}\n  to {result.after_id}\n")
    if result.is_empty:
        print_data(out, "no changes to sleds, disks or zones\n")
    if not result.is_empty or result.metadata:
        print_table(out, _diff_table(result))


def _value(value: Any) -> str:
    return "(none)" if value is None else brief_text(str(value))


def _change_rows(changes: tuple[FieldChange, ...]) -> str:
    return "\n".join(f"{c.path}: {_value(c.old)} -> {_value(c.new)}" for c in changes)


def _diff_table(result: BlueprintDiff) -> Table:
    table = Table(box=None, pad_edge=False, show_lines=False)
    table.add_column("what", no_wrap=True)
    table.add_column("change", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("sled", no_wrap=True)
    table.add_column("details")
    for change in result.metadata:
        add_row(table, "blueprint", "changed", "", "", _change_rows((change,)))
    for sled_id in result.sleds_added:
        add_row(table, "sled", "added", str(sled_id), "", "")
    for sled_id in result.sleds_removed:
        add_row(table, "sled", "removed", str(sled_id), "", "")
    for sled in result.sleds_changed:
        add_row(
            table,
            "sled",
            "changed",
            str(sled.sled_id),
            "",
            f"state: {sled.old_state} -> {sled.new_state}",
        )
    for label, disks in (
        ("added", result.disks_added),
        ("removed", result.disks_removed),
        ("expunged", result.disks_expunged),
        ("changed", result.disks_changed),
    ):
        for disk in disks:
            details = f"pool {disk.pool_id}"
            if disk.changes:
                details += "\n" + _change_rows(disk.changes)
            add_row(table, "disk", label, str(disk.disk_id), str(disk.sled_id), details)
    for label, zones in (
        ("added", result.zones_added),
        ("removed", result.zones_removed),
        ("expunged", result.zones_expunged),
        ("changed", result.zones_changed),
    ):
        for zone in zones:
            details = zone.kind
            if zone.changes:
                details += "\n" + _change_rows(zone.changes)
            add_row(table, "zone", label, str(zone.zone_id), str(zone.sled_id), details)
    return table


@app.command()
def lint(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FILE|ID", help="A blueprint JSON file or a stored id.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Check a blueprint against the lint rules; exit 1 if it breaks any."""
    app_ctx = app_context(ctx)
    parent: Blueprint | None = None
    if source == "-" or Path(source).is_file():
        blueprint = parse_blueprint(read_document(source))
    else:
        try:
            blueprint, parent = run_transaction(
                app_ctx.migrated_engine(), lambda conn: _with_stored_parent(conn, source)
            )
        except InputError as exc:
            if Path(source).exists():
                raise InputError(f"{source} is not a file") from exc
            raise InputError(f"{source} is neither a file nor a stored blueprint: {exc}") from exc
    findings = lint_blueprint(blueprint, parent)
    if json_output:
        print_json(
            app_ctx.out,
            {
                "blueprint_id": str(blueprint.id),
                "ok": not findings,
                "findings": [finding.to_json() for finding in findings],
            },
        )
    elif findings:
        count = len(findings)
        lines = [f"blueprint {blueprint.id}: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  {finding.code.value}: {finding.message}" for finding in findings]
        print_data(app_ctx.out, "\n".join(lines) + "\n")
    else:
        print_data(app_ctx.out, f"blueprint {blueprint.id}: no problems\n")
    if findings:
        raise typer.Exit(1)


def _stored_parent(conn: Connection, blueprint: Blueprint) -> Blueprint | None:
    """The blueprint's parent when it is stored."""
    parent_id = blueprint.parent_blueprint_id
    if parent_id is None or not blueprint_store.blueprint_exists(conn, parent_id):
        return None
    return blueprint_store.get_blueprint(conn, parent_id)


def _with_stored_parent(conn: Connection, reference: str) -> tuple[Blueprint, Blueprint | None]:
    blueprint_id = blueprint_store.resolve_blueprint_id(conn, reference)
    blueprint = blueprint_store.get_blueprint(conn, blueprint_id)
    return blueprint, _stored_parent(conn, blueprint)


@app.command()
def schema(ctx: typer.Context) -> None:
    """Print the JSON Schema of the blueprint format."""
    print_json(app_context(ctx).out, Blueprint.model_json_schema())


@app.command()
def delete(ctx: typer.Context, blueprint_ref: IdArgument) -> None:
    """Delete a stored blueprint (not the current target, nor one in the target history)."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> UUID:
        blueprint_id = blueprint_store.resolve_blueprint_id(conn, blueprint_ref)
        blueprint_store.delete_blueprint(conn, blueprint_id)
        return blueprint_id

    deleted = run_transaction(app_ctx.migrated_engine(), body)
    print_data(app_ctx.out, f"deleted blueprint {deleted}\n")
