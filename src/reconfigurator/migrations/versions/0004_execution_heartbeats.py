"""Executor runs keep a heartbeat, and a run found dead is marked ``interrupted``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Adds ``bp_execution.time_heartbeat`` (renewed by a running executor every few seconds),
``bp_execution.time_interrupted`` (when a run was found to have stopped without recording its
end) and the outcome ``interrupted``. The value is added with ``ADD VALUE IF NOT EXISTS``,
which PostgreSQL (12 and later) and CockroachDB accept in a transaction; nothing in this
revision uses it.

The downgrade records interrupted runs as failed, then takes the value away: CockroachDB drops
it (``DROP VALUE``); PostgreSQL cannot, so the type is rebuilt without it and the column moved
over. Every step is guarded, so both directions complete when run again after a failure
part-way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reconfigurator.db import ddl

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME_TYPE = "bp_execution_outcome"
INTERRUPTED = "interrupted"
#: The labels of revision 0003, in order.
OLD_LABELS = ("running", "completed", "failed")
#: Where PostgreSQL's downgrade builds the type without the new value.
REBUILT_TYPE = "bp_execution_outcome_0003"


def upgrade() -> None:
    ddl.add_column(
        "bp_execution", sa.Column("time_heartbeat", sa.DateTime(timezone=True), nullable=True)
    )
    ddl.add_column(
        "bp_execution", sa.Column("time_interrupted", sa.DateTime(timezone=True), nullable=True)
    )
    ddl.add_enum_value(OUTCOME_TYPE, INTERRUPTED)


def downgrade() -> None:
    # Compared as text: valid whether or not the label still exists.
    op.execute(
        "UPDATE bp_execution SET outcome = 'failed',"
        " error = coalesce(error, 'interrupted: the executor stopped during the run')"
        f" WHERE outcome::text = '{INTERRUPTED}'"
    )
    if ddl.is_cockroachdb():
        if INTERRUPTED in ddl.enum_labels(OUTCOME_TYPE):
            op.execute(f"ALTER TYPE {OUTCOME_TYPE} DROP VALUE '{INTERRUPTED}'")
    else:
        _rebuild_outcome_type()
    ddl.drop_column("bp_execution", "time_interrupted")
    ddl.drop_column("bp_execution", "time_heartbeat")


def _rebuild_outcome_type() -> None:
    """PostgreSQL: a new type with revision 0003's labels takes the old one's place."""
    if INTERRUPTED in ddl.enum_labels(OUTCOME_TYPE):
        ddl.create_enum(REBUILT_TYPE, OLD_LABELS)
        if ddl.column_type_name("bp_execution", "outcome") == OUTCOME_TYPE:
            op.execute(
                f"ALTER TABLE bp_execution ALTER COLUMN outcome TYPE {REBUILT_TYPE}"
                f" USING outcome::text::{REBUILT_TYPE}"
            )
    if ddl.column_type_name("bp_execution", "outcome") == REBUILT_TYPE:
        ddl.drop_enum(OUTCOME_TYPE)
        op.execute(f"ALTER TYPE {REBUILT_TYPE} RENAME TO {OUTCOME_TYPE}")
