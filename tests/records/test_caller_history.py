"""A caller's earlier calls as the agent's screen pop lists them: newest first, within
the period, at most the limit, one indexed query (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.history import PastCall, SqlHistory
from callcenter.records.kpi import CALLBACK
from callcenter.records.store import RecordStore
from tests.records.factory import DAY0, call

CALLER = "13900001111"


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def test_history_of_a_caller(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        await RecordStore(session_factory(engine)).upsert(
            [
                call("old", caller=CALLER, started_at=DAY0 - 40 * 86400),
                call(
                    "a",
                    caller=CALLER,
                    started_at=DAY0 + 100,
                    disposition="abandoned",
                    queues=["hotline-housing"],
                    unit="HOUSING",
                ),
                call("b", caller=CALLER, started_at=DAY0 + 200, queues=[], disposition="ivr_only"),
                call("c", caller=CALLER, started_at=DAY0 + 300, confidential=True),
                call("cb", caller=CALLER, started_at=DAY0 + 400, kind=CALLBACK),
                call("someone", caller="13900002222", started_at=DAY0 + 500),
            ]
        )
        history = SqlHistory(session_factory(engine))
        got = await history.history_of(CALLER, at(DAY0 - 30 * 86400), 10, reaches_confidential=True)
        shown = await history.history_of(CALLER, at(DAY0 - 30 * 86400), 10)
        assert [c.call for c in shown] == ["pbx1:cb", "pbx1:b", "pbx1:a"]  # no report beside it
        assert [c.call for c in got] == ["pbx1:cb", "pbx1:c", "pbx1:b", "pbx1:a"]
        a = got[-1]
        assert a == PastCall(
            call="pbx1:a",
            started_at=at(DAY0 + 100),
            disposition="abandoned",
            routed_unit="HOUSING",
            queued=True,
            callback=False,
        )
        assert a.kind is None and a.ticket is None and a.unit is None
        assert not got[2].queued and got[1].confidential and got[0].callback
        assert [
            c.call for c in await history.history_of(CALLER, at(DAY0), 2, reaches_confidential=True)
        ] == [
            "pbx1:cb",
            "pbx1:c",
        ]
        assert await history.history_of("", at(DAY0), 10) == []
        assert await history.history_of(CALLER, at(DAY0), 0) == []
        if database_url.startswith("sqlite"):
            # the (caller, start_epoch) index answers it (migration 0013)
            async with engine.connect() as conn:
                plan = " ".join(
                    str(row[-1])
                    for row in await conn.execute(
                        text(
                            "EXPLAIN QUERY PLAN SELECT node FROM call_records WHERE caller = :c "
                            "AND start_epoch >= :s ORDER BY start_epoch DESC, linkedid DESC "
                            "LIMIT 20"
                        ),
                        {"c": CALLER, "s": DAY0},
                    )
                )
            assert "ix_call_records_caller_start" in plan, plan
    finally:
        await engine.dispose()
