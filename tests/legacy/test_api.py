"""`/api/v1/legacy-numbers` and `/api/v1/units` with tokens and roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from callcenter.db import session_factory
from callcenter.legacy.directory import Directory
from callcenter.tokens import Role, TokenStore
from tests.conftest import LEGACY_CSV
from tests.legacy.conftest import Db

pytestmark = pytest.mark.db


class Api:
    def __init__(self, client: httpx.AsyncClient, directory: Directory, tokens: dict[str, str]):
        self.client, self.directory, self.tokens = client, directory, tokens

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def api(db: Db) -> AsyncIterator[Api]:
    store = TokenStore(session_factory(db.engine), db.clock)
    tokens = {
        "script": (await store.create("remap script", Role.INTEGRATION))[1],
        "agent": (await store.create("agent 1001", Role.AGENT, seat="1001"))[1],
        "sup": (await store.create("floor", Role.SUPERVISOR))[1],
    }
    directory = Directory(db.repo, db.clock)
    await directory.reload()
    app = create_app({}, CollectorRegistry(), "t", tokens=store, legacy=directory)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Api(client, directory, tokens)


async def test_import_list_get_put_delete(api: Api, db: Db) -> None:
    c, script = api.client, api.auth("script")
    r = await c.post(
        "/api/v1/legacy-numbers/import?dry_run=true",
        content=LEGACY_CSV.read_bytes(),
        headers=script,
    )
    assert r.status_code == 200 and r.json()["adds"] == 280 and not r.json()["applied"]
    assert len(api.directory) == 0
    r = await c.post(
        "/api/v1/legacy-numbers/import", content=LEGACY_CSV.read_bytes(), headers=script
    )
    assert r.status_code == 200 and r.json()["applied"]
    assert len(api.directory) == 280  # routed at once in this instance

    r = await c.get("/api/v1/legacy-numbers?mode=retain", headers=script)
    assert len(r.json()) == 15
    r = await c.get("/api/v1/legacy-numbers?unit=U002&queue=social-security", headers=script)
    assert len(r.json()) == 5
    r = await c.get("/api/v1/legacy-numbers", params={"district": "磐石市"}, headers=script)
    assert r.json() and all(n["district"] == "磐石市" for n in r.json())

    r = await c.get("/api/v1/legacy-numbers/0432-6645 3987", headers=script)
    assert r.status_code == 200
    assert r.json()["unit_code"] == "U001"
    assert r.json()["routes_now"]["queue"] == "hotline-social-security"

    body = {"unit_code": "U001", "mode": "dock", "queue": "general", "transfer_to": "12333"}
    r = await c.put("/api/v1/legacy-numbers/043266453987", json=body, headers=script)
    assert r.status_code == 200 and r.json()["changes"] == 1
    route = api.directory.route("043266453987", db.clock())
    assert route is not None and route.queue == "hotline-general" and route.mode == "dock"
    history = await db.repo.history("043266453987")
    assert history[-1].actor == "remap script"

    later = (db.clock() + timedelta(hours=1)).isoformat()
    r = await c.delete(
        "/api/v1/legacy-numbers/043266453987", params={"effective_from": later}, headers=script
    )
    assert r.status_code == 204
    assert api.directory.route("043266453987", db.clock()) is not None  # until its time
    assert (await c.get("/api/v1/legacy-numbers/043266453987", headers=script)).status_code == 404
    r = await c.delete("/api/v1/legacy-numbers/043266453987", headers=script)
    assert r.status_code == 404


async def test_rejections_are_422_with_every_error(api: Api) -> None:
    c, script = api.client, api.auth("script")
    dirty = (
        "number,unit_code,unit,district,mode,queue,transfer_to,note\n"
        "0432-ABC,U1,单位,市本级,merge,general,,\n"
        "043262000001,U1,单位,市本级,dock,nowhere,,\n"
    ).encode("gb18030")
    r = await c.post("/api/v1/legacy-numbers/import", content=dirty, headers=script)
    assert r.status_code == 422
    assert [(e["line"], e["column"]) for e in r.json()["detail"]] == [
        (2, "number"),
        (3, "queue"),
        (3, "transfer_to"),
    ]
    r = await c.put(
        "/api/v1/legacy-numbers/119",
        json={"unit_code": "U1", "unit": "x", "district": "y", "mode": "merge", "queue": "general"},
        headers=script,
    )
    assert r.status_code == 422 and "emergency" in r.json()["detail"][0]["reason"]
    r = await c.put(
        "/api/v1/legacy-numbers/043262000001",
        json={"unit_code": "U404", "mode": "merge", "queue": "general"},
        headers=script,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["column"] == "unit"
    assert len(api.directory) == 0


async def test_roles(api: Api) -> None:
    c = api.client
    assert (await c.get("/api/v1/legacy-numbers")).status_code == 401
    assert (await c.get("/api/v1/legacy-numbers", headers=api.auth("agent"))).status_code == 403
    r = await c.post(
        "/api/v1/legacy-numbers/import", content=LEGACY_CSV.read_bytes(), headers=api.auth("sup")
    )
    assert r.status_code == 403
    await c.post(
        "/api/v1/legacy-numbers/import",
        content=LEGACY_CSV.read_bytes(),
        headers=api.auth("script"),
    )
    r = await c.get("/api/v1/units", headers=api.auth("agent"))  # agents' transfer directory
    assert r.status_code == 200 and len(r.json()) == 109
    u003 = next(u for u in r.json() if u["code"] == "U003")
    assert u003["transfer_line"] == "12329" and len(u003["numbers"]) == 5
