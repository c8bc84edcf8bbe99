"""What the writer stores is the record as given, on either database; on PostgreSQL
(one statement of column arrays) the JSON columns keep json.dumps's text and a string too
long for its column is refused, not cut."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.models import CallRecord
from callcenter.records.store import DialedUnit, RecordStore, to_row
from tests.records.factory import DAY0, call

JSON_COLUMNS = ("prompts", "queues", "rings", "transfers", "timeline")


def _normalized(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


@pytest.mark.db
async def test_stored_rows_are_the_records(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    route = DialedUnit("U042", "南关区", "merge")
    records = [
        call(
            "j.1",
            started_at=DAY0 + 0.123456,
            dialed="043262345678",
            prompts=["hotline/欢迎", "a\u2028b"],
            rings=[{"queue": "q", "seat": "1001", "at": 3.25, "ring_s": 2.0, "outcome": "x"}],
            transfers=[{"kind": "blind", "to": "1002", "status": None}],
            timeline=[[0.0, "start", "12345"], [1.5, "note", '市民 "quoted"']],
            wait_s=None,
            rating=3,
        ),
        call("j.2", queues=[], wait_s=2.5, talk_s=0, fallback=True),
    ]
    store = RecordStore(sessions, {"043262345678": route}.get)
    assert await store.upsert(records) == 2
    async with sessions() as session:
        rows = {r.linkedid: r for r in (await session.scalars(select(CallRecord))).all()}
        for record in records:
            expected = to_row(record, route if record.dialed == "043262345678" else None)
            stored = rows[record.linkedid]
            for name, value in expected.items():
                assert _normalized(getattr(stored, name)) == _normalized(value), name
        if engine.dialect.name == "postgresql":
            as_text = ", ".join(f"CAST({name} AS TEXT)" for name in JSON_COLUMNS)
            query = text(f"SELECT {as_text} FROM call_records WHERE linkedid = 'j.1'")
            texts = (await session.execute(query)).one()
            for name, stored_text in zip(JSON_COLUMNS, texts, strict=True):
                assert stored_text == json.dumps(getattr(records[0], name)), name
    await engine.dispose()


@pytest.mark.db
async def test_a_too_long_value_is_refused_not_cut(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    if engine.dialect.name != "postgresql":
        await engine.dispose()
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    await migrate.upgrade(engine)
    store = RecordStore(session_factory(engine))
    with pytest.raises(DBAPIError, match="too long"):
        await store.upsert([call("long.1", seat="s" * 65)])
    await engine.dispose()
