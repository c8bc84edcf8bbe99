"""Issue 15, item 10: the audit log under attack. Each test performs what the trial did:
a flood of unauthenticated POSTs, a forged X-Forwarded-For from loopback, a PBX change
that then failed with a 500, requests during a database outage, a read of a confidential
call; and the retention purge. SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.audit.events import AuditEvent
from callcenter.audit.refusals import OVERFLOW_CLIENT, RefusalTally
from callcenter.audit.repository import FAILED_NOTE, AuditLog, AuditRecord
from callcenter.config import load_settings
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.process.cli import app as cli
from callcenter.process.service import proxy_options
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import call

pytestmark = pytest.mark.db


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Setup:
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenStore
    audit: AuditLog

    async def rows(self) -> list[AuditRecord]:
        return await self.audit.newest(before_id=None, limit=10_000)


async def setup(database_url: str) -> tuple[Setup, object]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    return Setup(sessions, TokenStore(sessions, now), AuditLog(sessions, now)), engine


def client(app: FastAPI, peer: str = "192.0.2.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(peer, 5555), raise_app_exceptions=False),
        base_url="http://t",
    )


class PausingService:
    """A seat service whose pause reaches the PBX and then fails (AMI answered nonsense)."""

    def __init__(self) -> None:
        self.paused: list[str] = []

    async def pause(self, seat: str, reason: str) -> None:
        self.paused.append(seat)
        raise RuntimeError("AMI: Response: Goodbye")


async def test_a_flood_of_unauthenticated_posts_makes_a_bounded_number_of_rows(
    database_url: str,
) -> None:
    s, engine = await setup(database_url)
    app = create_app(ApiServices(tokens=s.tokens, audit=s.audit), CollectorRegistry(), "t")
    try:
        async with client(app) as c:
            for n in range(300):
                r = await c.post(f"/api/v1/seats/{n}/pause", json={"reason": "meal"})
                assert r.status_code == 401
        assert await s.rows() == []  # nothing committed per request
        assert await s.audit.flush() == 1
        (row,) = await s.rows()
        assert (row.status, row.count, row.client) == (401, 300, "192.0.2.7")
        assert row.path == "/api/v1/seats/0/pause" and "300 refused" in row.note
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


def test_the_tally_of_refusals_is_capped_however_many_addresses() -> None:
    tally = RefusalTally(max_keys=10)
    for n in range(5_000):
        tally.add(AuditEvent(None, None, None, None, "POST", "/api/x", "", 401, f"10.0.{n}", ""))
    events = tally.take()
    assert len(events) == 11 and sum(e.count for e in events) == 5_000
    overflow = next(e for e in events if e.client == OVERFLOW_CLIENT)
    assert overflow.count == 4_990
    assert len(tally) == 0


async def served_client_address(tmp_path: Path, trusted: list[str]) -> str:
    """POSTs without a token and a forged X-Forwarded-For to a real uvicorn configured
    as `callcenter serve` configures it; the client address the audit row got."""
    s, engine = await setup(f"sqlite+aiosqlite:///{tmp_path / f'xff-{uuid.uuid4().hex}.db'}")
    app = create_app(ApiServices(tokens=s.tokens, audit=s.audit), CollectorRegistry(), "t")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = load_settings(trusted_proxies=trusted)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", **proxy_options(settings))
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            r = await c.post("/api/v1/seats/1001/pause", headers={"X-Forwarded-For": "203.0.113.9"})
            assert r.status_code == 401
        await s.audit.flush()
        (row,) = await s.rows()
        assert row.forwarded_for == "203.0.113.9"  # kept as claimed, for the record
        return row.client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
        await engine.dispose()  # type: ignore[attr-defined]


async def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(tmp_path: Path) -> None:
    assert await served_client_address(tmp_path, []) == "127.0.0.1"
    assert await served_client_address(tmp_path, ["127.0.0.1"]) == "203.0.113.9"
    assert await served_client_address(tmp_path, ["10.0.0.0/8"]) == "127.0.0.1"


async def test_a_pbx_change_that_fails_with_a_500_is_audited(database_url: str) -> None:
    s, engine = await setup(database_url)
    agent_id, agent = await s.tokens.create("agent", Role.AGENT, seat="1001")
    service = PausingService()
    services = ApiServices(tokens=s.tokens, audit=s.audit, seat_service=service)  # type: ignore[arg-type]
    app = create_app(services, CollectorRegistry(), "t")
    try:
        async with client(app) as c:
            r = await c.post(
                "/api/v1/seats/1001/pause",
                json={"reason": "meal"},
                headers={"Authorization": f"Bearer {agent}"},
            )
        assert r.status_code == 500 and service.paused == ["1001"]
        (row,) = await s.rows()
        assert (row.status, row.token_id, row.path) == (500, agent_id, "/api/v1/seats/1001/pause")
        assert row.note == FAILED_NOTE and "may have been applied" in row.note
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_during_a_database_outage_refusals_stay_refusals(
    database_url: str, tmp_path: Path
) -> None:
    """Tokens are checked (and cached) while the database is up; then the audit log's
    database is gone: a 401 stays a 401, a 403 a 403, and an authorised change is
    refused before it is made instead of being made unrecorded."""
    s, engine = await setup(database_url)
    _, agent = await s.tokens.create("agent", Role.AGENT, seat="1001")
    _, script = await s.tokens.create("script", Role.INTEGRATION)
    gone = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    down = AuditLog(session_factory(gone), now)
    service = PausingService()
    services = ApiServices(tokens=s.tokens, audit=down, seat_service=service)  # type: ignore[arg-type]
    app = create_app(services, CollectorRegistry(), "t")
    body = {"reason": "meal"}
    try:
        for token in (agent, script):
            assert await s.tokens.verify(token) is not None  # cached from here on
        async with client(app) as c:
            r = await c.post("/api/v1/seats/1001/pause", json=body)
            assert r.status_code == 401, r.text
            as_script = {"Authorization": f"Bearer {script}"}
            r = await c.post("/api/v1/seats/1001/pause", json=body, headers=as_script)
            assert r.status_code == 403, r.text
            as_agent = {"Authorization": f"Bearer {agent}"}
            r = await c.post("/api/v1/seats/1001/pause", json=body, headers=as_agent)
            assert r.status_code == 503 and "nothing was changed" in r.text
        assert service.paused == []  # the PBX was not touched
        with pytest.raises(OperationalError):
            await down.flush()  # still down: the counted refusals wait
        down_refusals = await asyncio.wait_for(_retry_flush_into(down, s), 10)
        assert sorted((e.status, e.count) for e in down_refusals) == [(401, 1), (403, 1)]
    finally:
        await gone.dispose()
        await engine.dispose()  # type: ignore[attr-defined]


async def _retry_flush_into(down: AuditLog, up: Setup) -> list[AuditRecord]:
    """The database is back: what was counted during the outage is written."""
    down._sessions = up.sessions  # the same log, its database back
    assert await down.flush() == 2
    return await up.rows()


async def test_a_read_of_a_confidential_call_is_audited(database_url: str, tmp_path: Path) -> None:
    s, engine = await setup(database_url)
    records = build_records(s.sessions, LiveState(time.time), tmp_path / "spool")
    await records.store.upsert(
        [call("open.1"), call("secret.1", confidential=True, caller="13912341111")]
    )
    sup_id, sup = await s.tokens.create("floor", Role.SUPERVISOR)
    app = create_app(
        ApiServices.from_systems(tokens=s.tokens, records=records, audit=s.audit),
        CollectorRegistry(),
        "t",
    )
    as_sup = {"Authorization": f"Bearer {sup}"}
    try:
        async with client(app) as c:
            assert (await c.get("/api/v1/calls/pbx1:open.1", headers=as_sup)).status_code == 200
            assert await s.rows() == []  # an ordinary call's read is not
            r = await c.get("/api/v1/calls/pbx1:secret.1", headers=as_sup)
            assert r.status_code == 200 and r.json()["caller"] == "139****1111"
            (read,) = await s.rows()
            assert (read.method, read.path, read.token_id) == (
                "READ",
                "/api/v1/calls/pbx1:secret.1",
                sup_id,
            )
            assert read.note == "confidential call" and read.client == "192.0.2.7"
            r = await c.get("/api/v1/calls/export.csv", headers=as_sup)
            assert r.status_code == 200 and "139****1111" in r.text
            export, _ = await s.rows()
            assert export.method == "READ" and export.path.startswith("/api/v1/calls/export.csv")
            assert export.note == "export: 1 confidential call(s)"
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_rows_past_the_retention_are_purged(database_url: str) -> None:
    s, engine = await setup(database_url)
    clock_now = [now() - timedelta(days=500)]
    old = AuditLog(s.sessions, lambda: clock_now[0], retention_days=400)
    event = AuditEvent(1, "ops", "admin", None, "POST", "/api/v1/ivr", "", 200, "10.0.0.1", "")
    try:
        await old.record(event)  # 500 days ago
        clock_now[0] = now() - timedelta(days=10)
        await old.record(event)
        clock_now[0] = now()
        assert await old.purge() == 1
        assert len(await s.rows()) == 1
        forever = AuditLog(s.sessions, now, retention_days=0)
        assert await forever.purge() == 0
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_the_cli_purges_on_demand(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    s, engine = await setup(database_url)
    long_ago = AuditLog(s.sessions, lambda: now() - timedelta(days=40))
    event = AuditEvent(1, "ops", "admin", None, "POST", "/api/v1/ivr", "", 200, "10.0.0.1", "")
    await long_ago.record(event)
    await s.audit.record(event)
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "purge"])
        assert result.exit_code == 0 and "purged 0" in result.output  # 400 days by default
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["audit", "purge", "--days", "30"]
        )
        assert result.exit_code == 0 and "purged 1" in result.output, result.output
        assert len(await s.rows()) == 1
    finally:
        await engine.dispose()  # type: ignore[attr-defined]
