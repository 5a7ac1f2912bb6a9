"""``recon plan``: one planning pass from the planning input in the database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from reconfigurator.blueprint.diff import diff_blueprints
from reconfigurator.cli.blueprint_commands import render_diff
from reconfigurator.cli.context import app_context
from reconfigurator.cli.render import JsonOption, print_json, print_line
from reconfigurator.planner import NicIpStack
from reconfigurator.replan import plan_once


def plan(
    ctx: typer.Context,
    set_target: Annotated[
        bool, typer.Option("--set-target", help="Make the new blueprint the target.")
    ] = False,
    nic_ip_stack: Annotated[
        NicIpStack | None,
        typer.Option(
            "--nic-ip-stack",
            help="Addresses of new zones' service NICs: one of the external IP's family"
            " (follow-external-ip), or IPv4 and IPv6 (dual-stack). Default: what the"
            " rack's in-service NICs already have.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Plan a child of the current target and print its diff against the parent.

    When nothing changed there is no child and nothing is stored. Otherwise the child is
    stored, and with --set-target it also becomes the target.
    """
    app_ctx = app_context(ctx)
    outcome = plan_once(
        app_ctx.migrated_engine(), set_as_target=set_target, nic_ip_stack=nic_ip_stack
    )
    out = app_ctx.out
    child, parent = outcome.blueprint, outcome.parent
    diff = diff_blueprints(parent, child) if (child is not None and parent is not None) else None
    if json_output:
        data: dict[str, Any] = {
            "blueprint_id": str(child.id) if child else None,
            "parent_blueprint_id": str(parent.id) if parent else None,
            "changed": outcome.changed,
            "set_target": set_target and outcome.changed,
            "changes": list(outcome.changes),
            "notes": list(outcome.notes),
            "diff": diff.to_json() if diff is not None else None,
        }
        print_json(out, data)
        return
    if child is None:
        print_line(out, "nothing to change: no new blueprint")
    else:
        print_line(out, f"new blueprint: {child.id}")
        for change in outcome.changes:
            print_line(out, f"  {change}")
        if diff is not None:
            render_diff(out, diff)
        if set_target:
            print_line(out, f"the target is now {child.id}")
    for note in outcome.notes:
        print_line(out, f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add ``recon plan`` to the application."""
    app.command("plan")(plan)
