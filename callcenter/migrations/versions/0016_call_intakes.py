"""Call intakes: the agent's classification of a call (kind, unit, summary, ticket), in
versions

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_intakes",
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=True),
        sa.Column("resolved_on_call", sa.Boolean(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("seat", sa.String(64), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correction", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("node", "linkedid", "version", name=op.f("pk_call_intakes")),
    )
    op.create_index("ix_call_intakes_current", "call_intakes", ["node", "linkedid", "current"])
    op.create_index("ix_call_intakes_ticket", "call_intakes", ["ticket"])


def downgrade() -> None:
    op.drop_index("ix_call_intakes_ticket", table_name="call_intakes")
    op.drop_index("ix_call_intakes_current", table_name="call_intakes")
    op.drop_table("call_intakes")
