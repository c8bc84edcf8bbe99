"""legacy-number directory: units, numbers, their versions, the change counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legacy_units",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("district", sa.String(100), nullable=False),
        sa.Column("transfer_line", sa.String(20), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_legacy_units"),
    )
    op.create_index("ix_legacy_units_district", "legacy_units", ["district"])
    op.create_table(
        "legacy_numbers",
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("transfer_to", sa.String(20), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("effective_from", TZ, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_legacy_numbers"),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["legacy_units.code"],
            name="fk_legacy_numbers_unit_code_legacy_units",
        ),
    )
    for column in ("unit_code", "mode", "queue"):
        op.create_index(f"ix_legacy_numbers_{column}", "legacy_numbers", [column])
    op.create_table(
        "legacy_number_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=True),
        sa.Column("mode", sa.String(10), nullable=True),
        sa.Column("queue", sa.String(40), nullable=True),
        sa.Column("transfer_to", sa.String(20), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("effective_from", TZ, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("batch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_legacy_number_versions"),
        sa.UniqueConstraint("number", "version", name="uq_legacy_number_versions_number_version"),
    )
    op.create_index(
        "ix_legacy_number_versions_effective_from", "legacy_number_versions", ["effective_from"]
    )
    op.create_index("ix_legacy_number_versions_batch", "legacy_number_versions", ["batch"])
    op.create_table(
        "legacy_unit_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("district", sa.String(100), nullable=True),
        sa.Column("transfer_line", sa.String(20), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("batch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_legacy_unit_versions"),
        sa.UniqueConstraint("code", "version", name="uq_legacy_unit_versions_code_version"),
    )
    state = op.create_table(
        "legacy_directory_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_legacy_directory_state"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "changed_at": None}])


def downgrade() -> None:
    op.drop_table("legacy_directory_state")
    op.drop_table("legacy_unit_versions")
    op.drop_index("ix_legacy_number_versions_batch", table_name="legacy_number_versions")
    op.drop_index("ix_legacy_number_versions_effective_from", table_name="legacy_number_versions")
    op.drop_table("legacy_number_versions")
    for column in ("unit_code", "mode", "queue"):
        op.drop_index(f"ix_legacy_numbers_{column}", table_name="legacy_numbers")
    op.drop_table("legacy_numbers")
    op.drop_index("ix_legacy_units_district", table_name="legacy_units")
    op.drop_table("legacy_units")
