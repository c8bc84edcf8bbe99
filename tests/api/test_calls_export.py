"""`GET /api/v1/calls/export.csv` opens right in Excel on a Chinese desktop: UTF-8 with a
BOM (GB18030 on request), header row, CRLF, numbers as numbers, times in city time with
the offset, and text a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.clock import SHANGHAI, CityTime
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.query import EXPORT_HEADER
from callcenter.records.store import DialedUnit
from callcenter.records.wiring import RecordsSystem, build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import DAY0, call

BOM = b"\xef\xbb\xbf"
HEADER = ",".join(EXPORT_HEADER) + "\r\n"
#: what an attacker set, by the field it went into
HOSTILE = {
    "h.1": {"unit": '=HYPERLINK("http://e.x","点此")', "caller": "+8613900001111"},
    "h.2": {"unit": "=cmd|' /C calc'!A0", "caller": "-13900001111"},
    "h.3": {"unit": "@SUM(1+1)*cmd|' /C calc'!A0", "caller": "\t13900001111"},
    "h.4": {"unit": "+SUM(1+1)", "caller": "\r13900001111"},
    "h.5": {"unit": "'=looks guarded", "caller": "'+8613900001111"},
}


@dataclass
class Export:
    client: httpx.AsyncClient
    records: RecordsSystem
    tokens: TokenStore
    headers: dict[str, str]

    async def get(self, **params: str) -> httpx.Response:
        return await self.client.get(
            "/api/v1/calls/export.csv", params=params, headers=self.headers
        )

    async def in_city(self, city: CityTime, **params: str) -> httpx.Response:
        app = create_app(
            ApiServices.from_systems(tokens=self.tokens, records=self.records, city=city),
            CollectorRegistry(),
            "t",
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            url = "/api/v1/calls/export.csv"
            return await client.get(url, params=params, headers=self.headers)


@pytest.fixture
async def export(database_url: str, tmp_path: Path) -> AsyncIterator[Export]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(
        sessions,
        LiveState(time.time),
        tmp_path / "spool",
        routes=lambda dialed: DialedUnit("", "市本级", "dock"),
    )
    calls = [
        call("zh.1", started_at=DAY0 + 9 * 3600, unit="市住房和城乡建设局", wait_s=3.5, rating=2)
    ]
    calls += [
        call(linkedid, started_at=DAY0 + 10 * 3600 + i, **fields)
        for i, (linkedid, fields) in enumerate(HOSTILE.items())
    ]
    await records.store.upsert(calls)
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, records=records), CollectorRegistry(), "t"
    )
    _, token = await tokens.create("sup", Role.SUPERVISOR, None)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    try:
        yield Export(client, records, tokens, {"Authorization": f"Bearer {token}"})
    finally:
        await client.aclose()
        await engine.dispose()


def _rows(text: str) -> dict[str, dict[str, str]]:
    return {r["linkedid"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}


def _line(text: str, linkedid: str) -> str:
    (line,) = [line for line in text.split("\r\n") if f",{linkedid}," in line]
    return line


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_utf8_with_bom_header_crlf_city_times_and_numbers(export: Export) -> None:
    response = await export.get()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="calls.csv"'
    data = response.content
    assert data.startswith(BOM + HEADER.encode())
    assert data.count(BOM) == 1
    text = data[len(BOM) :].decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    row = _rows(text)["zh.1"]
    assert (row["unit"], row["district"]) == ("市住房和城乡建设局", "市本级")
    assert row["started_at"] == "2026-11-20T09:00:00+08:00"
    assert row["started_at"] == SHANGHAI.iso(DAY0 + 9 * 3600)
    assert row["ended_at"] == SHANGHAI.iso(DAY0 + 9 * 3600 + 120)
    assert all(r["started_at"].endswith("+08:00") for r in _rows(text).values())
    line = _line(text, "zh.1")
    assert ",3.5," in line and ",2," in line and '"' not in line  # numbers, unquoted
    assert ",FALSE," in line  # confidential, fallback: booleans Excel reads as such


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_gb18030_on_request(export: Export) -> None:
    response = await export.get(encoding="gb18030")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=gb18030"
    data = response.content
    assert data.startswith(HEADER.encode("gb18030"))  # no BOM
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    row = _rows(data.decode("gb18030"))["zh.1"]
    assert (row["unit"], row["district"]) == ("市住房和城乡建设局", "市本级")
    assert "点此" in _rows(data.decode("gb18030"))["h.1"]["unit"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_formula_like_text_is_neutralised(export: Export) -> None:
    rows = _rows((await export.get()).content.decode("utf-8-sig"))
    for linkedid, fields in HOSTILE.items():
        for name, value in fields.items():
            assert rows[linkedid][name] == "'" + value, (linkedid, name)
    assert rows["zh.1"]["unit"] == "市住房和城乡建设局" and rows["zh.1"]["caller"] == "13900001111"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_bad_encoding_and_the_city_injected(export: Export) -> None:
    for bad in ("latin-1", "utf-16", ""):
        response = await export.get(encoding=bad)
        assert response.status_code == 422, (bad, response.text)
        detail = response.json()["detail"]
        assert "encoding" in detail and "gb18030" in detail and "utf-8-sig" in detail
    tokyo = await export.in_city(CityTime.named("Asia/Tokyo"))
    row = _rows(tokyo.content.decode("utf-8-sig"))["zh.1"]
    assert row["started_at"] == "2026-11-20T10:00:00+09:00"
