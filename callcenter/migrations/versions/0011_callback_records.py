"""Callback records: direction, kind and the original call of a callback

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(8), nullable=False, server_default="inbound")
        )
        batch.add_column(sa.Column("kind", sa.String(12), nullable=False, server_default="call"))
        batch.add_column(sa.Column("callback_of", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_call_records_callback_of", "call_records", ["callback_of"])


def downgrade() -> None:
    op.drop_index("ix_call_records_callback_of", table_name="call_records")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("callback_of")
        batch.drop_column("kind")
        batch.drop_column("direction")
