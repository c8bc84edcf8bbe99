"""Issue 15, item 4: the record writer cannot die for good, silently.

The attack trial killed `RecordWriter.run()` with a torn line followed by a good one and
with a spool file it could not open (file descriptors exhausted), and lost a call whose
append failed. Each test does the same here: the good records still reach the database
(SQLite and PostgreSQL), the bad bytes are kept in `quarantine/`, the writer keeps
running, a refused call is held until it can be written, and a background task that
dies is logged, counted and makes `/readyz` fail until it is back."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.process.service import records_check
from callcenter.process.supervisor import Supervisor, SupervisorCollector
from callcenter.records import spool as spool_module
from callcenter.records.metrics import register_records_metrics
from callcenter.records.models import CallRecord
from callcenter.records.spool import OPEN_NAME, QUARANTINE, Spool
from callcenter.records.store import RecordStore, RecordWriter
from callcenter.records.wiring import build_records
from tests.records.factory import call

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:9/none"


def line(linkedid: str) -> str:
    return json.dumps(call(linkedid).to_json(), ensure_ascii=False)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as s:
        return sorted((await s.scalars(select(CallRecord.linkedid))).all())


async def row_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(CallRecord)) or 0)


async def until(condition: Callable[[], Coroutine[Any, Any, bool]], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110  (a database to poll, no event)
            await asyncio.sleep(0.02)


def writer_over(spool_dir: Path, engine: AsyncEngine, **kw: Any) -> RecordWriter:
    return RecordWriter(
        RecordStore(session_factory(engine)), spool_dir, flush_every_s=0.01, max_retry_s=0.05, **kw
    )


async def stop(task: asyncio.Task[None], writer: RecordWriter) -> None:
    assert not task.done(), "the writer's loop ended"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    writer.spool.close()


async def test_a_torn_line_then_good_lines_keeps_every_good_record(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    torn = line("t.2")[:37]
    (spool_dir / "sealed-000000001.jsonl").write_bytes(
        f"{line('t.1')}\n{torn}\n{line('t.3')}\n".encode()
        + b"\xff\xfe not json\n"  # bytes that are not even UTF-8
        + f"{line('t.4')}\n".encode()
    )
    # a journal a killed process left cut mid-line: the next run appends after it
    (spool_dir / OPEN_NAME).write_text(line("j.1") + "\n" + line("j.2")[:50], encoding="utf-8")
    writer = writer_over(spool_dir, engine)
    writer.add(call("j.3"))
    task = asyncio.create_task(writer.run())
    sessions = session_factory(engine)
    expected = ["j.1", "j.3", "t.1", "t.3", "t.4"]

    async def all_written() -> bool:
        return await stored(sessions) == sorted(expected)

    await until(all_written)
    quarantined = sorted(p.name for p in (spool_dir / QUARANTINE).iterdir())
    assert quarantined == [
        "sealed-000000001.bad-lines.jsonl",
        "sealed-000000001.bad-lines.jsonl.reason",
        "sealed-000000002.bad-lines.jsonl",
        "sealed-000000002.bad-lines.jsonl.reason",
    ]
    bad = (spool_dir / QUARANTINE / "sealed-000000001.bad-lines.jsonl").read_bytes()
    assert bad == torn.encode() + b"\n" + b"\xff\xfe not json\n"  # the bytes as they were
    reason = (spool_dir / QUARANTINE / "sealed-000000001.bad-lines.jsonl.reason").read_text()
    assert "sealed-000000001.jsonl:2:" in reason and "sealed-000000001.jsonl:4:" in reason
    glued = (spool_dir / QUARANTINE / "sealed-000000002.bad-lines.jsonl").read_text()
    assert glued == line("j.2")[:50] + "\n"
    assert writer.spool.bad_lines == 3 and list(spool_dir.glob("sealed-*")) == []
    assert "bad line(s) quarantined" in caplog.text
    # the writer goes on: the next call is written too
    writer.add(call("after.1"))
    expected.append("after.1")
    await until(all_written)
    await stop(task, writer)

    # a restart over the same spool, quarantine/ and all, runs and writes
    revived = writer_over(spool_dir, engine)
    revived.add(call("after.2"))
    task = asyncio.create_task(revived.run())
    expected.append("after.2")
    await until(all_written)
    await stop(task, revived)


async def test_a_torn_last_line_is_skipped_and_counted(engine: AsyncEngine, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "sealed-000000001.jsonl").write_text(
        line("k.1") + "\n" + line("k.2")[:20], encoding="utf-8"
    )
    writer = writer_over(spool_dir, engine)
    assert await writer.flush()
    assert await stored(session_factory(engine)) == ["k.1"]
    assert writer.spool.torn_lines == 1 and not (spool_dir / QUARANTINE).exists()
    writer.spool.close()


def failing_reads(monkeypatch: pytest.MonkeyPatch, name: str, times: int | None) -> list[OSError]:
    """`Path.read_bytes` of the file `name` raises EMFILE `times` times (None: always)."""
    raised: list[OSError] = []
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == name and (times is None or len(raised) < times):
            raised.append(OSError(errno.EMFILE, "Too many open files", str(self)))
            raise raised[-1]
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return raised


async def test_an_unreadable_file_is_retried_until_it_reads(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "sealed-000000001.jsonl").write_text(line("r.1") + "\n", encoding="utf-8")
    raised = failing_reads(monkeypatch, "sealed-000000001.jsonl", 3)
    writer = writer_over(spool_dir, engine, read_tries=5)
    task = asyncio.create_task(writer.run())
    sessions = session_factory(engine)

    async def written() -> bool:
        return await stored(sessions) == ["r.1"]

    await until(written)
    assert len(raised) == 3 and writer.read_failures == 3
    assert not (spool_dir / QUARANTINE).exists()
    await stop(task, writer)


async def test_a_file_that_never_reads_is_quarantined_and_the_rest_written(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "sealed-000000001.jsonl").write_text(line("q.1") + "\n", encoding="utf-8")
    (spool_dir / "sealed-000000002.jsonl").write_text(line("q.2") + "\n", encoding="utf-8")
    raised = failing_reads(monkeypatch, "sealed-000000001.jsonl", None)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), spool_dir, flush_every_s=0.01)
    writer = records.writer
    writer.read_tries, writer.max_retry_s = 4, 0.05
    registry = CollectorRegistry()
    register_records_metrics(registry, records)
    task = asyncio.create_task(writer.run())

    async def rest_written() -> bool:
        return await stored(sessions) == ["q.2"]

    await until(rest_written)
    assert len(raised) == 4
    kept = spool_dir / QUARANTINE / "sealed-000000001.jsonl"
    assert kept.read_text(encoding="utf-8") == line("q.1") + "\n"  # moved, not dropped
    reason = (spool_dir / QUARANTINE / "sealed-000000001.jsonl.reason").read_text()
    assert "unreadable after 4 tries" in reason and "Too many open files" in reason
    text = generate_latest(registry).decode()
    assert "callcenter_records_quarantined_files_total 1.0" in text
    assert "callcenter_records_spool_read_failures_total 4.0" in text
    await stop(task, writer)


def refusing_appends(monkeypatch: pytest.MonkeyPatch, error: int) -> dict[str, bool]:
    """The spool's writes fail with `error` while `state["failing"]`; a failing write
    first puts part of its line on disk, as a full disk does."""
    state = {"failing": True}
    real = spool_module._write_all

    def write_all(file: Any, data: bytes) -> None:
        if state["failing"]:
            file.write(data[: len(data) // 2])
            raise OSError(error, "simulated")
        real(file, data)

    monkeypatch.setattr(spool_module, "_write_all", write_all)
    return state


async def test_a_refused_append_keeps_the_call_and_writes_it_once(
    engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sessions = session_factory(engine)
    spool_dir = tmp_path / "spool"
    dead = create_engine(UNREACHABLE)
    writer = RecordWriter(RecordStore(session_factory(dead)), spool_dir, backlog_limit=3)
    writer.add(call("a.1"))  # on disk before the trouble
    disk = refusing_appends(monkeypatch, errno.ENOSPC)
    with caplog.at_level(logging.ERROR):
        for n in range(2, 5):
            writer.add(call(f"a.{n}"))
    assert [r.linkedid for r in writer.backlog] == ["a.2", "a.3", "a.4"]
    assert writer.append_failures >= 3
    assert "spool append failed" in caplog.text and "backlog limit" in caplog.text
    ready, detail = writer.health()
    assert not ready and "3 finished calls held in memory" in detail
    assert not (await records_check(writer)()).ok
    # disk and database both away: nothing is written, nothing is let go
    assert not await writer.flush()
    assert len(writer.backlog) == 3
    with caplog.at_level(logging.CRITICAL):
        writer.close()  # a shutdown now names what only memory holds
    assert "3 finished calls neither spooled nor written" in caplog.text
    assert "pbx1:a.2 pbx1:a.3 pbx1:a.4" in caplog.text
    # the disk comes back: the held calls go to the spool, then to the database
    disk["failing"] = False
    writer.add(call("a.5"))
    assert writer.backlog == [] and writer.health()[0]
    writer.store.sessions = sessions
    assert await writer.flush()
    assert await stored(sessions) == ["a.1", "a.2", "a.3", "a.4", "a.5"]
    assert await row_count(sessions) == 5
    # the half line the full disk left is skipped, not mistaken for a record
    assert writer.spool.torn_lines == 1  # once, though its file was read twice
    writer.spool.close()
    await dead.dispose()


async def test_a_disk_that_keeps_refusing_sends_the_held_calls_to_the_database(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(engine)
    writer = writer_over(tmp_path / "spool", engine)
    refusing_appends(monkeypatch, errno.EMFILE)
    writer.add(call("d.1"))
    writer.add(call("d.2"))
    task = asyncio.create_task(writer.run())

    async def written() -> bool:
        return await stored(sessions) == ["d.1", "d.2"]

    await until(written)
    assert writer.backlog == []
    await stop(task, writer)


async def test_a_flush_that_raises_does_not_end_the_writer(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_over(tmp_path / "spool", engine)
    real = Spool.seal
    calls = {"n": 0}

    def seal(self: Spool) -> Path | None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(self)

    monkeypatch.setattr(Spool, "seal", seal)
    writer.add(call("e.1"))
    task = asyncio.create_task(writer.run())
    sessions = session_factory(engine)

    async def written() -> bool:
        return await stored(sessions) == ["e.1"]

    await until(written)
    assert writer.errors == 2 and "Input/output error" in (writer.last_error or "")
    await stop(task, writer)


async def test_a_supervised_task_that_dies_is_logged_counted_and_not_ready(
    caplog: pytest.LogCaptureFixture,
) -> None:
    restart = asyncio.Event()

    async def pause(seconds: float) -> None:
        await restart.wait()

    supervisor = Supervisor(
        lambda: datetime(2026, 12, 2, 1, 15, 3, tzinfo=UTC),
        lambda at: at.isoformat(),
        sleep=pause,
    )
    runs = {"n": 0}
    running = asyncio.Event()

    async def writer_loop() -> None:
        runs["n"] += 1
        if runs["n"] == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        running.set()
        await asyncio.Event().wait()

    registry = CollectorRegistry()
    registry.register(SupervisorCollector(supervisor))
    with caplog.at_level(logging.ERROR):
        supervisor.start("record writer", writer_loop)
        await asyncio.sleep(0.01)
    app = create_app(ApiServices(readiness=dict(supervisor.checks())), registry, "test")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        detail = r.json()["checks"]["task:record writer"]["detail"]
        assert detail.startswith("record writer: dead since 2026-12-02T01:15:03")
        assert "OSError: [Errno 24] Too many open files" in detail
        assert "background task record writer died" in caplog.text
        assert "Traceback" in caplog.text
        text = generate_latest(registry).decode()
        assert 'callcenter_task_failures_total{task="record writer"} 1.0' in text

        restart.set()
        await asyncio.wait_for(running.wait(), 5)
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert "1 failure(s)" in r.json()["checks"]["task:record writer"]["detail"]
    await supervisor.stop()
    assert runs["n"] == 2


async def test_a_loop_that_returns_is_restarted_and_stop_ends_everything() -> None:
    supervisor = Supervisor(datetime.now, str, min_backoff_s=0.0)
    runs = {"n": 0}

    async def once() -> None:
        runs["n"] += 1

    supervisor.start("heartbeat", once)
    async with asyncio.timeout(5):
        while runs["n"] < 3:  # noqa: ASYNC110  (a count to watch, no event)
            await asyncio.sleep(0.01)
    assert supervisor.states["heartbeat"].last_error is not None
    assert "must not end" in supervisor.states["heartbeat"].last_error
    await supervisor.stop()
    with pytest.raises(ValueError, match="heartbeat"):
        supervisor.start("heartbeat", once)


async def test_bad_lines_are_set_aside_once_through_a_database_outage(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "sealed-000000001.jsonl").write_text(
        f"{line('o.1')}\n{{oops\n{line('o.2')}\n", encoding="utf-8"
    )
    dead = create_engine(UNREACHABLE)
    writer = RecordWriter(RecordStore(session_factory(dead)), spool_dir)
    assert not await writer.flush()
    assert not await writer.flush()  # the retry reads the file again
    assert sorted(p.name for p in (spool_dir / QUARANTINE).iterdir()) == [
        "sealed-000000001.bad-lines.jsonl",
        "sealed-000000001.bad-lines.jsonl.reason",
    ]
    assert writer.spool.bad_lines == 1
    sessions = session_factory(engine)
    writer.store.sessions = sessions
    assert await writer.flush()
    assert await stored(sessions) == ["o.1", "o.2"]
    writer.spool.close()
    await dead.dispose()


class SlowStore(RecordStore):
    """A store whose writes wait for `go`: calls end while the database is awaited."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessions)
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def upsert(self, records: Any, source: str = "ami") -> int:
        self.entered.set()
        await self.go.wait()
        return await super().upsert(records, source)


async def test_calls_ending_while_the_backlog_is_written_are_kept(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(engine)
    store = SlowStore(sessions)
    writer = RecordWriter(store, tmp_path / "spool")
    disk = refusing_appends(monkeypatch, errno.EMFILE)
    writer.add(call("c.1"))
    flushing = asyncio.create_task(writer.flush())
    await asyncio.wait_for(store.entered.wait(), 5)  # c.1 on its way to the database
    disk["failing"] = False
    writer.add(call("c.2"))  # into the spool
    disk["failing"] = True
    writer.add(call("c.3"))  # held again
    store.go.set()
    await flushing
    assert [r.linkedid for r in writer.backlog] == ["c.3"]
    disk["failing"] = False
    assert await writer.flush()
    assert await stored(sessions) == ["c.1", "c.2", "c.3"]
    writer.spool.close()
