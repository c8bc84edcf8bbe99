"""Alembic environment. Runs on a connection handed in by callcenter.migrate (the normal
path, inside the service's event loop) or, for the plain `alembic` CLI, on its own engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import agi.ivr.models  # noqa: F401  (registers the IVR flow table)
import callcenter.audit.models  # registers the API audit log's table
import callcenter.legacy.models  # noqa: F401  (registers the legacy tables)
import queues.models  # noqa: F401  (registers the seat tables)
from callcenter.db import create_engine
from callcenter.models import Base
from callcenter.records import models as _records  # noqa: F401  (the call records table)

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
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
