"""Database engines and sessions (SQLAlchemy 2 async), for SQLite and PostgreSQL alike.

SQLite is the embedded default: it gets WAL mode and a busy timeout so the API can read
while the writer writes, and foreign keys switched on (SQLite's default is off).

PostgreSQL sessions run with JIT off: our heaviest statements are aggregates over one
day's records (tens of thousands of rows), whose estimated cost crosses `jit_above_cost`
while their execution takes a few milliseconds. JIT compilation then costs 30-40 ms on
every call (measured: the day's KPI query went from ~35 to ~75 ms with it), and asyncpg
prepares every statement, so it is paid again and again.

Tables that live in a PostgreSQL schema of their own (Asterisk's ledger in `asterisk`)
are plain tables on SQLite, which has no schemas: every SQLite engine carries a
`schema_translate_map` (`SQLITE_SCHEMAS`), so code declares them once, with their
PostgreSQL schema, and every session of the service reaches them on both databases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from callcenter.private_files import PRIVATE_DIR, PRIVATE_FILE, narrow, private_file

#: PostgreSQL schemas whose tables are plain (schema-less) tables on SQLite
SQLITE_SCHEMAS: dict[str | None, str | None] = {"asterisk": None}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


#: what SQLite keeps next to the database file, with the database file's mode
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a file-backed SQLite URL (`./var/` on a fresh clone), 0700
    when we create it, and the database file 0600 before SQLite opens it: it holds
    callers' numbers and token hashes, and SQLite gives its WAL and SHM files the
    database file's mode. Files of an earlier run open to others are narrowed."""
    database = make_url(url).database
    if not (is_sqlite(url) and database and database != ":memory:"):
        return
    if database.startswith("file:"):  # a URI filename: SQLite opens it as it says
        return
    path = Path(database).expanduser()
    if not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            narrow(companion, PRIVATE_FILE)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        ensure_sqlite_dir(url)
        options = dict(kwargs.pop("execution_options", {}))
        options["schema_translate_map"] = SQLITE_SCHEMAS | dict(
            options.get("schema_translate_map", {})
        )
        engine = create_async_engine(url, execution_options=options, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    if make_url(url).get_driver_name() == "asyncpg":
        connect_args = dict(kwargs.pop("connect_args", {}))
        settings = {"jit": "off"} | dict(connect_args.get("server_settings", {}))
        connect_args["server_settings"] = settings
        kwargs["connect_args"] = connect_args
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def redacted_url(url: str) -> str:
    """The database URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(not a database URL)"
