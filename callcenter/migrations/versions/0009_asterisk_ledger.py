"""Asterisk's ledger tables (cdr, cel, queue_log) and the role Asterisk writes them as

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

On PostgreSQL the tables live in schema `asterisk`, and role `asterisk_ledger` may only
insert into them: it is created NOLOGIN when missing, and the operator gives it a
password and LOGIN (`ALTER ROLE asterisk_ledger LOGIN PASSWORD '...'`) for Asterisk's
cdr_pgsql / cel_pgsql / res_pgsql connections. On SQLite (no schemas, no roles) they
are three plain tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLE = "asterisk_ledger"
TABLES = ("cdr", "cel", "queue_log")
INDEXES = (
    ("ix_cel_linkedid", "cel", "linkedid"),
    ("ix_cel_eventtime", "cel", "eventtime"),
    ("ix_queue_log_callid", "queue_log", "callid"),
    ("ix_queue_log_time", "queue_log", "time"),
    ("ix_cdr_linkedid", "cdr", "linkedid"),
    ("ix_cdr_start", "cdr", "start"),
)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _schema() -> str | None:
    return "asterisk" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    if schema is not None:
        op.execute(sa.text("CREATE SCHEMA IF NOT EXISTS asterisk"))
    s80 = sa.String(80)
    op.create_table(
        "cdr",
        sa.Column("accountcode", s80),
        sa.Column("src", s80),
        sa.Column("dst", s80),
        sa.Column("dcontext", s80),
        sa.Column("clid", s80),
        sa.Column("channel", s80),
        sa.Column("dstchannel", s80),
        sa.Column("lastapp", s80),
        sa.Column("lastdata", s80),
        sa.Column("start", sa.DateTime()),
        sa.Column("answer", sa.DateTime()),
        sa.Column("end", sa.DateTime()),
        sa.Column("duration", sa.Integer()),
        sa.Column("billsec", sa.Integer()),
        sa.Column("disposition", sa.String(45)),
        sa.Column("amaflags", sa.String(45)),
        sa.Column("userfield", sa.String(256)),
        sa.Column("uniqueid", sa.String(150)),
        sa.Column("linkedid", sa.String(150)),
        sa.Column("peeraccount", s80),
        sa.Column("sequence", sa.Integer()),
        schema=schema,
    )
    op.create_table(
        "cel",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("eventtype", sa.String(30)),
        sa.Column("eventtime", sa.DateTime()),
        sa.Column("userdeftype", sa.String(255)),
        sa.Column("cid_name", s80),
        sa.Column("cid_num", s80),
        sa.Column("cid_ani", s80),
        sa.Column("cid_rdnis", s80),
        sa.Column("cid_dnid", s80),
        sa.Column("exten", s80),
        sa.Column("context", s80),
        sa.Column("channame", s80),
        sa.Column("appname", s80),
        sa.Column("appdata", sa.String(512)),
        sa.Column("amaflags", sa.Integer()),
        sa.Column("accountcode", sa.String(20)),
        sa.Column("peeraccount", sa.String(20)),
        sa.Column("uniqueid", sa.String(150)),
        sa.Column("linkedid", sa.String(150)),
        sa.Column("userfield", sa.String(255)),
        sa.Column("peer", s80),
        sa.Column("extra", sa.String(512)),
        sa.PrimaryKeyConstraint("id", name="cel_pkey"),
        schema=schema,
    )
    op.create_table(
        "queue_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("time", sa.DateTime()),
        sa.Column("callid", s80),
        sa.Column("queuename", sa.String(256)),
        sa.Column("agent", s80),
        sa.Column("event", sa.String(32)),
        sa.Column("data1", sa.String(100)),
        sa.Column("data2", sa.String(100)),
        sa.Column("data3", sa.String(100)),
        sa.Column("data4", sa.String(100)),
        sa.Column("data5", sa.String(100)),
        sa.PrimaryKeyConstraint("id", name="queue_log_pkey"),
        schema=schema,
    )
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], schema=schema)
    if schema is not None:
        _grant_insert()


def _grant_insert() -> None:
    """Asterisk's role: USAGE on the schema, INSERT on the three tables (and USAGE on
    the id sequences their bigserial ids draw from), nothing else."""
    op.execute(
        sa.text(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'asterisk_ledger')"
            " THEN CREATE ROLE asterisk_ledger NOLOGIN; END IF; END $$"
        )
    )
    op.execute(sa.text(f"GRANT USAGE ON SCHEMA asterisk TO {ROLE}"))
    op.execute(sa.text(f"GRANT INSERT ON asterisk.cdr, asterisk.cel, asterisk.queue_log TO {ROLE}"))
    op.execute(
        sa.text(f"GRANT USAGE ON SEQUENCE asterisk.cel_id_seq, asterisk.queue_log_id_seq TO {ROLE}")
    )


def downgrade() -> None:
    schema = _schema()
    for name, table, _ in INDEXES:
        op.drop_index(name, table, schema=schema)
    for table in TABLES:
        op.drop_table(table, schema=schema)
    if schema is None:
        return
    op.execute(sa.text(f"REVOKE ALL ON SCHEMA asterisk FROM {ROLE}"))
    op.execute(sa.text("DROP SCHEMA asterisk"))
    # the role is cluster-wide: other databases (another service, a test database) may
    # still grant it something, so it goes only when nothing depends on it any more
    op.execute(
        sa.text(
            "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'asterisk_ledger')"
            " AND NOT EXISTS (SELECT FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid"
            " WHERE r.rolname = 'asterisk_ledger')"
            " THEN DROP ROLE asterisk_ledger; END IF; END $$"
        )
    )
