"""Issue 15, item 1: the `caller=` filter was an oracle. The mask shows 139****1111;
an integration token tried the hidden digits until `GET /api/v1/calls?caller=...` (or
`export.csv`) found the confidential call. Here the same probing by an integration
token, a supervisor and the agent who took the call gets the same answer whichever
candidate is right; each search is audited with the number masked; and a token that
keeps probing is throttled with 429 and Retry-After."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.search_limits import CallerSearches
from api.services import ApiServices
from callcenter import migrate
from callcenter.audit.repository import AuditLog
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import DAY0, call

SECRET = "13912341111"  # a whistle-blower's number: shown as 139****1111
#: what a prober tries: the mask's visible digits with the hidden ones varied
CANDIDATES = ["13900001111", "13912341110", SECRET, "13999991111"]
KNOWN = "13800002222"  # an ordinary caller, searched for by number as usual


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_probing_caller_numbers_reveals_nothing(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    await records.store.upsert(
        [
            call("secret.1", started_at=DAY0 + 60, caller=SECRET, confidential=True, seat="s1002"),
            call("plain.1", started_at=DAY0 + 120, caller=KNOWN, seat="s1002"),
            call("other.1", started_at=DAY0 + 180, caller="13700003333", seat="s1001"),
        ]
    )
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    audit = AuditLog(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, records=records, audit=audit),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(role: Role, seat: str | None = None) -> dict[str, str]:
        _, token = await tokens.create(f"{role.value}-{seat}", role, seat)
        return {"Authorization": f"Bearer {token}"}

    admin = await bearer(Role.ADMIN)
    probers = {
        "integration": await bearer(Role.INTEGRATION),
        "supervisor": await bearer(Role.SUPERVISOR),
        "agent on the call": await bearer(Role.AGENT, "s1002"),
    }
    caplog.set_level(logging.DEBUG)
    try:
        for who, headers in probers.items():
            pages, sheets = set(), set()
            for number in CANDIDATES:
                page = await client.get("/api/v1/calls", params={"caller": number}, headers=headers)
                assert page.status_code == 200, (who, page.text)
                pages.add(page.text)
                sheet = await client.get(
                    "/api/v1/calls/export.csv", params={"caller": number}, headers=headers
                )
                assert sheet.status_code == 200, (who, sheet.text)
                sheets.add(sheet.text)
            # the right number and the wrong ones: byte for byte the same answer
            assert len(pages) == 1 and len(sheets) == 1, who
            assert '"items":[]' in pages.pop()
            # searching an ordinary caller by number still works
            plain = await client.get("/api/v1/calls", params={"caller": KNOWN}, headers=headers)
            assert [i["id"] for i in plain.json()["items"]] == ["pbx1:plain.1"], who

        # admin, who sees the number anyway, still finds the call by it
        found = await client.get("/api/v1/calls", params={"caller": SECRET}, headers=admin)
        assert [i["id"] for i in found.json()["items"]] == ["pbx1:secret.1"]

        # every search is in the audit log: who, when, how many rows, the number masked
        entries = (await client.get("/api/v1/audit", params={"limit": 200}, headers=admin)).json()[
            "items"
        ]
        searches = [e for e in entries if e["query"].startswith("caller=")]
        per_prober = 2 * len(CANDIDATES) + 1
        assert len(searches) == len(probers) * per_prober + 1
        assert {e["role"] for e in searches} == {"integration", "supervisor", "agent", "admin"}
        assert {e["path"] for e in searches} == {"/api/v1/calls", "/api/v1/calls/export.csv"}
        mine = [e for e in searches if e["role"] == "admin"]
        assert mine[0]["query"] == "caller=139****1111&rows=1" and mine[0]["at"]
        # and no number in clear, there or in our own log lines
        ours = [r for r in caplog.records if r.name.split(".")[0] in ("api", "callcenter")]
        text = repr(entries) + "\n".join(r.getMessage() for r in ours)
        for number in [*CANDIDATES, KNOWN]:
            assert number not in text
    finally:
        await client.aclose()
        records.writer.spool.close()
        await engine.dispose()


async def test_excessive_probing_is_throttled(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    services = ApiServices.from_systems(tokens=tokens, records=records)
    app = create_app(services, CollectorRegistry(), "t")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    _, token = await tokens.create("crm", Role.INTEGRATION)
    _, other = await tokens.create("another script", Role.INTEGRATION)
    try:
        allowance = services.caller_searches.burst
        services.caller_searches.per_s = 0.01  # no refill worth a search during the test
        statuses = []
        for n in range(allowance + 5):
            r = await client.get(
                "/api/v1/calls",
                params={"caller": f"1391234{n:04d}"},
                headers={"Authorization": f"Bearer {token}"},
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
                assert "caller" in r.json()["detail"]
        assert statuses[:allowance] == [200] * allowance
        assert set(statuses[allowance:]) == {429}
        # the export draws on the same allowance
        r = await client.get(
            "/api/v1/calls/export.csv",
            params={"caller": SECRET},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # per token: another token, and the same token without `caller=`, are not held up
        for headers, params in (
            ({"Authorization": f"Bearer {other}"}, {"caller": SECRET}),
            ({"Authorization": f"Bearer {token}"}, {}),
        ):
            assert (await client.get("/api/v1/calls", params=params, headers=headers)).is_success
    finally:
        await client.aclose()
        records.writer.spool.close()
        await engine.dispose()


def test_the_allowance_refills_at_its_rate_per_token() -> None:
    clock = [100.0]
    searches = CallerSearches(burst=2, per_s=0.5, monotonic=lambda: clock[0])
    assert searches.take(1) is None and searches.take(1) is None
    assert searches.take(1) == 2.0  # one search comes back every 2 s
    assert searches.take(2) is None  # another token has its own bucket
    clock[0] += 2.0
    assert searches.take(1) is None and searches.take(1) == 2.0
    clock[0] += 60.0  # a long pause refills up to the burst, no further
    assert [searches.take(1) for _ in range(3)][-1] is not None
