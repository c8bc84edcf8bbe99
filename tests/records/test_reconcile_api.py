"""GET /api/v1/records/reconciliation: the stored runs, newest first, paged."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.reconcile import Reconciler
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from tests.records.ledger_fixtures import NODE, load, route

pytestmark = pytest.mark.db
FROM = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


async def test_runs_newest_first_in_pages(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await load(engine)
        sessions = session_factory(engine)
        records = build_records(sessions, LiveState(time.time), tmp_path / "spool", routes=route)
        reconciler = Reconciler(sessions, records.store, NODE, lambda: FROM + timedelta(hours=2))
        await reconciler.run(FROM, FROM + timedelta(hours=1), dry_run=True)
        await reconciler.run(FROM, FROM + timedelta(hours=1))
        await reconciler.run(FROM, FROM + timedelta(hours=1))
        tokens = TokenStore(sessions, lambda: datetime.now(UTC))
        _, supervisor = await tokens.create("floor", Role.SUPERVISOR)
        app = create_app(
            ApiServices.from_systems(tokens=tokens, records=records), CollectorRegistry(), "t"
        )
        headers = {"Authorization": f"Bearer {supervisor}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = await client.get("/api/v1/records/reconciliation?limit=2", headers=headers)
            assert first.status_code == 200, first.text
            body = first.json()
            assert [(r["rebuilt"], r["corrected"], r["dry_run"]) for r in body["items"]] == [
                (0, 0, False),
                (1, 4, False),
            ]
            assert body["items"][1]["ledger_calls"] == 17 and body["items"][1]["error"] == ""
            cursor = body["next_cursor"]
            assert cursor
            second = await client.get(
                f"/api/v1/records/reconciliation?limit=2&cursor={cursor}", headers=headers
            )
            rest = second.json()
            assert [r["dry_run"] for r in rest["items"]] == [True]
            assert rest["next_cursor"] is None
    finally:
        await engine.dispose()
