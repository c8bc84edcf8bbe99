"""unit cards (responsibilities, hours, transfer numbers, knowledge-base links) and
their character-trigram search index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

GRAM = sa.String(3).with_variant(sa.String(3, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "unit_cards",
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("responsibilities", sa.Text(), nullable=False),
        sa.Column("hours", sa.String(200), nullable=False),
        sa.Column("transfer_numbers", sa.JSON(), nullable=False),
        sa.Column("kb_links", sa.JSON(), nullable=False),
        sa.Column("indexed_unit", sa.String(200), nullable=False),
        sa.Column("indexed_district", sa.String(100), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", name="pk_unit_cards"),
    )
    op.create_table(
        "unit_card_grams",
        sa.Column("gram", GRAM, nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("gram", "unit_code", name="pk_unit_card_grams"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_unit_card_grams_unit_code", "unit_card_grams", ["unit_code"])


def downgrade() -> None:
    op.drop_index("ix_unit_card_grams_unit_code", table_name="unit_card_grams")
    op.drop_table("unit_card_grams")
    op.drop_table("unit_cards")
