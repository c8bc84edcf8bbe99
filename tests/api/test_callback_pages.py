"""GET /api/v1/callbacks in pages: line order (due_at, then id) with ties on due_at
split across pages, a status filter, and hostile cursors refused. SQLite and
PostgreSQL (the keyset compares a timestamp column on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.pagination import encode_cursor
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.callback_tasks import SqlCallbackTasks
from callcenter.records.models import CallbackTask
from callcenter.tokens import Principal, Role
from queues.callbacks import CallbackPolicy, CallbackWorklist
from tests.api.static_tokens import AS_SUPERVISOR, StaticTokens

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def test_callbacks_page_in_line_order(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    # 7 tasks, three of them due at the same instant: only the id orders those
    dues = [T0, T0 + timedelta(seconds=30), T0, T0 + timedelta(minutes=5), T0, T0, T0]
    async with sessions.begin() as session:
        for n, due in enumerate(dues):
            session.add(
                CallbackTask(
                    uniqueid=f"1764141243.{n}",
                    source="abandoned",
                    caller=f"1395800{n:04d}",
                    queue="hotline-housing",
                    waited_s=30.0 + n,
                    priority=0,
                    status="cancelled" if n == 6 else "open",
                    attempts=0,
                    max_attempts=3,
                    due_at=due,
                    created_at=T0,
                    updated_at=T0,
                )
            )
    worklist = CallbackWorklist(
        SqlCallbackTasks(sessions),
        LiveState(lambda: T0.timestamp()),
        CallbackPolicy(),
        lambda _i: None,
        {},
    )
    tokens = StaticTokens({"cc_test-supervisor": Principal(1, "floor", Role.SUPERVISOR, None)})
    app = create_app(ApiServices(tokens=tokens, callbacks=worklist), CollectorRegistry(), "t")  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=AS_SUPERVISOR
        ) as client:

            async def walk(**params: str) -> tuple[list[str], int]:
                callers: list[str] = []
                cursor, pages = None, 0
                while True:
                    query = params | ({"cursor": cursor} if cursor else {})
                    r = await client.get("/api/v1/callbacks", params=query)
                    assert r.status_code == 200, r.text
                    callers += [t["caller"] for t in r.json()["items"]]
                    pages += 1
                    cursor = r.json()["next_cursor"]
                    if cursor is None:
                        return callers, pages

            # in line order; the numbers masked (callcenter/privacy.py: live views)
            expected = ["139****0000", "139****0002", "139****0004", "139****0005"]
            expected += ["139****0006", "139****0001", "139****0003"]
            assert await walk(limit="2") == (expected, 4)
            assert await walk(limit="100") == (expected, 1)
            opened = [c for c in expected if c != "139****0006"]
            assert await walk(limit="2", status="open") == (opened, 3)

            for params, named in (
                ({"status": "lost"}, "query parameter 'status'"),
                ({"cursor": encode_cursor(("yesterday", 1))}, "query parameter 'cursor'"),
                ({"cursor": encode_cursor(("2026-11-26T09:00:00", 1))}, "query parameter 'cursor'"),
                ({"cursor": encode_cursor((1, 1))}, "query parameter 'cursor'"),
                ({"limit": "5000"}, "query parameter 'limit'"),
                ({"staus": "open"}, "query parameter 'staus'"),
            ):
                r = await client.get("/api/v1/callbacks", params=params)
                assert r.status_code == 422 and named in r.json()["detail"], (params, r.text)
    finally:
        await engine.dispose()
