"""Fixtures of the legacy-directory tests: a migrated database and a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.repository import LegacyRepository
from tests.conftest import LEGACY_CSV

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Db:
    engine: AsyncEngine
    repo: LegacyRepository
    clock: Clock

    def another_repo(self) -> LegacyRepository:
        """A repository on its own engine: another service instance or CLI process."""
        engine = create_engine(self.engine.url.render_as_string(hide_password=False))
        self._extra.append(engine)
        return LegacyRepository(session_factory(engine), self.clock)

    def __post_init__(self) -> None:
        self._extra: list[AsyncEngine] = []


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Db]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    clock = Clock()
    out = Db(engine, LegacyRepository(session_factory(engine), clock), clock)
    yield out
    for extra in out._extra:
        await extra.dispose()
    await engine.dispose()


def city_records() -> list[tuple[int | None, csvfile.NumberRecord]]:
    parsed = csvfile.read(LEGACY_CSV.read_bytes(), queues=QueueCatalog.default())
    assert parsed.ok, parsed.errors
    return list(parsed.records)
