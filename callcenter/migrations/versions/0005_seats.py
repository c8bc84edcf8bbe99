"""Seats, seat sessions, callback worklist

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "seats",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("interface", sa.String(120), nullable=False),
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("logged_in", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.String(32), nullable=True),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_seats"),
        sa.UniqueConstraint("extension", name="uq_seats_extension"),
        sa.UniqueConstraint("interface", name="uq_seats_interface"),
    )
    op.create_table(
        "seat_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seat_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_seat_sessions"),
    )
    op.create_index("ix_seat_sessions_seat_started", "seat_sessions", ["seat_id", "started_at"])
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
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("caller", sa.String(40), nullable=False),
        sa.Column("queue", sa.String(48), nullable=False),
        sa.Column("waited_s", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("assigned_seat", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callback_tasks"),
        sa.UniqueConstraint("uniqueid", name="uq_callback_tasks_uniqueid"),
    )
    op.create_index("ix_callback_tasks_status_due", "callback_tasks", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_tasks_status_due", "callback_tasks")
    op.drop_table("callback_tasks")
    op.drop_index("ix_seat_calls_seat_ended", "seat_calls")
    op.drop_table("seat_calls")
    op.drop_index("ix_seat_sessions_seat_started", "seat_sessions")
    op.drop_table("seat_sessions")
    op.drop_table("seats")
