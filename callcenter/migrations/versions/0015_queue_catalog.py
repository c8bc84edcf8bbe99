"""The queue catalogue as a table, seeded with the city plan's ten queues

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from callcenter.legacy.queues import SEED

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "queue_catalog",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("display_zh", sa.String(40), nullable=False),
        sa.Column("display_en", sa.String(40), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("wrapup_s", sa.Integer(), nullable=False),
        sa.Column("overflow_after_s", sa.Float(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_queue_catalog"),
    )
    # the city plan's queues: every directory row, seat skill and IVR flow written
    # before this revision names one of them
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "name": q.name,
                "display_zh": q.display.zh,
                "display_en": q.display.en,
                "strategy": q.strategy,
                "wrapup_s": q.wrapup_s,
                "overflow_after_s": q.overflow_after_s,
                "position": q.position,
                "updated_at": now,
                "updated_by": "migration 0015",
            }
            for q in SEED
        ],
    )


def downgrade() -> None:
    op.drop_table("queue_catalog")
