"""`call.answered` and `call.intake` (SQLite and PostgreSQL): an answer is copied off the
AMI reader's path and written by its own task, or by the first later transaction about
its call, whichever comes first; every event of a call is stored in the order of the
facts (offered, answered, intake versions, ended), once; numbers and a confidential
call's summary as an integration token reads them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ami import events as ev
from callcenter import migrate
from callcenter.clock import SHANGHAI
from callcenter.config import WEBHOOK_EVENTS, WebhookSubscription
from callcenter.db import create_engine, session_factory
from callcenter.records.announce import Announcer
from callcenter.records.answers import Answer, AnswerLog
from callcenter.records.builder import FinishedCall, RecordBuilder
from callcenter.records.intake import Author, CallAtSeat, IntakeFields, SqlIntake
from callcenter.records.store import DialedUnit, RecordStore
from callcenter.tokens import Role
from callcenter.webhooks.models import WebhookEvent
from callcenter.webhooks.outbox import Outbox
from tests.records.test_builder_cases import SEAT, complete, connect, hangup, new, snap
from tests.webhooks.harness import SECRETS, HandClock

pytestmark = pytest.mark.db

T0 = 1_795_000_000.0
AGENT = Author("agent-1001", Role.AGENT, "1001")
PLATFORM = Author("platform", Role.INTEGRATION)
SUPERVISOR = Author("lead", Role.SUPERVISOR)


@dataclass
class Desk:
    """One instance's records as far as these events go."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    answers: AnswerLog
    store: RecordStore
    intake: SqlIntake
    builder: RecordBuilder
    finished: list[FinishedCall]
    now: list[float]

    def feed(self, *events: ev.AmiEvent, step_s: float = 1.0) -> None:
        for event in events:
            self.now[0] += step_s
            self.builder.apply("pbx1", event)

    async def events(self) -> list[dict]:  # type: ignore[type-arg]
        async with self.sessions() as session:
            rows = await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
            return [json.loads(r.payload) | {"stream": r.stream} for r in rows]


def _routes(dialed: str) -> DialedUnit | None:
    return DialedUnit("HOUSING", "上城区", "queue") if dialed == "12345" else None


async def _units(code: str) -> str | None:
    return {"HOUSING": "市住房保障和房产管理局"}.get(code)


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    every = WebhookSubscription(
        name="province",
        url="http://127.0.0.1:9/province",
        secret=SecretStr(SECRETS["province"]),
        events=list(WEBHOOK_EVENTS),
    )
    now = [T0]
    answers = AnswerLog(sessions, lambda node, linkedid: 3)
    outbox = Outbox([every], SHANGHAI.iso, HandClock())
    announcer = Announcer(outbox, SHANGHAI, answers, route=lambda: _routes)
    store = RecordStore(sessions, _routes, written=announcer.records_written)
    intake = SqlIntake(
        sessions,
        lambda: now[0],
        lambda node, linkedid: None,
        _units,
        announce=announcer.intake_written,
    )
    finished: list[FinishedCall] = []
    builder = RecordBuilder(lambda: now[0], finished.append, answered=answers.saw)
    try:
        yield Desk(engine, sessions, answers, store, intake, builder, finished, now)
    finally:
        await engine.dispose()


def _answered_call(desk: Desk) -> None:
    join = ev.QueueCallerJoin("QueueCallerJoin", {}, channel=snap(), queue="hotline-general")
    desk.feed(new(), join, new(SEAT), connect(hold_time=2))


def _ended_call(desk: Desk) -> None:
    desk.feed(complete(30), hangup(), hangup(SEAT))


def _kinds(events: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["type"] for e in events]


async def test_an_answer_is_written_by_its_task_with_the_pop_facts(desk: Desk) -> None:
    _answered_call(desk)
    assert len(desk.answers.pending) == 1 and not await desk.events()  # memory only
    assert await desk.answers.flush()
    events = await desk.events()
    assert _kinds(events) == ["call.offered", "call.answered"]
    answered = events[1]["data"]
    assert answered == {
        "id": "pbx1:1.1",
        "node": "pbx1",
        "linkedid": "1.1",
        "started_at": SHANGHAI.iso(T0 + 1),
        "answered_at": SHANGHAI.iso(T0 + 4),
        "caller": "139****1111",  # as an integration token sees a call in progress
        "dialed": "12345",
        "unit": "HOUSING",
        "district": "上城区",
        "mode": "queue",
        "ivr_keys": "",
        "queue": "general",  # the directory's name
        "wait_s": 2.0,
        "priority": 3,
        "seat": "1001",
    }
    assert {e["stream"] for e in events} == {"call:pbx1:1.1"}
    assert not desk.answers.pending
    _ended_call(desk)
    await desk.store.upsert(desk.finished)
    events = await desk.events()
    # the record's offer is the answer's (one event), its end comes after the answer
    assert _kinds(events) == ["call.offered", "call.answered", "call.ended"]
    assert events[0]["data"]["offered_at"] == SHANGHAI.iso(T0 + 2)


async def test_an_answer_not_yet_written_goes_ahead_of_the_record(desk: Desk) -> None:
    _answered_call(desk)
    _ended_call(desk)
    await desk.store.upsert(desk.finished)
    assert _kinds(await desk.events()) == ["call.offered", "call.answered", "call.ended"]
    assert await desk.answers.flush()  # the task comes late: nothing is stored twice
    assert len(await desk.events()) == 3 and not desk.answers.pending


async def test_intake_versions_follow_the_answer_as_integration_reads_them(desk: Desk) -> None:
    _answered_call(desk)
    in_call = CallAtSeat("1001", True)
    given = IntakeFields("complaint", "HOUSING", "电梯停运三天", "ZJ-1", False)
    await desk.intake.write("pbx1", "1.1", given, AGENT, in_call)
    # the platform links its own ticket: a new version, announced like any other (its
    # author and role say who wrote it; other subscribers and the version count need it)
    await desk.intake.amend("pbx1", "1.1", {"ticket": "ZJ-2"}, PLATFORM, in_call)
    events = await desk.events()
    assert _kinds(events) == ["call.offered", "call.answered", "call.intake", "call.intake"]
    first, second = events[2]["data"], events[3]["data"]
    assert first["call"] == "pbx1:1.1" and first["version"] == 1
    assert first["kind"] == "complaint" and first["unit_name"] == "市住房保障和房产管理局"
    assert first["summary"] == "电梯停运三天" and not first["summary_hidden"]
    assert first["ticket"] == "ZJ-1" and first["seat"] == "1001" and not first["correction"]
    assert second["version"] == 2 and second["ticket"] == "ZJ-2"
    assert second["role"] == "integration" and second["summary"] == "电梯停运三天"
    _ended_call(desk)
    await desk.store.upsert(desk.finished)
    assert _kinds(await desk.events())[-1] == "call.ended"


async def test_a_confidential_calls_summary_is_withheld(desk: Desk) -> None:
    _answered_call(desk)
    given = IntakeFields("report", "HOUSING", "某人在某处倾倒废料", None, False)
    await desk.intake.write("pbx1", "1.1", given, AGENT, CallAtSeat("1001", True))
    _ended_call(desk)
    await desk.store.upsert(desk.finished)
    ended = CallAtSeat("1001", False, desk.now[0], 0.0)  # the mark is in the database
    # a correction to another kind: the call stays confidential (its mark is a fact)
    changed = IntakeFields("complaint", "HOUSING", "更正：倾倒建筑废料", "ZJ-9", False)
    await desk.intake.write("pbx1", "1.1", changed, SUPERVISOR, ended)
    intakes = [e["data"] for e in await desk.events() if e["type"] == "call.intake"]
    assert [(i["version"], i["summary"], i["summary_hidden"]) for i in intakes] == [
        (1, "", True),
        (2, "", True),
    ]
    assert intakes[1]["correction"] and intakes[1]["ticket"] == "ZJ-9"


async def test_no_subscriber_no_answer_kept(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        answers = AnswerLog(sessions)
        only_ended = WebhookSubscription(
            url="http://127.0.0.1:9/x", secret=SecretStr(SECRETS["archive"]), events=["call.ended"]
        )
        Announcer(Outbox([only_ended], SHANGHAI.iso), SHANGHAI, answers)
        finished: list[FinishedCall] = []
        builder = RecordBuilder(lambda: T0, finished.append, answered=answers.saw)
        join = ev.QueueCallerJoin("QueueCallerJoin", {}, channel=snap(), queue="hotline-general")
        for event in (new(), join, new(SEAT), connect()):
            builder.apply("pbx1", event)
        assert not answers.pending
    finally:
        await engine.dispose()


async def test_a_failed_write_keeps_the_answers_and_a_full_backlog_counts_drops(
    desk: Desk,
) -> None:
    written = desk.answers.announce
    assert written is not None

    async def down(session: AsyncSession, answers: list[Answer]) -> None:
        raise ConnectionError("database down")

    desk.answers.announce = down
    _answered_call(desk)
    assert not await desk.answers.flush()
    assert len(desk.answers.pending) == 1 and desk.answers.failures == 1
    desk.answers.limit = 1  # another answer (a second member) finds the backlog full
    other = snap("2.1")  # a channel of the same call
    desk.feed(
        ev.Newchannel("Newchannel", {}, channel=other),
        ev.AgentConnect(
            "AgentConnect", {}, channel=other, dest=snap("2.2"), queue="hotline-general",
            interface="PJSIP/1002", member_name="1002", hold_time=1,
        ),
    )  # fmt: skip
    assert desk.answers.dropped == 1 and len(desk.answers.pending) == 1
    desk.answers.announce = written  # back: the kept answer is written
    assert await desk.answers.flush()
    assert _kinds(await desk.events()) == ["call.offered", "call.answered"]
    assert not desk.answers.pending


async def test_the_same_seat_answering_again_is_a_new_answer(desk: Desk) -> None:
    """A caller back from a failed transfer is taken on a new member channel: announced
    again; the first answer replayed is not."""
    _answered_call(desk)
    again = ev.AgentConnect(
        "AgentConnect", {}, channel=snap(), dest=snap("1.3", context="from-seats", exten="s"),
        queue="hotline-general", interface="PJSIP/1001", member_name="1001", hold_time=1,
    )  # fmt: skip
    desk.feed(connect(hold_time=2), again, again)
    assert await desk.answers.flush()
    events = await desk.events()
    assert _kinds(events) == ["call.offered", "call.answered", "call.answered"]
    assert [e["data"]["seat"] for e in events[1:]] == ["1001", "1001"]
