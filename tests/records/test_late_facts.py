"""Facts that reach a call after its record exists, or before: a confidential mark set
through the API (during the call, while the record waits in the spool, after it was
written) and a survey rating given after the record was written. Neither may be lost,
and a later rewrite of the record (a replay, a rebuild) must not undo them."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.records.builder import RecordDraft, finish
from callcenter.records.facts import RatingFact, SqlCallFacts
from callcenter.records.models import CallRecord, ConfidentialMark
from callcenter.records.wiring import RecordsSystem, build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import call

REASON = {"reason": "来电人要求保密"}


async def _row(records: RecordsSystem, linkedid: str) -> CallRecord | None:
    async with records.store.sessions() as session:
        return await session.get(CallRecord, ("pbx1", linkedid))


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_confidential_marks(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    live = LiveState(time.time)
    records = build_records(sessions, live, tmp_path / "spool")
    await records.store.upsert(
        [call("done.1", caller="13912341111", seat="s1001"), call("other.1", seat="s1002")]
    )
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, live=live, records=records),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(role: Role, seat: str | None = None) -> dict[str, str]:
        _, token = await tokens.create(f"{role.value}-{seat}", role, seat)
        return {"Authorization": f"Bearer {token}"}

    sup, agent, integ = (
        await bearer(Role.SUPERVISOR),
        await bearer(Role.AGENT, "s1001"),
        await bearer(Role.INTEGRATION),
    )
    url = "/api/v1/calls/{}/confidential"
    try:
        # who may mark: not without a token, not integration, not an agent's other seat
        assert (await client.post(url.format("pbx1:done.1"), json=REASON)).status_code == 401
        r = await client.post(url.format("pbx1:done.1"), json=REASON, headers=integ)
        assert r.status_code == 403
        # another seat's call answers as one that does not exist: ids cannot be probed
        r = await client.post(url.format("pbx1:other.1"), json=REASON, headers=agent)
        none = await client.post(url.format("pbx1:other.x"), json=REASON, headers=agent)
        assert r.status_code == none.status_code == 404
        assert r.json()["detail"].replace("other.1", "other.x") == none.json()["detail"]
        assert not (await _row(records, "other.1")).confidential  # type: ignore[union-attr]
        # bad input says what is wrong
        r = await client.post(url.format("pbx1:done.1"), json={"reason": ""}, headers=sup)
        assert r.status_code == 422 and "reason" in r.text
        r = await client.post(url.format("nocolon"), json=REASON, headers=sup)
        assert r.status_code == 422 and "<node>:<Linkedid>" in r.text
        r = await client.post(url.format("pbx1:nope"), json=REASON, headers=sup)
        assert r.status_code == 404

        # a written record, by its own agent: masked from then on for all but admin
        r = await client.post(url.format("pbx1:done.1"), json=REASON, headers=agent)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "id": "pbx1:done.1",
            "confidential": True,
            "in_progress": False,
            "record_written": True,
        }
        shown = (await client.get("/api/v1/calls/pbx1:done.1", headers=sup)).json()
        assert shown["caller"] == "139****1111" and shown["confidential"] is True
        # marking twice keeps the first mark (who and why)
        assert (
            await client.post(url.format("pbx1:done.1"), json={"reason": "again"}, headers=sup)
        ).status_code == 200
        async with sessions() as session:
            mark = await session.get(ConfidentialMark, ("pbx1", "done.1"))
        assert mark is not None and mark.reason == REASON["reason"]
        assert mark.marked_by == "agent-s1001"
        # a replayed / rebuilt record that does not know of the mark does not undo it
        await records.store.upsert([call("done.1", caller="13912341111", seat="s1001")])
        assert (await _row(records, "done.1")).confidential  # type: ignore[union-attr]

        # a call in progress: masked in /calls/active at once, its record written masked
        calls = live.node_state("pbx1").calls
        calls["live.1"] = Call("live.1", time.time(), caller_id_num="13800002222", seat="s1001")
        active = (await client.get("/api/v1/calls/active", headers=agent)).json()
        assert [c["caller"] for c in active] == ["13800002222"]  # the agent on the call
        r = await client.post(url.format("pbx1:live.1"), json=REASON, headers=agent)
        assert r.json()["in_progress"] is True and r.json()["record_written"] is False
        for who in (sup, agent):
            active = (await client.get("/api/v1/calls/active", headers=who)).json()
            assert [c["caller"] for c in active] == ["138****2222"]
        ended = calls.pop("live.1")
        draft = RecordDraft("pbx1", "live.1", ended.started_at, caller=ended.caller_id_num)
        draft.seat = ended.seat  # even a record that had not heard of the mark: it holds
        records.writer.add(finish(draft, time.time()))
        await records.writer.flush()
        assert (await _row(records, "live.1")).confidential  # type: ignore[union-attr]

        # a call that just ended and still waits in the spool: found, marked, written
        records.writer.add(call("spooled.1", caller="13700003333", seat="s1001"))
        r = await client.post(url.format("pbx1:spooled.1"), json=REASON, headers=agent)
        assert r.status_code == 200 and r.json()["record_written"] is True
        assert (await _row(records, "spooled.1")).confidential  # type: ignore[union-attr]
    finally:
        await client.aclose()
        records.writer.spool.close()
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_survey_rating_after_the_record_was_written(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    recorder = SqlCallFacts(sessions, lambda: datetime.now(UTC))
    try:
        await records.store.upsert([call("late.1"), call("early.1")])
        # the rating comes after the record was written: the record takes it
        assert await recorder.record_rating(RatingFact("late.1", 3, "139", "general", "", "s1001"))
        assert (await _row(records, "late.1")).rating == 3  # type: ignore[union-attr]
        # a second survey session for the same call changes nothing
        assert not await recorder.record_rating(RatingFact("late.1", 1, "139", "general", "", "x"))
        assert (await _row(records, "late.1")).rating == 3  # type: ignore[union-attr]
        # and a rewrite of the record (replay) keeps it
        await records.store.upsert([call("late.1")])
        assert (await _row(records, "late.1")).rating == 3  # type: ignore[union-attr]

        # races: records written while their ratings arrive, in every order; none lost
        n = 120
        ids = [f"race.{i}" for i in range(n)]

        async def write(i: int) -> None:
            await asyncio.sleep((i % 7) * 0.001)
            for attempt in range(50):
                try:
                    await records.store.upsert([call(ids[i])])
                    return
                except Exception:  # SQLite: a writer whose snapshot went stale fails;
                    if engine.dialect.name == "postgresql" or attempt == 49:
                        raise  # the record writer retries it (store.py), as here
                    await asyncio.sleep(0.01)

        async def rate(i: int) -> None:
            await asyncio.sleep((i % 5) * 0.001)
            assert await recorder.record_rating(RatingFact(ids[i], 1 + i % 3, "", "", "", ""))

        await asyncio.gather(*(write(i) for i in range(n)), *(rate(i) for i in range(n)))
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(CallRecord.linkedid, CallRecord.rating).where(
                        CallRecord.linkedid.in_(ids)
                    )
                )
            ).all()
        assert sorted(rows) == sorted((ids[i], 1 + i % 3) for i in range(n))
    finally:
        records.writer.spool.close()
        await engine.dispose()
