"""Calls per seat and repeat callers from the call records: seat_calls goes; indexes
for "when did this caller last call" and "what did this seat take in a period"

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_index("ix_seat_calls_seat_ended", table_name="seat_calls")
    op.drop_table("seat_calls")
    # (caller, start_epoch) answers everything (caller) did, and the latest call at once
    op.drop_index("ix_call_records_caller", table_name="call_records")
    op.create_index("ix_call_records_caller_start", "call_records", ["caller", "start_epoch"])
    op.create_index("ix_call_records_seat_ended", "call_records", ["seat", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_call_records_seat_ended", table_name="call_records")
    op.drop_index("ix_call_records_caller_start", table_name="call_records")
    op.create_index("ix_call_records_caller", "call_records", ["caller"])
    op.create_table(
        "seat_calls",
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("seat_id", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(48), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("ended_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("linkedid", "seat_id", name="pk_seat_calls"),
    )
    op.create_index("ix_seat_calls_seat_ended", "seat_calls", ["seat_id", "ended_at"])
