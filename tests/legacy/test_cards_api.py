"""`/api/v1/units/{code}/card` and `/api/v1/unit-cards` with tokens and roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.audit.repository import AuditLog
from callcenter.db import session_factory
from callcenter.legacy.card_store import UnitCards
from callcenter.tokens import Role, TokenStore
from tests.legacy.conftest import Db, city_records

pytestmark = pytest.mark.db

CARD = {
    "responsibilities": "负责全市住房保障、公租房申请受理",
    "hours": "工作日 8:30-17:00",
    "transfer_numbers": [{"number": "0432-6200 0004", "label": "住房保障科"}],
    "kb_links": [{"title": "公租房申请条件", "url": "https://kb.example.gov.cn/h/1"}],
}


@dataclass
class Api:
    client: httpx.AsyncClient
    tokens: dict[str, str]
    audit: AuditLog

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def api(db: Db) -> AsyncIterator[Api]:
    assert (await db.repo.import_records(city_records(), actor="t", reason="city")).applied
    sessions = session_factory(db.engine)
    store = TokenStore(sessions, db.clock)
    tokens = {
        "admin": (await store.create("ops", Role.ADMIN))[1],
        "agent": (await store.create("agent 1001", Role.AGENT, seat="1001"))[1],
        "sup": (await store.create("floor", Role.SUPERVISOR))[1],
        "script": (await store.create("remap script", Role.INTEGRATION))[1],
    }
    audit = AuditLog(sessions, db.clock)
    services = ApiServices(tokens=store, unit_cards=UnitCards(sessions, db.clock), audit=audit)
    app = create_app(services, CollectorRegistry(), "t")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Api(client, tokens, audit)


async def test_get_put_409_and_roles(api: Api) -> None:
    c = api.client
    r = await c.get("/api/v1/units/U004/card", headers=api.auth("agent"))
    assert r.status_code == 200
    assert r.json() == {
        "unit_code": "U004",
        "unit": "市住房和城乡建设局",
        "district": "市本级",
        "responsibilities": "",
        "hours": "",
        "transfer_numbers": [],
        "kb_links": [],
        "version": 0,
        "updated_at": None,
        "updated_by": None,
    }
    r = await c.get("/api/v1/units/U999/card", headers=api.auth("agent"))
    assert r.status_code == 404 and "U999" in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    for odd in ("U%00", "U004%20", "%E5%8D%95%E4%BD%8D"):
        r = await c.get(f"/api/v1/units/{odd}/card", headers=api.auth("agent"))
        assert r.status_code == 404, odd

    r = await c.put("/api/v1/units/U004/card", json=CARD | {"version": 0}, headers=api.auth("sup"))
    assert r.status_code == 403
    r = await c.put(
        "/api/v1/units/U004/card", json=CARD | {"version": 0}, headers=api.auth("admin")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1 and body["updated_by"] == "ops"
    assert body["updated_at"] == "2026-12-01T16:00:00+08:00"  # city time
    assert body["transfer_numbers"] == [{"number": "043262000004", "label": "住房保障科"}]
    assert (await c.get("/api/v1/units/U004/card", headers=api.auth("sup"))).json() == body

    r = await c.put(
        "/api/v1/units/U004/card", json=CARD | {"version": 0}, headers=api.auth("admin")
    )
    assert r.status_code == 409
    assert "at version 1, not 0" in r.json()["detail"]
    r = await c.put(
        "/api/v1/units/U999/card", json=CARD | {"version": 0}, headers=api.auth("admin")
    )
    assert r.status_code == 404
    r = await c.put("/api/v1/units/U004/card", json={"hours": "全天"}, headers=api.auth("admin"))
    assert r.status_code == 422 and "body field 'version'" in r.json()["detail"]
    r = await c.put(
        "/api/v1/units/U004/card", json={"hours": "全天", "version": 1}, headers=api.auth("admin")
    )
    assert r.status_code == 200 and r.json()["responsibilities"] == ""  # the whole card
    assert (await c.get("/api/v1/units/U004/card", headers=api.auth("script"))).status_code == 403

    events = await api.audit.newest(before_id=None, limit=50)
    puts = [(e.method, e.path, e.status, e.token_name) for e in events if e.method == "PUT"]
    assert ("PUT", "/api/v1/units/U004/card", 200, "ops") in puts
    assert ("PUT", "/api/v1/units/U004/card", 409, "ops") in puts


async def test_rejections_name_the_field_and_item(api: Api) -> None:
    bad = CARD | {
        "version": 0,
        "transfer_numbers": [{"number": "12345"}, {"number": "0432-ABC", "label": "x"}],
        "kb_links": [{"title": "内网", "url": "file:///etc/passwd"}],
    }
    r = await api.client.put("/api/v1/units/U004/card", json=bad, headers=api.auth("admin"))
    assert r.status_code == 422
    problem = r.json()
    assert [e["where"] for e in problem["errors"]] == [
        "body field 'transfer_numbers[1].number'",
        "body field 'kb_links[0].url'",
    ]
    assert "body field 'transfer_numbers[1].number': letters in number" in problem["detail"]
    r = await api.client.get("/api/v1/units/U004/card", headers=api.auth("admin"))
    assert r.json()["version"] == 0  # nothing written


async def test_search_pages_and_query_rules(api: Api) -> None:
    c, admin = api.client, api.auth("admin")
    for code, text in [
        ("U003", "住房公积金提取、公租房"),
        ("U004", "公租房申请"),
        ("U005", "房产"),
    ]:
        body = {"responsibilities": text, "version": 0}
        assert (
            await c.put(f"/api/v1/units/{code}/card", json=body, headers=admin)
        ).status_code == 200
    agent = api.auth("agent")
    r = await c.get("/api/v1/unit-cards", params={"q": "公租房"}, headers=agent)
    assert r.status_code == 200
    assert [i["unit_code"] for i in r.json()["items"]] == ["U003", "U004"]
    assert r.json()["next_cursor"] is None
    r = await c.get("/api/v1/unit-cards", params={"q": "房", "limit": 2}, headers=agent)
    page = r.json()
    assert [i["unit_code"] for i in page["items"]] == ["U003", "U004"]
    r = await c.get(
        "/api/v1/unit-cards",
        params={"q": "房", "limit": 2, "cursor": page["next_cursor"]},
        headers=agent,
    )
    assert [i["unit_code"] for i in r.json()["items"]] == ["U005"] and r.json()[
        "next_cursor"
    ] is None
    r = await c.get("/api/v1/unit-cards", headers=api.auth("sup"))
    assert [i["unit_code"] for i in r.json()["items"]] == ["U003", "U004", "U005"]

    for params, where in [
        ({"q": ""}, "query parameter 'q'"),
        ({"q": "长" * 101}, "query parameter 'q'"),
        ({"q": "\u200b"}, "query parameter 'q'"),
        ({"q": "房", "cursor": "nonsense"}, "query parameter 'cursor'"),
        ({"q": "房", "qq": "x"}, "query parameter 'qq'"),
    ]:
        r = await c.get("/api/v1/unit-cards", params=params, headers=agent)
        assert r.status_code == 422, params
        assert r.json()["errors"][0]["where"] == where
    assert (await c.get("/api/v1/unit-cards", headers=api.auth("script"))).status_code == 403


async def test_not_configured_is_503(db: Db) -> None:
    store = TokenStore(session_factory(db.engine), db.clock)
    _, admin = await store.create("ops", Role.ADMIN)
    app = create_app(ApiServices(tokens=store), CollectorRegistry(), "t")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/api/v1/units/U004/card", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 503 and "unit cards" in r.json()["detail"]
