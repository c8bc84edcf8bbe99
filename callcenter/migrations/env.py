"""Alembic environment. Runs on a connection handed in by callcenter.migrate (the normal
path, inside the service's event loop) or, for the plain `alembic` CLI, on its own engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import agi.ivr.models  # noqa: F401  (registers the IVR flow table)
import callcenter.audit.models  # registers the API audit log's table
import callcenter.legacy.card_tables  # registers the unit cards and their index
import callcenter.legacy.models
import callcenter.webhooks.models  # noqa: F401  (registers the legacy tables and the webhooks outbox)
import queues.models  # noqa: F401  (registers the seat tables)
from callcenter.db import create_engine
from callcenter.models import Base
from callcenter.records import models as _records  # noqa: F401  (the call records table)
from callcenter.records.ledger import SCHEMA as LEDGER_SCHEMA
from callcenter.records.ledger import ledger_metadata

config = context.config
target_metadata = Base.metadata


def _our_schemas(name: str | None, type_: str, parent_names: object) -> bool:
    """On PostgreSQL compare the default schema and Asterisk's ledger schema only."""
    return type_ != "schema" or name in (None, LEDGER_SCHEMA)


def _run(connection: Connection) -> None:
    dialect = connection.dialect.name
    context.configure(
        connection=connection,
        # Asterisk's ledger tables are not the service's models (records/ledger.py) but
        # the migrations create them: compared as they exist on this dialect
        target_metadata=[target_metadata, ledger_metadata(dialect)],
        render_as_batch=dialect == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
        include_schemas=dialect == "postgresql",
        include_name=_our_schemas,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_own_engine(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_own_engine(config.get_main_option("sqlalchemy.url") or ""))
