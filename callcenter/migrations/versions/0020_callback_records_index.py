"""A partial index of the callback records by start: every KPI asks which callers a
callback reached since the range's start (`kpi.called_back_since`), and without it that
question reads every record of the range, callbacks being a few in a hundred

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

CALLBACKS_ONLY = sa.text("kind = 'callback'")


def upgrade() -> None:
    op.create_index(
        "ix_call_records_callback_start",
        "call_records",
        ["start_epoch"],
        postgresql_where=CALLBACKS_ONLY,
        sqlite_where=CALLBACKS_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_call_records_callback_start", table_name="call_records")
