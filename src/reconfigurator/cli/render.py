"""Output helpers every command shares: data is printed literally (never read as markup),
JSON with two-space indents, and tables at their natural width so ids are never cut."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

JsonOption = Annotated[bool, typer.Option("--json", help="Print the data as JSON.")]
BlueprintOption = Annotated[
    str | None,
    typer.Option(
        "--blueprint", help="Blueprint id or unique prefix (default: the current target)."
    ),
]

#: Wider than any table this CLI prints; tables are laid out at their natural width.
_UNBOUNDED_WIDTH = 100_000

#: Free text (comments) longer than this is cut in tables; ``show`` and ``export`` print it whole.
CELL_TEXT_CHARS = 60


def command_group(help_text: str, **settings: Any) -> typer.Typer:
    """A ``recon`` command or group of commands: help rendered as Markdown, so the paragraphs
    of a docstring rewrap to the terminal, and a group without a command shows its help."""
    return typer.Typer(
        help=help_text, rich_markup_mode="markdown", no_args_is_help=True, **settings
    )


def print_data(out: Console, text: str) -> None:
    """Print ``text`` exactly as given (no markup, emoji or wrapping)."""
    out.print(text, markup=False, emoji=False, highlight=False, end="")


def print_line(out: Console, text: str) -> None:
    """Print one line of data on standard output."""
    print_data(out, text + "\n")


def print_json(out: Console, data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    print_data(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_table(out: Console, table: Table) -> None:
    """Print a Rich table at its natural width, so that ids are never cut or folded."""
    width = Measurement.get(out, out.options.update_width(_UNBOUNDED_WIDTH), table).maximum
    # ``Console.print(width=...)`` can only narrow, so lay the table out first.
    segments = list(out.render(table, out.options.update_width(max(width, 1))))
    out.print(Segments(segments), crop=False)


def print_columns(out: Console, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Plain aligned columns (for long lists that should stay greppable)."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print_line(
            out,
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
        )


def add_row(table: Table, *values: str) -> None:
    """Add a row of plain text (data is never read as markup)."""
    table.add_row(*(Text(value) for value in values))


def brief_text(value: str) -> str:
    """``value`` on one line, cut to :data:`CELL_TEXT_CHARS` characters."""
    flat = " ".join(value.split())
    if len(flat) <= CELL_TEXT_CHARS:
        return flat
    return flat[: CELL_TEXT_CHARS - 1] + "…"
