"""Where a call came from: the builder reads HOTLINE_SOURCE / HOTLINE_SOURCE_REF (as
the dialplan sets them for a hand-over from 110), the record keeps them through the
store, and the API shows and filters them (list, detail, CSV export)."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from ami import events as ev
from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.from110 import clean_ref
from callcenter.live.live_state import LiveState
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import DAY0, call
from tests.records.test_builder_cases import hangup, new, run, snap


def var(name: str, value: str) -> ev.VarSet:
    return ev.VarSet("VarSet", {}, channel=snap(), variable=name, value=value)


def test_the_builder_keeps_the_source_and_a_well_formed_reference_only() -> None:
    done, _ = run(
        new(), var("HOTLINE_SOURCE", "110"), var("HOTLINE_SOURCE_REF", " 110-42 "), hangup()
    )
    assert (done[0].call_source, done[0].call_source_ref) == ("110", "110-42")
    done, _ = run(new(), var("HOTLINE_SOURCE", ""), hangup())
    assert (done[0].call_source, done[0].call_source_ref) == ("direct", "")
    # a malformed header (service down: nobody cleared it) is not kept; the IVR's
    # clearing VarSet wins over the dialplan's copy
    for refs in (["x\x01y"], ["a" * 65], ["110-1", ""]):
        events = [var("HOTLINE_SOURCE_REF", r) for r in refs]
        done, _ = run(new(), var("HOTLINE_SOURCE", "110"), *events, hangup())
        assert done[0].call_source == "110" and done[0].call_source_ref == ""
    # unknown values are not a source of their own
    done, _ = run(new(), var("HOTLINE_SOURCE", "119"), hangup())
    assert done[0].call_source == "direct"


def test_clean_ref() -> None:
    assert clean_ref("  110-2026-1 ") == "110-2026-1"
    assert clean_ref("") == "" and clean_ref("   ") == ""
    assert clean_ref("案件 42") == "案件 42"  # printable, not only ASCII
    assert clean_ref("a" * 64) == "a" * 64
    assert clean_ref("a" * 65) is None and clean_ref("a\nb") is None
    assert clean_ref("a\u2028b") is None


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_api_shows_and_filters_the_source(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    await records.store.upsert(
        [
            call("d.1", started_at=DAY0 + 3600),
            call("h.1", started_at=DAY0 + 3700, call_source="110", call_source_ref="110-42"),
        ]
    )
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, records=records), CollectorRegistry(), "t"
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    _, token = await tokens.create("sup", Role.SUPERVISOR, None)
    sup = {"Authorization": f"Bearer {token}"}
    try:
        listed = (await client.get("/api/v1/calls", headers=sup)).json()["items"]
        assert [(i["id"], i["source"], i["source_ref"]) for i in listed] == [
            ("pbx1:h.1", "110", "110-42"),
            ("pbx1:d.1", "direct", ""),
        ]
        only = await client.get("/api/v1/calls", params={"source": "110"}, headers=sup)
        assert [i["id"] for i in only.json()["items"]] == ["pbx1:h.1"]
        direct = await client.get("/api/v1/calls", params={"source": "direct"}, headers=sup)
        assert [i["id"] for i in direct.json()["items"]] == ["pbx1:d.1"]
        bad = await client.get("/api/v1/calls", params={"source": "ami"}, headers=sup)
        assert bad.status_code == 422 and "source" in bad.json()["detail"]
        detail = (await client.get("/api/v1/calls/pbx1:h.1", headers=sup)).json()
        assert detail["source"] == "110" and detail["source_ref"] == "110-42"
        export = await client.get("/api/v1/calls/export.csv", params={"source": "110"}, headers=sup)
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [(r["linkedid"], r["source"], r["source_ref"]) for r in rows] == [
            ("h.1", "110", "110-42")
        ]
    finally:
        await client.aclose()
        await engine.dispose()
