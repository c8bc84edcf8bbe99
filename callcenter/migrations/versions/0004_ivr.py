"""IVR: survey ratings, callback requests, flow overrides

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ivr_flows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ivr_flows"),
    )
    op.create_table(
        "ivr_survey_results",
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("caller", sa.String(40), nullable=False),
        sa.Column("queue", sa.String(48), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("uniqueid", name="pk_ivr_survey_results"),
    )
    op.create_index("ix_ivr_survey_results_created_at", "ivr_survey_results", ["created_at"])
    op.create_table(
        "ivr_callback_requests",
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(40), nullable=False),
        sa.Column("dialed", sa.String(40), nullable=False),
        sa.Column("queue", sa.String(48), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("estimated_wait_s", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("uniqueid", name="pk_ivr_callback_requests"),
    )
    op.create_index("ix_ivr_callback_requests_status", "ivr_callback_requests", ["status"])
    op.create_index("ix_ivr_callback_requests_created_at", "ivr_callback_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ivr_callback_requests_created_at", "ivr_callback_requests")
    op.drop_index("ix_ivr_callback_requests_status", "ivr_callback_requests")
    op.drop_table("ivr_callback_requests")
    op.drop_index("ix_ivr_survey_results_created_at", "ivr_survey_results")
    op.drop_table("ivr_survey_results")
    op.drop_table("ivr_flows")
