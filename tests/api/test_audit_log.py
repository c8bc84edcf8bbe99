"""Every state-changing request lands in the audit log (refused ones too), readable by
admins page by page; migration 0007 matches the model, and alembic's own environment
(callcenter/migrations/env.py) sees it. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from prometheus_client import CollectorRegistry
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.audit.repository import AuditLog
from callcenter.db import create_engine, session_factory
from callcenter.models import Base
from callcenter.tokens import Role, TokenStore

pytestmark = pytest.mark.db


async def test_changes_and_refusals_are_recorded_and_paged(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    tokens = TokenStore(sessions, clock)
    admin_id, admin = await tokens.create("ops", Role.ADMIN)
    agent_id, agent = await tokens.create("agent", Role.AGENT, seat="1001")
    audit = AuditLog(sessions, clock)
    app = create_app(ApiServices(tokens=tokens, audit=audit), CollectorRegistry(), "t")
    as_agent = {"Authorization": f"Bearer {agent}", "X-Forwarded-For": "10.1.2.3"}
    as_admin = {"Authorization": f"Bearer {admin}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.7", 5555)),
            base_url="http://t",
        ) as c:
            await c.post("/api/v1/seats/1001/pause", json={"reason": "meal"}, headers=as_agent)
            await c.post("/api/v1/seats/2002/pause", json={"reason": "meal"}, headers=as_agent)
            await c.post("/api/v1/seats/1001/login?x=1")  # no token
            await c.get("/api/v1/seats", headers=as_agent)  # reads are not audited
            assert await audit.flush() == 1  # refusals without a token: counted, then written
            page = (await c.get("/api/v1/audit?limit=2", headers=as_admin)).json()
            assert [e["status"] for e in page["items"]] == [401, 403]
            anonymous, refused = page["items"]
            assert anonymous["token_id"] is None and anonymous["query"] == "x=1"
            assert anonymous["count"] == 1 and refused["count"] == 1
            assert refused["token_id"] == agent_id and refused["role"] == "agent"
            assert refused["seat"] == "1001" and refused["path"] == "/api/v1/seats/2002/pause"
            assert refused["client"] == "192.0.2.7" and refused["forwarded_for"] == "10.1.2.3"
            cursor = page["next_cursor"]
            assert isinstance(cursor, str)  # opaque, like every list's
            older = await c.get("/api/v1/audit", params={"cursor": cursor}, headers=as_admin)
            assert [(e["method"], e["status"]) for e in older.json()["items"]] == [("POST", 503)]
            assert older.json()["next_cursor"] is None
            assert older.json()["items"][0]["id"] < refused["id"]
            mine = (await c.get(f"/api/v1/audit?token_id={agent_id}", headers=as_admin)).json()
            assert len(mine["items"]) == 2
            assert (await c.get("/api/v1/audit", headers=as_agent)).status_code == 403
            for garbage in ("yesterday", "WyJ4Il0", "Wzk5OTk5OTk5OTk5OTk5OTk5OTk5XQ"):
                bad = await c.get("/api/v1/audit", params={"cursor": garbage}, headers=as_admin)
                assert bad.status_code == 422, (garbage, bad.text)
                assert "query parameter 'cursor'" in bad.json()["detail"]
            bad = await c.get("/api/v1/audit?before=12", headers=as_admin)
            assert bad.status_code == 422 and "query parameter 'before'" in bad.json()["detail"]
        assert admin_id != agent_id
    finally:
        await engine.dispose()


async def test_migration_matches_the_model_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [
                d for d in compare_metadata(context, Base.metadata) if "api_audit_log" in repr(d)
            ]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await migrate.downgrade(engine, "0006")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "api_audit_log" not in tables
    finally:
        await engine.dispose()


async def test_alembic_environment_sees_the_model(database_url: str) -> None:
    """`alembic check` in a fresh interpreter, so only what env.py imports is known: a
    model it missed would be reported as a table to drop."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    code = (
        "import sys; from alembic import command; from callcenter.migrate import alembic_config;"
        " command.check(alembic_config(sys.argv[1]))"
    )
    url = engine.url.render_as_string(hide_password=False)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, url, stderr=asyncio.subprocess.PIPE
    )
    _, raw = await asyncio.wait_for(process.communicate(), 120)
    stderr = raw.decode()
    assert process.returncode == 0 or "AutogenerateDiffsDetected" in stderr, stderr
    assert "api_audit_log" not in stderr


async def test_a_change_whose_audit_line_fails_is_refused_before_it_is_made(
    database_url: str,
) -> None:
    """Nothing is changed that the log does not show: the row is opened before the
    handler runs, and a log that cannot be written refuses the change."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    tokens = TokenStore(sessions, clock)
    _, agent = await tokens.create("agent", Role.AGENT, seat="1001")

    class BrokenLog(AuditLog):
        async def begin(self, event: object) -> int:  # type: ignore[override]
            raise OSError("disk full")

    app = create_app(
        ApiServices(tokens=tokens, audit=BrokenLog(sessions, clock)), CollectorRegistry(), "t"
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            r = await c.post(
                "/api/v1/seats/1001/pause",
                json={"reason": "meal"},
                headers={"Authorization": f"Bearer {agent}"},
            )
            assert r.status_code == 503 and "nothing was changed" in r.text
            r = await c.get("/api/v1/seats", headers={"Authorization": f"Bearer {agent}"})
            assert r.status_code == 503  # the route's own answer (no seats system here):
            assert "audit" not in r.text  # reads pass straight through
    finally:
        await engine.dispose()
