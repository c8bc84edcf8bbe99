"""The wallboard in a real headless chromium while pbxsim traffic runs: the page shows
the same numbers as the REST API, its Chinese is drawn with a CJK font (not tofu), the
English toggle works, and screenshots are kept as test artifacts.

Skipped (with the reason) only when chromium is missing outside CI; in CI (CI=true) a
missing browser or font fails: `.ci/run` installs them (`make browser-deps`)."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from ami.fanout import FanOut
from ami.node import PbxNode
from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.wiring import build_records
from callcenter.tokens import Role
from tests.api.server import serving, sqlite_tokens
from tests.browser.cdp import Browser, find_chromium, in_ci
from tests.conftest import REPO
from tests.live.sim import start_sim
from tests.live.test_faults import add_members, call
from tests.records.factory import call as call_record

ARTIFACTS = Path(os.environ.get("CALLCENTER_TEST_ARTIFACTS", REPO / "var" / "test-artifacts"))

PAGE_NUMBERS = """(() => ({
  queues: Object.fromEntries([...document.querySelectorAll('#queues tbody tr')].map((tr) =>
    [tr.dataset.queue, Object.fromEntries([...tr.querySelectorAll('td[data-field]')]
      .map((td) => [td.dataset.field, td.textContent]))])),
  seats: Object.fromEntries([...document.querySelectorAll('#seats .seat')].map((d) =>
    [d.dataset.seat, d.dataset.state])),
  seq: (document.body && document.body.dataset.seq) || null,
}))()"""

#: the name the page shows for the general queue: its display name in the page's language
TREND_BARS = """(() => ({
  shown: !document.getElementById('trend-section').hidden,
  offered: document.querySelectorAll('#trend rect.offered').length,
  centre: document.querySelector('#queues tr.total td[data-field=name]').textContent,
}))()"""
GENERAL_NAME = (
    'document.querySelector(\'#queues tr[data-queue="general"] td[data-field="name"]\').textContent'
)


def chromium_or_skip() -> str:
    binary = find_chromium()
    if binary is None:
        message = "chromium not installed (make browser-deps installs Debian's chromium)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return binary


def cjk_families() -> set[str]:
    out = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    return {name.strip() for line in out.splitlines() for name in line.split(",") if name.strip()}


async def api_numbers(http: httpx.AsyncClient) -> dict[str, Any]:
    queues = (await http.get("/api/v1/queues")).json()
    seats = (await http.get("/api/v1/seats", params={"limit": 1000})).json()["items"]
    today = (await http.get("/api/v1/stats/today")).json()
    states = [s["state"] for s in seats]
    rows = {
        q["name"]: {
            "waiting": str(q["waiting"]),
            "available": str(q["available"]),
            "on_call": str(q["on_call"]),
            "paused": str(q["paused"]),
        }
        for q in queues
    }
    # the whole centre: every queue's callers, each seat once, the day's figures
    rows["centre"] = {
        "waiting": str(sum(q["waiting"] for q in queues)),
        "available": str(states.count("available")),
        "on_call": str(states.count("on_call")),
        "paused": str(states.count("paused")),
        "abandoned": str(today["centre"]["abandoned"]),
    }
    return {"queues": rows, "seats": {s["name"]: s["state"] for s in seats}}


def page_view(page: dict[str, Any]) -> dict[str, Any]:
    keep = ("waiting", "available", "on_call", "paused")
    queues = {name: {k: row[k] for k in keep} for name, row in page["queues"].items()}
    if "centre" in page["queues"]:
        queues["centre"]["abandoned"] = page["queues"]["centre"]["abandoned"]
    return {"queues": queues, "seats": page["seats"]}


async def same_numbers(browser: Browser, http: httpx.AsyncClient, timeout: float) -> dict:  # type: ignore[type-arg]
    """Polls until the page and the API agree (both move while calls run)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: tuple[object, object] = (None, None)
    while asyncio.get_running_loop().time() < deadline:
        api = await api_numbers(http)
        page = page_view(await browser.evaluate(PAGE_NUMBERS))
        if page == api:
            return api
        last = (page, api)
        await asyncio.sleep(0.1)
    raise AssertionError(f"page and API never agreed; last page {last[0]}, API {last[1]}")


async def screenshot(browser: Browser, name: str) -> Path:
    shot = await browser.send("Page.captureScreenshot", format="png")
    return save_artifact(name, base64.b64decode(shot["data"]))


def save_artifact(name: str, data: bytes) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(data)
    return path


async def test_wallboard_follows_the_stream_in_chromium(tmp_path: Path) -> None:
    binary = chromium_or_skip()
    families = cjk_families()
    if not families:
        pytest.fail("no CJK font installed (make browser-deps installs fonts-wqy-microhei)")
    sim = await start_sim(speed=5.0)  # slow enough that a busy moment lasts a while
    live = LiveState(sim.scheduler.now)
    tokens, engine = await sqlite_tokens(tmp_path)
    records = build_records(session_factory(engine), live, tmp_path / "spool", flush_every_s=0.05)
    node = PbxNode(sim.node_config(), FanOut([live, records.listener]))
    node.start()
    writer = asyncio.create_task(records.writer.run())
    _, token = await tokens.create("wallboard", Role.SUPERVISOR)
    services = ApiServices.from_systems(tokens=tokens, live=live, records=records)
    app = create_app(services, CollectorRegistry(), "t")
    browser: Browser | None = None
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        # a call answered earlier today, in the records: the trend has an hour to draw
        now = live.clock()
        earlier = call_record("earlier-1", started_at=now - 60, ended_at=now - 30)
        await records.store.upsert([earlier])
        await records.day.refresh()
        await add_members(node, ["1001", "1002", "1003"])
        await node.send(
            {
                "Action": "QueuePause",
                "Interface": "Local/1003@sim-agent/n",
                "Paused": "true",
                "Reason": "meal",
            }
        )
        async with (
            serving(app) as host,
            httpx.AsyncClient(
                base_url=f"http://{host}", headers={"Authorization": f"Bearer {token}"}
            ) as http,
        ):
            browser = await Browser.launch(binary, f"http://{host}/#token={token}")
            await browser.send("Page.enable")
            await browser.send("DOM.enable")
            await browser.send("CSS.enable")
            numbers = await same_numbers(browser, http, 15)
            assert numbers["seats"]["seat-1003"] == "paused"

            # traffic: more callers than free seats, so some wait while others talk
            for n in range(5):
                await call(node, n)
            busy = None
            deadline = asyncio.get_running_loop().time() + 20
            while busy is None and asyncio.get_running_loop().time() < deadline:
                numbers = await same_numbers(browser, http, 15)
                general = numbers["queues"]["general"]
                if int(general["waiting"]) > 0 and int(general["on_call"]) > 0:
                    busy = numbers
                await asyncio.sleep(0.05)
            assert busy is not None, "never saw callers waiting while seats talked"
            # the hour's trend, drawn from /stats/today: bars of this hour's offered calls
            await asyncio.sleep(0.5)
            await browser.evaluate("loadTrend()")
            bars = await browser.evaluate(TREND_BARS)
            hours = (await http.get("/api/v1/stats/today")).json()["hours"]
            assert bars["shown"] and bars["offered"] == len(hours) >= 1, (bars, hours)
            assert bars["centre"] == "全中心"
            await screenshot(browser, "wallboard-zh.png")
            assert await browser.evaluate(GENERAL_NAME) == "综合"

            # the Chinese is drawn with a CJK font: every glyph of the title
            document = await browser.send("DOM.getDocument")
            h1 = await browser.send(
                "DOM.querySelector", nodeId=document["root"]["nodeId"], selector="h1"
            )
            fonts = await browser.send("CSS.getPlatformFontsForNode", nodeId=h1["nodeId"])
            used = {f["familyName"]: f["glyphCount"] for f in fonts["fonts"]}
            title = await browser.evaluate("document.querySelector('h1').textContent")
            assert "政务服务" in title
            cjk_glyphs = sum(n for family, n in used.items() if family in families)
            chinese = sum(1 for ch in title if "\u4e00" <= ch <= "\u9fff")
            assert cjk_glyphs >= chinese, f"title drawn with {used}; CJK fonts: {families}"

            # English toggle
            await browser.evaluate("document.getElementById('lang').click()")
            await asyncio.sleep(0.2)
            title = await browser.evaluate("document.querySelector('h1').textContent")
            assert title.startswith("12345 Government Service Hotline")
            assert await browser.evaluate(GENERAL_NAME) == "General"
            await screenshot(browser, "wallboard-en.png")
            # and the numbers still agree once the traffic has run its course
            await same_numbers(browser, http, 20)
            await browser.close()  # before the server stops: its socket goes first
            browser = None
    finally:
        if browser is not None:
            await browser.close()
        assert services.stream is not None
        await services.stream.stop()
        writer.cancel()
        await engine.dispose()
        await node.stop()
        await sim.stop()
