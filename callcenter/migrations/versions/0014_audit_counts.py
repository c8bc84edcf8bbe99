"""API audit log: `count` (refusals folded into one row per client and minute) and
`note` (what a row means beyond its status: a failed change that may have been applied,
a confidential read)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_audit_log", sa.Column("count", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column(
        "api_audit_log", sa.Column("note", sa.String(200), nullable=False, server_default="")
    )


def downgrade() -> None:
    with op.batch_alter_table("api_audit_log") as batch:
        batch.drop_column("note")
        batch.drop_column("count")
