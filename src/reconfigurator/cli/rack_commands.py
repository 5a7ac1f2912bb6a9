"""``recon sled``, ``recon disk`` and ``recon pool``: the planning input operators edit."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from sqlalchemy.engine import Connection

from reconfigurator.cli.context import app_context
from reconfigurator.cli.render import (
    JsonOption,
    command_group,
    print_columns,
    print_json,
    print_line,
)
from reconfigurator.db import rack, service_pools
from reconfigurator.db.retry import run_transaction
from reconfigurator.errors import InputError

sled_app = command_group("Sleds of the rack (planning input).")
disk_app = command_group("Physical disks and their pools (planning input).")
pool_app = command_group("The service IP pool and its ranges.")


def _parse_uuid(text: str | None, what: str) -> UUID | None:
    if text is None:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InputError(f"{what} is not a UUID: {text!r}") from None


# --- recon sled ----------------------------------------------------------------------------------


@sled_app.command("add")
def sled_add(
    ctx: typer.Context,
    disks: Annotated[
        int, typer.Option("--disks", min=0, max=64, help="How many disks the sled has.")
    ] = rack.DEFAULT_DISKS_PER_SLED,
    sled_id: Annotated[
        str | None, typer.Option("--id", help="The sled's id (default: a new one).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add an in-service sled with new disks; prints its id."""
    app_ctx = app_context(ctx)
    wanted = _parse_uuid(sled_id, "--id")
    sled = run_transaction(
        app_ctx.migrated_engine(), lambda conn: rack.add_sled(conn, wanted, disks)
    )
    if json_output:
        print_json(app_ctx.out, sled.to_json())
    else:
        print_line(app_ctx.out, str(sled.id))


@sled_app.command("expunge")
def sled_expunge(
    ctx: typer.Context,
    sled_ref: Annotated[str, typer.Argument(metavar="ID", help="A sled id or unique prefix.")],
) -> None:
    """Set a sled's policy to expunged (the next plan expunges its disks and zones)."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> tuple[UUID, bool]:
        sled_id = rack.resolve_sled_id(conn, sled_ref)
        return sled_id, rack.expunge_sled(conn, sled_id)

    sled_id, changed = run_transaction(app_ctx.migrated_engine(), body)
    print_line(
        app_ctx.out,
        f"expunged sled {sled_id}" if changed else f"sled {sled_id} was already expunged",
    )


@sled_app.command("list")
def sled_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List sleds with their policy, state and disks."""
    app_ctx = app_context(ctx)
    sleds = run_transaction(app_ctx.migrated_engine(), rack.list_sleds)
    if json_output:
        print_json(app_ctx.out, [sled.to_json() for sled in sleds])
        return
    if not sleds:
        print_line(app_ctx.out, "no sleds; add one with `recon sled add`")
        return
    print_columns(
        app_ctx.out,
        ("ID", "POLICY", "STATE", "DISKS IN SERVICE"),
        [(str(s.id), s.policy, s.state, f"{s.disks_in_service}/{len(s.disks)}") for s in sleds],
    )


# --- recon disk ----------------------------------------------------------------------------------


@disk_app.command("add")
def disk_add(
    ctx: typer.Context,
    sled_ref: Annotated[str, typer.Argument(metavar="SLED_ID", help="A sled id or unique prefix.")],
    disk_id: Annotated[
        str | None, typer.Option("--id", help="The disk's id (default: a new one).")
    ] = None,
    pool_id: Annotated[
        str | None, typer.Option("--pool-id", help="Its pool's id (default: a new one).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add an in-service disk to an in-service sled; prints the disk's id."""
    app_ctx = app_context(ctx)
    wanted_disk = _parse_uuid(disk_id, "--id")
    wanted_pool = _parse_uuid(pool_id, "--pool-id")

    def body(conn: Connection) -> rack.DiskRecord:
        sled_id = rack.resolve_sled_id(conn, sled_ref)
        return rack.add_disk(conn, sled_id, wanted_disk, wanted_pool)

    disk = run_transaction(app_ctx.migrated_engine(), body)
    if json_output:
        print_json(app_ctx.out, disk.to_json())
    else:
        print_line(app_ctx.out, str(disk.id))


@disk_app.command("expunge")
def disk_expunge(
    ctx: typer.Context,
    disk_ref: Annotated[
        str,
        typer.Argument(metavar="ID", help="A disk id or pool id, or a unique prefix of one."),
    ],
) -> None:
    """Set a disk's policy to expunged (the next plan expunges the zones on its pool)."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> tuple[rack.DiskRecord, bool]:
        return rack.expunge_disk(conn, rack.resolve_disk_id(conn, disk_ref))

    disk, changed = run_transaction(app_ctx.migrated_engine(), body)
    what = f"disk {disk.id} (pool {disk.pool_id}, sled {disk.sled_id})"
    print_line(app_ctx.out, f"expunged {what}" if changed else f"{what} was already expunged")


@disk_app.command("list")
def disk_list(
    ctx: typer.Context,
    sled_ref: Annotated[
        str | None, typer.Option("--sled", help="Only this sled's disks (id or prefix).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List disks with their sled, pool, policy and state."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> list[rack.DiskRecord]:
        sled_id = rack.resolve_sled_id(conn, sled_ref) if sled_ref is not None else None
        return rack.list_disks(conn, sled_id=sled_id)

    disks = run_transaction(app_ctx.migrated_engine(), body)
    if json_output:
        print_json(app_ctx.out, [disk.to_json() for disk in disks])
        return
    if not disks:
        print_line(app_ctx.out, "no disks")
        return
    print_columns(
        app_ctx.out,
        ("ID", "SLED", "POOL", "POLICY", "STATE"),
        [(str(d.id), str(d.sled_id), str(d.pool_id), d.policy, d.state) for d in disks],
    )


# --- recon pool ----------------------------------------------------------------------------------


@pool_app.command("add-range")
def pool_add_range(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(metavar="FIRST", help="First address (inclusive).")],
    last: Annotated[str, typer.Argument(metavar="LAST", help="Last address (inclusive).")],
    json_output: JsonOption = False,
) -> None:
    """Add the range FIRST-LAST to the service IP pool of its IP version.

    The pool is created on first use (IPv4: oxide-service-pool, IPv6: oxide-service-pool-v6).
    The range may not overlap any live range.
    """
    app_ctx = app_context(ctx)
    added = run_transaction(
        app_ctx.migrated_engine(), lambda conn: service_pools.add_pool_range(conn, first, last)
    )
    if json_output:
        print_json(app_ctx.out, added.to_json())
    else:
        plural = "es" if added.size != 1 else ""
        print_line(
            app_ctx.out,
            f"added range {added.id}: {added.first} - {added.last} ({added.size} address{plural})"
            f" to pool {added.ip_pool_id}",
        )


@pool_app.command("show")
def pool_show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the service IP pools (one per IP version) and their ranges."""
    app_ctx = app_context(ctx)

    def body(
        conn: Connection,
    ) -> tuple[list[service_pools.PoolRecord], list[service_pools.PoolRangeRecord]]:
        return service_pools.list_service_pools(conn), service_pools.list_pool_ranges(conn)

    pools, ranges = run_transaction(app_ctx.migrated_engine(), body)
    total = sum(r.size for r in ranges)
    if json_output:
        print_json(
            app_ctx.out,
            {
                "pools": [
                    {
                        **pool.to_json(),
                        "ranges": [r.to_json() for r in ranges if r.ip_pool_id == pool.id],
                    }
                    for pool in pools
                ],
                "total_addresses": total,
            },
        )
        return
    if not pools:
        print_line(
            app_ctx.out,
            "no service IP pool yet; the first `recon pool add-range FIRST LAST` creates one",
        )
        return
    for pool in pools:
        print_line(
            app_ctx.out,
            f"pool {pool.name} ({pool.id}), {pool.ip_version.value}, assignment {pool.assignment}",
        )
    print_columns(
        app_ctx.out,
        ("RANGE", "POOL", "FIRST", "LAST", "ADDRESSES"),
        [(str(r.id), str(r.ip_pool_id), str(r.first), str(r.last), str(r.size)) for r in ranges],
    )
    print_line(
        app_ctx.out, f"{len(ranges)} range{'s' if len(ranges) != 1 else ''}, {total} addresses"
    )
