"""GET/PUT /api/v1/ivr: admin only, validated like the flow file, switched at once."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from agi.ivr.catalog import load_catalog
from agi.ivr.store import FlowStore
from api.app import create_app
from api.ivr import _EXAMPLE as SHIPPED
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.tokens import Role
from tests.api.server import sqlite_tokens


async def test_get_put_and_rejections(tmp_path: Path) -> None:
    tokens, engine = await sqlite_tokens(tmp_path)
    flows = FlowStore(
        load_catalog(),
        session_factory(engine),
        lambda: datetime.now(UTC),
        queues=QueueCatalog.default,
    )
    _, admin = await tokens.create("ops", Role.ADMIN)
    _, supervisor = await tokens.create("floor", Role.SUPERVISOR)
    app = create_app(ApiServices(tokens=tokens, ivr=flows), CollectorRegistry(), "t")
    as_admin = {"Authorization": f"Bearer {admin}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            now = (await c.get("/api/v1/ivr", headers=as_admin)).json()
            assert now["source"] == "file" and now["version"] == SHIPPED["version"]

            broken = copy.deepcopy(SHIPPED)
            broken["survey"]["ask"] = "no-such-prompt"
            r = await c.put("/api/v1/ivr", json=broken, headers=as_admin)
            assert r.status_code == 422
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "no-such-prompt" in r.json()["detail"]
            r = await c.put("/api/v1/ivr", json={"version": 0}, headers=as_admin)
            assert r.status_code == 422 and "version" in r.json()["detail"]
            assert flows.source == "file"  # nothing changed

            newer = copy.deepcopy(SHIPPED)
            newer["version"] = SHIPPED["version"] + 1
            r = await c.put("/api/v1/ivr", json=newer, headers=as_admin)
            assert r.status_code == 200, r.text
            assert r.json()["source"].startswith("database id ")
            assert flows.current.version == newer["version"]  # running now
            assert (await c.get("/api/v1/ivr", headers=as_admin)).json() == r.json()

            as_supervisor = {"Authorization": f"Bearer {supervisor}"}
            assert (await c.get("/api/v1/ivr", headers=as_supervisor)).status_code == 403
            r = await c.put("/api/v1/ivr", json=newer, headers=as_supervisor)
            assert r.status_code == 403
    finally:
        await engine.dispose()
