"""Where a call came from: `call_source` (direct | 110, a hand-over from the 110
platform) and 110's reference for it

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(
            sa.Column("call_source", sa.String(8), nullable=False, server_default="direct")
        )
        batch.add_column(
            sa.Column("call_source_ref", sa.String(64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("call_source_ref")
        batch.drop_column("call_source")
