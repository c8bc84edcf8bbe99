"""Migration 0015 creates the outbox exactly as the models declare it (both databases)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from callcenter import migrate
from callcenter.db import create_engine
from callcenter.models import Base
from callcenter.webhooks import models as _webhooks  # noqa: F401  (the tables compared)

pytestmark = pytest.mark.db


async def test_migration_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            diffs = await connection.run_sync(
                lambda sync: [
                    d
                    for d in compare_metadata(MigrationContext.configure(sync), Base.metadata)
                    if "webhook" in repr(d)
                ]
            )
        assert diffs == []
    finally:
        await engine.dispose()
