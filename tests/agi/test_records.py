"""The database recorder: one rating and one callback request per call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.facts import CallbackRequestFact, RatingFact, SqlCallFacts


@pytest.mark.db
async def test_first_rating_and_callback_win(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        recorder = SqlCallFacts(session_factory(engine), lambda: datetime.now(UTC))
        first = RatingFact("1795692697.0", 1, "13900001111", "hotline-general", "", "seat-1001")
        assert await recorder.record_rating(first)
        assert not await recorder.record_rating(RatingFact("1795692697.0", 3, "x", "q", "", ""))
        [row] = await recorder.ratings()
        assert (row.rating, row.agent) == (1, "seat-1001")
        with pytest.raises(ValueError, match="1, 2 or 3"):
            await recorder.record_rating(RatingFact("other", 4, "", "", "", ""))
        request = CallbackRequestFact(
            "1795692697.0", "13900001111", "12345", "hotline-general", "", 300.0
        )
        assert await recorder.request_callback(request)
        assert not await recorder.request_callback(request)
        [cb] = await recorder.open_callbacks()
        assert (cb.caller, cb.status, cb.estimated_wait_s) == ("13900001111", "open", 300.0)
    finally:
        await engine.dispose()


async def test_downgrade_removes_the_tables(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    try:
        await migrate.upgrade(engine)
        await migrate.downgrade(engine, "0003")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not {t for t in tables if t.startswith("ivr_")}
    finally:
        await engine.dispose()
