"""`/api/v1/legacy-numbers` and `/api/v1/units` with tokens and roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.legacy import csvfile
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
    app = create_app(ApiServices(tokens=store, legacy=directory), CollectorRegistry(), "t")
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
    assert len(r.json()["items"]) == 15 and r.json()["next_cursor"] is None
    r = await c.get("/api/v1/legacy-numbers?unit=U002&queue=social-security", headers=script)
    assert len(r.json()["items"]) == 5
    r = await c.get(
        "/api/v1/legacy-numbers?unit=U002&queue=hotline-social-security", headers=script
    )
    assert len(r.json()["items"]) == 5
    r = await c.get("/api/v1/legacy-numbers?queue=nope", headers=script)
    assert r.status_code == 422 and "known: general, enterprise" in r.json()["detail"]
    r = await c.get("/api/v1/legacy-numbers", params={"district": "磐石市"}, headers=script)
    rows = r.json()["items"]
    assert rows and all(n["district"] == "磐石市" for n in rows)

    r = await c.get("/api/v1/legacy-numbers/0432-6645 3987", headers=script)
    assert r.status_code == 200
    assert r.json()["unit_code"] == "U001"
    assert r.json()["routes_now"]["queue"] == "social-security"
    assert r.json()["routes_now"]["asterisk"] == "hotline-social-security"

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
    r = await c.get("/api/v1/units?limit=1000", headers=api.auth("agent"))  # transfer directory
    assert r.status_code == 200 and len(r.json()["items"]) == 109
    u003 = next(u for u in r.json()["items"] if u["code"] == "U003")
    assert u003["transfer_line"] == "12329" and len(u003["numbers"]) == 5


async def walk(api: Api, path: str, limit: int, **params: str) -> list[list[dict[str, object]]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[dict[str, object]]] = []
    cursor: str | None = None
    while True:
        query = params | {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        r = await api.client.get(path, params=query, headers=api.auth("script"))
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages


async def test_lists_are_cursor_pages(api: Api) -> None:
    c, script = api.client, api.auth("script")
    await c.post("/api/v1/legacy-numbers/import", content=LEGACY_CSV.read_bytes(), headers=script)
    pages = await walk(api, "/api/v1/legacy-numbers", 64)
    assert [len(p) for p in pages] == [64, 64, 64, 64, 24]
    keys = [(n["unit_code"], n["number"]) for p in pages for n in p]
    assert keys == sorted(set(keys)) and len(keys) == 280  # no row twice, none missed
    assert (
        len([n for p in await walk(api, "/api/v1/legacy-numbers", 4, mode="retain") for n in p])
        == 15
    )
    units = [u["code"] for p in await walk(api, "/api/v1/units", 50) for u in p]
    assert len(units) == 109 and units == sorted(set(units))

    # keyset: a number added behind the cursor does not shift the next page, one
    # added ahead of it is on it
    first = (await c.get("/api/v1/legacy-numbers?limit=10", headers=script)).json()
    for number, unit in (("0432-60000001", units[0]), ("0432-60000002", units[-1])):
        body = {"unit_code": unit, "mode": "merge", "queue": "general"}
        r = await c.put(f"/api/v1/legacy-numbers/{number}", json=body, headers=script)
        assert r.status_code == 200, r.text
    after = await c.get(
        "/api/v1/legacy-numbers",
        params={"cursor": first["next_cursor"], "limit": "1000"},
        headers=script,
    )
    shown = [n["number"] for n in after.json()["items"]]
    assert len(shown) == 280 - 10 + 1 and "043260000002" in shown
    assert "043260000001" not in shown and not {n["number"] for n in first["items"]} & set(shown)


async def test_filters_and_cursors_are_validated(api: Api) -> None:
    c, script = api.client, api.auth("script")
    for params, named in (
        ({"mode": "bogus"}, "query parameter 'mode'"),
        ({"moed": "merge"}, "query parameter 'moed'"),
        ({"cursor": "not-a-cursor"}, "query parameter 'cursor'"),
        ({"cursor": "WzFd"}, "query parameter 'cursor'"),  # [1]: another list's shape
        ({"limit": "0"}, "query parameter 'limit'"),
        ({"limit": "1001"}, "query parameter 'limit'"),
    ):
        r = await c.get("/api/v1/legacy-numbers", params=params, headers=script)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert named in r.json()["detail"], (params, r.json())
    r = await c.delete(
        "/api/v1/legacy-numbers/043266453987",
        params={"effective_from": "next tuesday"},
        headers=script,
    )
    assert r.status_code == 422 and "query parameter 'effective_from'" in r.json()["detail"]
    r = await c.put(
        "/api/v1/legacy-numbers/043266453987",
        json={"unit_code": "U001", "mode": "merge", "queue": "general", "colour": "red"},
        headers=script,
    )
    assert r.status_code == 422 and "body field 'colour'" in r.json()["detail"]
    # the door first: no token is a 401 even with a bad query
    assert (await c.get("/api/v1/legacy-numbers?moed=merge")).status_code == 401


async def test_a_hostile_encoding_is_a_422_naming_it(api: Api) -> None:
    for encoding in ("utf\x008", "rot13", "no-such-codec"):
        r = await api.client.post(
            "/api/v1/legacy-numbers/import",
            params={"encoding": encoding},
            content=LEGACY_CSV.read_bytes(),
            headers=api.auth("script"),
        )
        assert r.status_code == 422, (encoding, r.text)
        assert "encoding" in str(r.json()["detail"]), r.text


async def test_an_export_imports_back_through_the_api(api: Api, db: Db) -> None:
    c, script = api.client, api.auth("script")
    r = await c.post(
        "/api/v1/legacy-numbers/import", content=LEGACY_CSV.read_bytes(), headers=script
    )
    assert r.status_code == 200 and r.json()["applied"]
    records = await db.repo.records()
    for encoding in ("utf-8-sig", "gb18030"):
        exported = csvfile.write(records, encoding)
        r = await c.post(
            "/api/v1/legacy-numbers/import",
            params={"prune": "true"},
            content=exported,
            headers=script,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["encoding"], r.json()["rows"], r.json()["applied"]) == (
            encoding,
            280,
            False,
        )


async def test_a_prune_removing_too_much_is_a_422_unless_forced(api: Api, db: Db) -> None:
    """The CLI's prune guard is the domain's: the API import refuses the same prune."""
    c, script = api.client, api.auth("script")
    r = await c.post(
        "/api/v1/legacy-numbers/import", content=LEGACY_CSV.read_bytes(), headers=script
    )
    assert r.status_code == 200 and r.json()["adds"] == 280
    header_only = b"number,unit_code,unit,district,mode,queue,transfer_to,note\n"
    for params in ({"prune": "true"}, {"prune": "true", "dry_run": "true"}):
        r = await c.post(
            "/api/v1/legacy-numbers/import", params=params, content=header_only, headers=script
        )
        assert r.status_code == 422, r.text
        [error] = r.json()["detail"]
        assert error["line"] is None and error["column"] == "prune"
        assert error["reason"].startswith("would remove 280 of 280 numbers (100.0%)")
    assert len(await db.repo.records()) == 280 and len(api.directory) == 280
    r = await c.post(
        "/api/v1/legacy-numbers/import",
        params={"prune": "true", "force": "true"},
        content=header_only,
        headers=script,
    )
    assert r.status_code == 200 and r.json()["removals"] == 280, r.text
    assert await db.repo.records() == [] and len(api.directory) == 0
