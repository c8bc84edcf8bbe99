"""One name per queue: the API shows and takes the directory's name (`general`), with
display names for screens and Asterisk's name (`hotline-general`, what the records keep)
only as a field for operators; an unknown queue in a filter is a 422 listing the known
ones, never an empty answer."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.live_table import RowDelta, delta_json
from api.services import ApiServices
from callcenter import migrate
from callcenter.clock import SHANGHAI
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import (
    SEED,
    QueueCatalog,
    UnknownQueue,
    asterisk_queue,
    directory_name,
)
from callcenter.live.changes import CallerJoined, CallStarted
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import DAY0, call

ISO_DAY = datetime.fromtimestamp(DAY0, UTC).isoformat()
ISO_NEXT = datetime.fromtimestamp(DAY0 + 86400, UTC).isoformat()
KNOWN = "known: general, enterprise, social-security, housing, market"
CATALOG = QueueCatalog.default()


def test_every_queue_has_display_names_and_both_names_translate() -> None:
    assert CATALOG.names == tuple(q.name for q in SEED)
    assert all(q.display.zh and q.display.en for q in CATALOG.queues)
    assert CATALOG.display("general").zh == "综合"
    assert CATALOG.display("utilities").en == "Utilities"
    for name in CATALOG.names:
        asterisk = asterisk_queue(name)
        shown = CATALOG.shown(asterisk)
        assert shown.name == name and shown.asterisk == asterisk
        assert CATALOG.asterisk_name(name) == CATALOG.asterisk_name(asterisk) == asterisk
        assert directory_name(asterisk) == name


def test_a_queue_outside_the_catalog_keeps_its_own_name() -> None:
    pilot = CATALOG.shown("pilot-queue")
    assert (pilot.name, pilot.asterisk) == ("pilot-queue", "pilot-queue")
    assert (pilot.display.zh, pilot.display.en) == ("pilot-queue", "pilot-queue")
    # made on the PBX by hand with the prefix: named as the directory would name it
    hand = CATALOG.shown("hotline-pilot")
    assert (hand.name, hand.asterisk, hand.display.en) == ("pilot", "hotline-pilot", "pilot")
    assert directory_name("") == "" and directory_name("hotline-") == "hotline-"


def test_an_unknown_name_asked_for_lists_the_known_ones() -> None:
    for bad in ("nope", "hotline-nope", "hotline-", "General"):
        with pytest.raises(UnknownQueue, match=KNOWN):
            CATALOG.asterisk_name(bad)


def test_the_stream_names_the_queues_of_its_changes_as_its_rows() -> None:
    joined = CallerJoined(
        7,
        "pbx1",
        1.0,
        uniqueid="1.1",
        queue="hotline-housing",
        position=1,
        priority=0,
        linkedid="1.1",
        caller="139",
    )
    started = CallStarted(8, "pbx1", 1.0, linkedid="1.1", caller="139", dialed="12345")
    delta = json.loads(delta_json(8, [joined, started], RowDelta([], [], [], []), SHANGHAI))
    assert delta["changes"][0]["data"]["queue"] == "housing"
    assert "queue" not in delta["changes"][1]["data"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_calls_stats_and_active_calls_use_the_directory_name(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    live = LiveState(time.time)
    node = live.node_state("pbx1")
    node.calls["now.1"] = Call(
        "now.1", 1.0, "13900009999", queue="hotline-housing", routed_queue="hotline-housing"
    )
    records = build_records(sessions, live, tmp_path / "spool")
    joined = [[0.0, "start", "12345"], [4.0, "queue_join", "hotline-general"]]
    await records.store.upsert(
        [
            call("g.1", started_at=DAY0 + 3600, timeline=joined),
            call("g.2", started_at=DAY0 + 3601),
            call("h.1", started_at=DAY0 + 3602, queues=["hotline-housing", "hotline-general"]),
            call("p.1", started_at=DAY0 + 3603, queues=["pilot-queue"]),
        ]
    )
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, records=records, live=live),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    _, token = await tokens.create("sup", Role.SUPERVISOR, None)
    sup = {"Authorization": f"Bearer {token}"}

    async def ids(queue: str) -> list[str]:
        r = await client.get("/api/v1/calls", params={"queue": queue}, headers=sup)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert all(i["queue"] == directory_name(CATALOG.asterisk_name(queue)) for i in items)
        return [i["id"] for i in items]

    try:
        # the records keep Asterisk's name; the filter takes the directory's (or that)
        assert await ids("general") == ["pbx1:g.2", "pbx1:g.1"]
        assert await ids("hotline-general") == ["pbx1:g.2", "pbx1:g.1"]
        assert await ids("housing") == ["pbx1:h.1"]
        assert await ids("health") == []
        for path in ("/api/v1/calls", "/api/v1/calls/export.csv"):
            bad = await client.get(path, params={"queue": "nope"}, headers=sup)
            assert bad.status_code == 422, path
            assert "query parameter 'queue'" in bad.json()["detail"]
            assert KNOWN in bad.json()["detail"]

        listed = (await client.get("/api/v1/calls", headers=sup)).json()["items"]
        assert {i["id"]: i["queue"] for i in listed} == {
            "pbx1:p.1": "pilot-queue",
            "pbx1:h.1": "housing",
            "pbx1:g.2": "general",
            "pbx1:g.1": "general",
        }
        detail = (await client.get("/api/v1/calls/pbx1:h.1", headers=sup)).json()
        assert (detail["queue"], detail["queues"]) == ("housing", ["housing", "general"])
        detail = (await client.get("/api/v1/calls/pbx1:g.1", headers=sup)).json()
        assert detail["timeline"] == [[0.0, "start", "12345"], [4.0, "queue_join", "general"]]

        export = await client.get(
            "/api/v1/calls/export.csv", params={"queue": "general"}, headers=sup
        )
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert sorted((r["linkedid"], r["queue"]) for r in rows) == [
            ("g.1", "general"),
            ("g.2", "general"),
        ]

        stats = await client.get(
            "/api/v1/stats/kpis",
            params={"start": ISO_DAY, "end": ISO_NEXT, "group": "queue"},
            headers=sup,
        )
        by_queue = {r["group"]: r["calls"] for r in stats.json()}
        assert by_queue == {"general": 2, "housing": 1, "pilot-queue": 1}

        (active,) = (await client.get("/api/v1/calls/active", headers=sup)).json()
        assert (active["queue"], active["routed_queue"]) == ("housing", "housing")
    finally:
        await client.aclose()
        await engine.dispose()
