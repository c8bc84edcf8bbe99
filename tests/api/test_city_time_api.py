"""City time at the API's edge (api/city.py): a bare date or a naive date-time in a
query is the city's, a bad one is a 422 naming the parameter, and every time the API
returns (REST and the live stream) is ISO 8601 in city time with its offset, in the
zone the app was built with."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.live_table import RowDelta, delta_json
from api.live_ws import LiveStream
from api.services import ApiServices
from callcenter import migrate
from callcenter.audit.repository import AuditLog
from callcenter.clock import SHANGHAI, CityTime
from callcenter.db import create_engine, session_factory
from callcenter.legacy.directory import Directory
from callcenter.legacy.repository import LegacyRepository
from callcenter.live.changes import NodeReady
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call, Member, Queue
from callcenter.records.callback_tasks import SqlCallbackTasks
from callcenter.records.models import CallbackTask, ReconciliationRun
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from queues.callbacks import CallbackPolicy, CallbackWorklist
from tests.conftest import LEGACY_CSV
from tests.records.factory import call

pytestmark = pytest.mark.db

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
#: 00:30 on 2026-12-02 in the city (UTC+8): a call of that city day
IN_DAY = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
#: 23:59 on 2026-12-01 in the city: the day before, though the same UTC date
BEFORE = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)
BERLIN = CityTime.named("Europe/Berlin")

#: every field of a response that is a point in time
TIME_FIELDS = {
    "started_at",
    "ended_at",
    "period_start",
    "at",
    "due_at",
    "created_at",
    "updated_at",
    "effective_from",
    "state_since",
    "last_call",
    "finished_at",
    "window_from",
    "window_to",
}


@dataclass
class Api:
    client: httpx.AsyncClient
    headers: dict[Role, dict[str, str]]

    async def get(self, path: str, role: Role = Role.SUPERVISOR, **params: str) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers[role])


async def _api(database_url: str, tmp_path: Path, city: CityTime) -> AsyncIterator[Api]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    await records.store.upsert(
        [
            call("in.1", started_at=IN_DAY.timestamp()),
            call("before.1", started_at=BEFORE.timestamp()),
        ]
    )
    async with sessions.begin() as session:
        session.add(
            ReconciliationRun(
                node="pbx1",
                started_at=IN_DAY,
                finished_at=IN_DAY,
                window_from=BEFORE,
                window_to=IN_DAY,
            )
        )
        session.add(
            CallbackTask(
                uniqueid="in.1",
                source="abandoned",
                caller="13958001234",
                queue="hotline-housing",
                waited_s=30.0,
                priority=0,
                status="open",
                attempts=0,
                max_attempts=3,
                due_at=IN_DAY,
                created_at=BEFORE,
                updated_at=IN_DAY,
            )
        )
    live = LiveState(lambda: IN_DAY.timestamp())
    state = live.node_state("pbx1")
    state.stale = False
    state.calls["now.1"] = Call("now.1", IN_DAY.timestamp(), "13958001234")
    state.queues["q"] = queue = Queue("q")
    queue.members["PJSIP/1001"] = Member(
        "q", "PJSIP/1001", member_name="1001", status=1, last_call=int(BEFORE.timestamp())
    )
    directory = Directory(LegacyRepository(sessions, clock), clock)
    await directory.reload()
    tokens = TokenStore(sessions, clock)
    headers = {
        role: {"Authorization": f"Bearer {(await tokens.create(role.value, role))[1]}"}
        for role in (Role.ADMIN, Role.SUPERVISOR, Role.INTEGRATION)
    }
    services = ApiServices(
        city=city,
        tokens=tokens,
        live=live,
        call_records=records.store,
        call_facts=records.facts,
        record_writer=records.writer,
        callbacks=CallbackWorklist(
            SqlCallbackTasks(sessions), live, CallbackPolicy(), lambda _i: None, {}
        ),
        legacy=directory,
        audit=AuditLog(sessions, clock),
    )
    app = create_app(services, CollectorRegistry(), "t")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Api(client, headers)
    finally:
        await engine.dispose()


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async for out in _api(database_url, tmp_path, SHANGHAI):
        yield out


async def _calls(api: Api, **params: str) -> int:
    response = await api.get("/api/v1/stats/kpis", **params)
    assert response.status_code == 200, response.text
    rows = response.json()
    return int(rows[0]["calls"]) if rows else 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_bare_date_is_the_city_day(api: Api) -> None:
    assert await _calls(api, start="2026-12-02", end="2026-12-03") == 1
    assert await _calls(api, start="2026-12-01", end="2026-12-02") == 1
    listed = (await api.get("/api/v1/calls", start="2026-12-02")).json()["items"]
    assert [c["id"] for c in listed] == ["pbx1:in.1"]
    listed = (await api.get("/api/v1/calls", end="2026-12-02")).json()["items"]
    assert [c["id"] for c in listed] == ["pbx1:before.1"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_naive_date_time_is_city_time_and_an_offset_is_kept(api: Api) -> None:
    assert await _calls(api, start="2026-12-02T00:30", end="2026-12-02T00:31") == 1
    assert await _calls(api, start="2026-12-01T23:59:00", end="2026-12-02T00:00:00") == 1
    assert await _calls(api, start="2026-12-01T16:00", end="2026-12-01T17:00") == 0
    assert await _calls(api, start="2026-12-01T16:00Z", end="2026-12-01T17:00Z") == 1
    assert await _calls(api, start="2026-12-01T17:30+01:00", end="2026-12-01T17:31+01:00") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/api/v1/stats/kpis", {"start": "2026-13-01", "end": "2026-12-03"}, "start"),
        ("/api/v1/stats/kpis", {"start": "2026-12-02", "end": "tomorrow"}, "end"),
        ("/api/v1/calls", {"start": "02/12/2026"}, "start"),
        ("/api/v1/calls", {"start": "0001-01-01"}, "start"),
        ("/api/v1/calls/export.csv", {"end": "2026-12-02T25:00"}, "end"),
    ],
)
async def test_a_bad_time_is_a_422_naming_the_parameter(
    api: Api, path: str, params: dict[str, str], name: str
) -> None:
    response = await api.get(path, **params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert re.match(rf"(query parameter '{name}'|{name}): ", detail), detail


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_legacy_effective_from_is_read_in_city_time(api: Api) -> None:
    script = api.headers[Role.INTEGRATION]
    bad = await api.client.delete(
        "/api/v1/legacy-numbers/057187001234", params={"effective_from": "soon"}, headers=script
    )
    assert bad.status_code == 422 and "query parameter 'effective_from'" in bad.text
    body = {"unit_code": "U1", "unit": "u", "district": "d", "mode": "merge", "queue": "general"}
    bad = await api.client.put(
        "/api/v1/legacy-numbers/057187001234",
        json=body | {"effective_from": "2026-02-30"},
        headers=script,
    )
    assert bad.status_code == 422 and "effective_from" in bad.text
    put = await api.client.put(
        "/api/v1/legacy-numbers/057187001234",
        json=body | {"effective_from": "2026-12-02"},
        headers=script,
    )
    assert put.status_code == 200, put.text
    assert put.json()["effective_from"] == "2026-12-02T00:00:00+08:00"


def _times(value: Any) -> Iterator[tuple[str, Any]]:
    """(field, value) of every time field anywhere in a JSON document (a call's rings
    say `at` in seconds from its start: not a point in time)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "rings":
                continue
            if key in TIME_FIELDS:
                yield key, item
            yield from _times(item)
    elif isinstance(value, list):
        for item in value:
            yield from _times(item)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(("city", "offset"), [(SHANGHAI, "+08:00"), (BERLIN, "+01:00")])
async def test_every_time_returned_is_iso_in_city_time(
    database_url: str, tmp_path: Path, city: CityTime, offset: str
) -> None:
    async for api in _api(database_url, tmp_path, city):
        imported = await api.client.post(
            "/api/v1/legacy-numbers/import",
            content=LEGACY_CSV.read_bytes(),
            headers=api.headers[Role.INTEGRATION],
        )
        assert imported.status_code == 200, imported.text
        number = imported.json()["added"][0]
        responses = [
            imported,
            await api.get("/api/v1/calls"),
            await api.get("/api/v1/calls/pbx1:in.1"),
            await api.get("/api/v1/calls/active"),
            await api.get(
                "/api/v1/stats/kpis", start="2026-12-01", end="2026-12-03", period="hour"
            ),
            await api.get("/api/v1/records/reconciliation"),
            await api.get("/api/v1/callbacks"),
            await api.get("/api/v1/seats"),
            await api.get("/api/v1/audit", Role.ADMIN),
            await api.get("/api/v1/legacy-numbers", Role.INTEGRATION),
            await api.get(f"/api/v1/legacy-numbers/{number}", Role.INTEGRATION),
        ]
        found: set[str] = set()
        for response in responses:
            assert response.status_code == 200, (response.url, response.text)
            for name, value in _times(response.json()):
                if value is None:
                    continue
                found.add(name)
                assert isinstance(value, str) and STAMP.match(value), (response.url, name, value)
                assert value.endswith(offset), (response.url, name, value)
        assert found == TIME_FIELDS - {"state_since"}  # no tracker: a live member's since
        detail = responses[2].json()
        assert detail["started_at"] == city.iso(IN_DAY)
        assert datetime.fromisoformat(detail["started_at"]) == IN_DAY


async def test_the_live_stream_writes_its_times_in_city_time() -> None:
    live = LiveState(time.time)
    state = live.node_state("pbx1")
    state.stale = False
    state.queues["q"] = queue = Queue("q")
    queue.members["PJSIP/1001"] = Member(
        "q", "PJSIP/1001", member_name="1001", status=1, last_call=int(IN_DAY.timestamp())
    )
    stream = LiveStream(live, None, tick_s=30.0, coalesce_s=0.0, city=BERLIN)
    await stream.ensure_started()
    try:
        _, first = stream.attach(None, None)
        seat = json.loads(first[0])["seats"][0]
        assert seat["last_call"] == "2026-12-01T17:30:00+01:00"
    finally:
        await stream.stop()
    delta = json.loads(delta_json(1, [NodeReady(1, "pbx1", IN_DAY.timestamp())], _EMPTY, BERLIN))
    assert delta["changes"][0]["at"] == "2026-12-01T17:30:00+01:00"


_EMPTY = RowDelta([], [], [], [])
