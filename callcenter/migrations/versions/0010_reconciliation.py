"""Reconciliation runs, and which records were rebuilt from the ledger

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("window_from", TZ, nullable=False),
        sa.Column("window_to", TZ, nullable=False),
        sa.Column("ledger_calls", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("rebuilt", sa.Integer(), nullable=False),
        sa.Column("corrected", sa.Integer(), nullable=False),
        sa.Column("unexplained", sa.Integer(), nullable=False),
        sa.Column("in_progress", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        "ix_reconciliation_runs_node_started", "reconciliation_runs", ["node", "started_at"]
    )
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="ami"))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("source")
    op.drop_table("reconciliation_runs")
