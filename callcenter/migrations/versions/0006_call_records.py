"""Call records

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("start_epoch", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", TZ, nullable=False),
        sa.Column("dialed", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("caller", sa.String(40), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("ivr_keys", sa.String(64), nullable=False),
        sa.Column("prompts", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(48), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("queue_exit", sa.String(16), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("rings", sa.JSON(), nullable=False),
        sa.Column("agent", sa.String(120), nullable=False),
        sa.Column("seat", sa.String(64), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.Column("transfers", sa.JSON(), nullable=False),
        sa.Column("hangup_by", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(24), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("recording", sa.String(255), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("node", "linkedid", name="pk_call_records"),
    )
    op.create_index("ix_call_records_start_epoch", "call_records", ["start_epoch"])
    op.create_index("ix_call_records_caller", "call_records", ["caller"])
    op.create_index("ix_call_records_queue_start", "call_records", ["queue", "start_epoch"])


def downgrade() -> None:
    op.drop_table("call_records")
