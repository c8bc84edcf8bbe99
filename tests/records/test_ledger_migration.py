"""Migration 0009 creates Asterisk's ledger exactly as records/ledger.py declares it
(schema `asterisk` on PostgreSQL, plain tables on SQLite), Asterisk's role may only
insert, and the downgrade removes it all."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.ledger import CEL, ledger_metadata

pytestmark = pytest.mark.db


async def test_ledger_tables_match_and_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            dialect = connection.dialect.name
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_schemas": dialect == "postgresql",
                    "include_name": lambda name, type_, _: (
                        type_ != "schema" or name in (None, "asterisk")
                    ),
                },
            )
            ours = ledger_metadata(dialect)
            return [
                d
                for d in compare_metadata(context, ours)
                if any(t in repr(d) for t in ("'cdr'", "'cel'", "'queue_log'"))
            ]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        # the same Table reaches the ledger on both databases (schema translated on SQLite)
        async with session_factory(engine)() as session, session.begin():
            await session.execute(insert(CEL).values(eventtype="CHAN_START", linkedid="1.1"))
        async with session_factory(engine)() as session:
            assert (await session.execute(select(CEL.c.id, CEL.c.linkedid))).all() == [(1, "1.1")]
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                may = (
                    await conn.execute(
                        text(
                            "SELECT"
                            " has_table_privilege('asterisk_ledger', 'asterisk.cel', 'INSERT'),"
                            " has_table_privilege('asterisk_ledger', 'asterisk.cel', 'SELECT'),"
                            " has_table_privilege('asterisk_ledger', 'public.call_records',"
                            " 'INSERT'),"
                            " has_sequence_privilege('asterisk_ledger', 'asterisk.cel_id_seq',"
                            " 'USAGE'),"
                            " (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'asterisk_ledger')"
                        )
                    )
                ).one()
            assert tuple(may) == (True, False, False, True, False)
        await migrate.downgrade(engine, "0008")
        async with engine.connect() as conn:
            tables = await conn.run_sync(
                lambda c: (
                    inspect(c).get_table_names()
                    + (
                        inspect(c).get_table_names(schema="asterisk")
                        if c.dialect.name == "postgresql"
                        and "asterisk" in inspect(c).get_schema_names()
                        else []
                    )
                )
            )
        assert not {"cdr", "cel", "queue_log"} & set(tables)
    finally:
        await engine.dispose()
