"""Asterisk's own ledger: the CDR, CEL and queue_log tables Asterisk writes itself.

Asterisk 22 writes them straight into the service's database (`cdr_pgsql`, `cel_pgsql`,
queue_log through `res_config_pgsql`), independently of the service: they are the
second account of every call that the reconciler (reconcile.py) compares the records
with. The columns and types are exactly Asterisk's (contrib/realtime/postgresql; cel as
`cel_pgsql` expects); the service never writes these tables, except tests and the PBX
stand-in.

On PostgreSQL they live in schema `asterisk`; on SQLite (no schemas) they are plain
tables `cdr`, `cel` and `queue_log`: the tables are declared with `schema="asterisk"`
and every SQLite engine translates that schema away (db.SQLITE_SCHEMAS).

They have a MetaData of their own, not the service's `Base.metadata`: they are not the
service's ORM models, and `Base.metadata.create_all` must not try to create a schema
SQLite does not have. The migration environment compares them per dialect
(`ledger_metadata`).

Times: `cdr` and `cel` hold the PBX's local time without zone and `queue_log.time` UTC
(`queue_log_realtime_use_gmt = yes`); the rendered configuration runs the PBX in UTC,
and the service reads all three as UTC.

No node column: one ledger belongs to one PBX, so the reconciler of a node reads the
ledger that node's Asterisk writes (one PBX database per node, or one ledger per
service database with a single node).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table

SCHEMA = "asterisk"

#: bigserial on PostgreSQL; SQLite only auto-numbers an INTEGER primary key
_ID = BigInteger().with_variant(Integer(), "sqlite")


def _tables(metadata: MetaData, schema: str | None) -> tuple[Table, Table, Table]:
    s80 = String(80)
    cdr = Table(
        "cdr",
        metadata,
        Column("accountcode", s80),
        Column("src", s80),
        Column("dst", s80),
        Column("dcontext", s80),
        Column("clid", s80),
        Column("channel", s80),
        Column("dstchannel", s80),
        Column("lastapp", s80),
        Column("lastdata", s80),
        Column("start", DateTime()),
        Column("answer", DateTime()),
        Column("end", DateTime()),
        Column("duration", Integer()),
        Column("billsec", Integer()),
        Column("disposition", String(45)),
        Column("amaflags", String(45)),
        Column("userfield", String(256)),
        Column("uniqueid", String(150)),
        Column("linkedid", String(150)),
        Column("peeraccount", s80),
        Column("sequence", Integer()),
        schema=schema,
    )
    cel = Table(
        "cel",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("eventtype", String(30)),
        Column("eventtime", DateTime()),
        Column("userdeftype", String(255)),
        Column("cid_name", s80),
        Column("cid_num", s80),
        Column("cid_ani", s80),
        Column("cid_rdnis", s80),
        Column("cid_dnid", s80),
        Column("exten", s80),
        Column("context", s80),
        Column("channame", s80),
        Column("appname", s80),
        Column("appdata", String(512)),
        Column("amaflags", Integer()),
        Column("accountcode", String(20)),
        Column("peeraccount", String(20)),
        Column("uniqueid", String(150)),
        Column("linkedid", String(150)),
        Column("userfield", String(255)),
        Column("peer", s80),
        Column("extra", String(512)),
        schema=schema,
    )
    queue_log = Table(
        "queue_log",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("time", DateTime()),
        Column("callid", s80),
        Column("queuename", String(256)),
        Column("agent", s80),
        Column("event", String(32)),
        Column("data1", String(100)),
        Column("data2", String(100)),
        Column("data3", String(100)),
        Column("data4", String(100)),
        Column("data5", String(100)),
        schema=schema,
    )
    return cdr, cel, queue_log


#: the indexes the reconciler's reads by window and by call need (migration 0009)
INDEXES: tuple[tuple[str, str, str], ...] = (
    ("ix_cel_linkedid", "cel", "linkedid"),
    ("ix_cel_eventtime", "cel", "eventtime"),
    ("ix_queue_log_callid", "queue_log", "callid"),
    ("ix_queue_log_time", "queue_log", "time"),
    ("ix_cdr_linkedid", "cdr", "linkedid"),
    ("ix_cdr_start", "cdr", "start"),
)

LEDGER = MetaData()
CDR, CEL, QUEUE_LOG = _tables(LEDGER, SCHEMA)


def ledger_metadata(dialect: str) -> MetaData:
    """The ledger tables as they exist on `dialect`, with their indexes (for schema
    comparison: in schema `asterisk` on PostgreSQL, plain tables on SQLite)."""
    metadata = MetaData()
    tables = _tables(metadata, SCHEMA if dialect == "postgresql" else None)
    by_name = {table.name: table for table in tables}
    for name, table, column in INDEXES:
        Index(name, by_name[table].c[column])
    return metadata


def ledger_time(value: datetime) -> datetime:
    """A ledger timestamp (zone-less, UTC by the service's rule) as an aware datetime."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def naive_utc(value: datetime) -> datetime:
    """An aware datetime as the ledger stores it (UTC, zone-less), for window bounds."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
