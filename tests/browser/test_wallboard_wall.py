"""The wallboard on a wall, in a real headless chromium over pbxsim: its words in
Chinese from the service (queue names, pause reasons: no slug on the screen), the whole
board on a 1366x768 screen with the seat grid scrolling inside itself (60 seats, and
200), a lost stream (board greyed, clocks stopped, a banner saying since when, back by
itself when the service is) and a revoked token (said so, a field for a new one, no
reconnecting with the dead one).

Skipped (with the reason) only when chromium is missing outside CI, as
tests/browser/test_wallboard.py."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from ami.fanout import FanOut
from ami.node import PbxNode
from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from queues.pause_labels import PAUSE_LABELS
from queues.seat_state import AUTO_PAUSE
from queues.wiring import build_seats
from tests.api.server import serving, sqlite_tokens
from tests.browser.cdp import Browser
from tests.browser.test_wallboard import chromium_or_skip, screenshot
from tests.conftest import REPO
from tests.live.sim import start_sim
from tests.live.test_faults import add_members
from tests.records.factory import call as call_record

DISPLAYS = [QueueCatalog.default().display(name) for name in QueueCatalog.default().names]

SEATS = [str(1001 + n) for n in range(60)]
#: the seats of the catalog's general queue, all paused: its caller keeps waiting
#: ("smoke": a reason the service has no words for, shown as it is)
PAUSED = {"1001": "meal", "1002": AUTO_PAUSE, "1003": "smoke"}
TOKEN_TTL_S = 1.0
WIDTH, HEIGHT = 1366, 768

LONGEST = (
    '(document.querySelector(\'#queues tr[data-queue="general"] td[data-field="longest"]\')'
    " || {}).textContent"
)
LINK = "document.body.dataset.link"
BANNER = (
    "document.getElementById('link-banner').hidden ? null"
    " : document.getElementById('link-message').textContent"
)
GREYED = "getComputedStyle(document.querySelector('main')).filter"
SEAT_CLOCKS = "[...document.querySelectorAll('#seats .seat .since')].map((e) => e.textContent)"
#: where things are: the page's viewport, its scroll size, the seat grid's box and the
#: last seat's box (after the grid is scrolled to its end)
GEOMETRY = """(() => {
  const grid = document.getElementById('seats');
  grid.scrollTop = grid.scrollHeight;
  const box = (el) => { const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right }; };
  const tiles = [...grid.querySelectorAll('.seat')];
  const parts = ['#queues', '#queues tr.total', '#trend', 'header'];
  return {
    viewport: { width: innerWidth, height: innerHeight },
    page: { width: document.documentElement.scrollWidth,
            height: document.documentElement.scrollHeight },
    grid: box(grid), scrollable: grid.scrollHeight > grid.clientHeight,
    seats: tiles.length, last: box(tiles[tiles.length - 1]),
    parts: Object.fromEntries(parts.map((s) => [s, box(document.querySelector(s))])),
  };
})()"""


@dataclass
class Floor:
    node: PbxNode
    tokens: TokenStore
    token_id: int
    token: str
    serve: Callable[[], Any]
    port: int


async def wait_for(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, poll: float = 0.1
) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


@asynccontextmanager
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    """The demo's queues on pbxsim with 60 seats: three in the general queue, paused
    (meal, Auto-Pause, smoke), the others in housing; one caller waiting in general; a call of
    earlier today in the records (the centre's time to queue)."""
    # speed 1: the page's clocks and the PBX's run alike
    sim = await start_sim(speed=1.0, queues=REPO / "asterisk-conf" / "queues.conf")
    live = LiveState(sim.scheduler.now)
    _, engine = await sqlite_tokens(tmp_path)
    tokens = TokenStore(session_factory(engine), lambda: datetime.now(UTC), cache_ttl_s=TOKEN_TTL_S)
    records = build_records(session_factory(engine), live, tmp_path / "spool", flush_every_s=0.05)
    seats = build_seats(session_factory(engine), live, lambda: datetime.now(UTC), ["meal"])
    node = PbxNode(sim.node_config(), FanOut([live, records.listener]))
    node.start()
    tasks = [asyncio.create_task(records.writer.run()), asyncio.create_task(seats.watcher.run())]
    token_id, token = await tokens.create("wall", Role.SUPERVISOR)
    services = ApiServices.from_systems(tokens=tokens, live=live, records=records, seats=seats)
    app = create_app(services, CollectorRegistry(), "t")
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        now = live.clock()
        earlier = call_record(
            "earlier-1", started_at=now - 90, ended_at=now - 30, queued_after_s=22.0
        )
        await records.store.upsert([earlier])
        await records.day.refresh()
        await add_members(node, [s for s in SEATS if s in PAUSED])
        await add_members(node, [s for s in SEATS if s not in PAUSED], queue="hotline-housing")
        for seat, reason in PAUSED.items():
            interface = f"Local/{seat}@sim-agent/n"
            await node.send(
                {"Action": "QueuePause", "Interface": interface, "Paused": "true", "Reason": reason}
            )
        await node.send(
            {
                "Action": "Originate",
                "Channel": "Local/patient@sim-caller/n",
                "Context": "direct-queue",
                "Exten": "100",
                "Priority": "1",
                "CallerID": '"W" <13900007777>',
                "Async": "true",
                "Variable": "QNAME=hotline-general,QTIMEOUT=900",
            },
            timeout=10,
        )
        port = free_port()
        yield Floor(node, tokens, token_id, token, lambda: serving(app, port), port)
    finally:
        assert services.stream is not None
        await services.stream.stop()
        for task in tasks:
            task.cancel()
        await engine.dispose()
        await node.stop()
        await sim.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A 1366x768 page, blank until told where to go (it outlives the service)."""
    browser = await Browser.launch(chromium_or_skip(), "about:blank", WIDTH, HEIGHT)
    try:
        await browser.send("Page.enable")
        await browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        yield browser
    finally:
        await browser.close()


async def waiting_shown(browser: Browser) -> str:
    """The general queue's longest wait once its caller shows as waiting."""

    async def check() -> Any:
        waiting = await browser.evaluate(
            '(document.querySelector(\'#queues tr[data-queue="general"] '
            'td[data-field="waiting"]\') || {}).textContent'
        )
        return await browser.evaluate(LONGEST) if waiting == "1" else None

    longest: str = await wait_for(check, 20, "the general queue's caller on the page")
    return longest


async def test_wallboard_in_chinese_on_a_1366x768_wall(tmp_path: Path) -> None:
    async with floor(tmp_path) as f, f.serve() as host, chromium() as browser:
        await browser.send("Page.navigate", url=f"http://{host}/#token={f.token}")
        await waiting_shown(browser)
        await wait_for(
            lambda: browser.evaluate("document.querySelectorAll('#seats .seat').length === 60"),
            10,
            "60 seats on the page",
        )
        text = await browser.evaluate("document.body.innerText")
        # queue names and pause reasons in Chinese, from the service's tables
        assert "全中心" in text
        assert all(name.zh in text for name in DISPLAYS), text
        assert PAUSE_LABELS["meal"].zh in text and PAUSE_LABELS[AUTO_PAUSE].zh in text
        seat = "document.querySelector('#seats .seat[data-seat=\"seat-1002\"]').innerText"
        assert PAUSE_LABELS[AUTO_PAUSE].zh in await browser.evaluate(seat)
        smoke = "document.querySelector('#seats .seat[data-seat=\"seat-1003\"]').innerText"
        assert "smoke" in await browser.evaluate(smoke)
        for slug in [*QueueCatalog.default().names, "meal", AUTO_PAUSE]:
            assert slug not in text, f"{slug!r} on the Chinese board"
        # the centre's time to queue: the earlier call joined its queue 22 s after answer
        centre_to_queue = await browser.evaluate(
            "document.querySelector('#queues tr.total td[data-field=\"to_queue\"]').textContent"
        )
        assert centre_to_queue not in ("", "–"), centre_to_queue

        # 1366x768: the page does not scroll; header, queues (centre row included) and
        # trend are inside the screen; the last seat is on it once the grid is scrolled
        await wait_for(
            lambda: browser.evaluate("!document.getElementById('trend-section').hidden"),
            10,
            "the trend drawn",
        )
        geo = await browser.evaluate(GEOMETRY)
        await screenshot(browser, "wallboard-1366x768-zh.png")
        assert geo["viewport"] == {"width": WIDTH, "height": HEIGHT}, geo
        assert geo["page"]["height"] <= HEIGHT and geo["page"]["width"] <= WIDTH, geo
        for part, box in geo["parts"].items():
            assert 0 <= box["top"] and box["bottom"] <= HEIGHT and box["right"] <= WIDTH, (
                part,
                box,
            )
        assert geo["seats"] == 60
        last, grid = geo["last"], geo["grid"]
        assert inside(last, grid) and grid["bottom"] <= HEIGHT, geo
        assert last["right"] <= WIDTH

        # English: the same board in English words
        await browser.evaluate("document.getElementById('lang').click()")
        await asyncio.sleep(0.3)
        text = await browser.evaluate("document.body.innerText")
        assert all(name.en in text for name in DISPLAYS), text
        assert PAUSE_LABELS[AUTO_PAUSE].en in text
        assert PAUSE_LABELS["meal"].en in text and "综合" not in text
        await screenshot(browser, "wallboard-1366x768-en.png")

        # 200 seats: the grid scrolls inside itself, the page still does not
        await browser.evaluate(
            """(() => { const rows = [...seats.values()];
              const more = [];
              for (let n = 0; n < 140; n++) {
                const s = { ...rows[n % rows.length] };
                s.key = `extra|${n}`; s.name = `seat-${2001 + n}`; s.extension = String(2001 + n);
                more.push(s);
              }
              onMessage({ type: 'delta', seq: lastSeq, changes: [], queues: [], seats: more,
                          removed: { queues: [], seats: [] } });
            })()"""
        )
        await asyncio.sleep(0.3)
        geo = await browser.evaluate(GEOMETRY)
        assert geo["seats"] == 200 and geo["scrollable"], geo
        assert geo["page"]["height"] <= HEIGHT, geo
        last, grid = geo["last"], geo["grid"]
        assert inside(last, grid) and grid["bottom"] <= HEIGHT, geo
        await screenshot(browser, "wallboard-1366x768-200-seats.png")

        # other wall screens: still one page, the last seat reachable in the grid
        for width, height in ((1400, 900), (1920, 1080)):
            await browser.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            await asyncio.sleep(0.3)
            geo = await browser.evaluate(GEOMETRY)
            assert geo["page"]["height"] <= height and geo["page"]["width"] <= width, geo
            assert inside(geo["last"], geo["grid"]) and geo["grid"]["bottom"] <= height, geo


async def test_wallboard_when_the_stream_is_lost_and_when_its_token_is_revoked(
    tmp_path: Path,
) -> None:
    async with floor(tmp_path) as f, chromium() as browser:
        async with f.serve() as host:
            await browser.send("Page.navigate", url=f"http://{host}/#token={f.token}")
            await waiting_shown(browser)
            await wait_for(lambda: browser.evaluate(f"{LINK} === 'live'"), 10, "live")
            assert await browser.evaluate(BANNER) is None
            assert await browser.evaluate(GREYED) == "none"
            ticking = await browser.evaluate(LONGEST)
            await asyncio.sleep(1.5)
            assert await browser.evaluate(LONGEST) != ticking, "the wait clock runs while live"
            # every attempt to open the stream from here on is counted
            await browser.evaluate(
                """(() => { window.opened = 0; const Socket = WebSocket;
                  window.WebSocket = function (...args) { window.opened++;
                    return new Socket(...args); }; })()"""
            )

        # the service is gone: greyed, a banner saying since when, every clock stopped
        banner = await wait_for(lambda: browser.evaluate(BANNER), 10, "the lost banner")
        assert "连接中断" in banner and "正在重连" in banner, banner
        assert re.search(r"\d{1,2}:\d{2}:\d{2}", banner), banner
        assert await browser.evaluate(LINK) == "lost"
        assert "grayscale" in await browser.evaluate(GREYED)
        await asyncio.sleep(0.5)  # a redraw after the loss
        stopped = (await browser.evaluate(LONGEST), await browser.evaluate(SEAT_CLOCKS))
        await asyncio.sleep(2.5)
        assert (await browser.evaluate(LONGEST), await browser.evaluate(SEAT_CLOCKS)) == stopped
        await screenshot(browser, "wallboard-lost.png")
        assert await browser.evaluate("window.opened") >= 1, "no attempt to reconnect"
        # in English too
        await browser.evaluate("document.getElementById('lang').click()")
        banner = await browser.evaluate(BANNER)
        assert banner.startswith("Connection lost since") and "reconnecting" in banner
        await browser.evaluate("document.getElementById('lang').click()")

        # the service is back on the same address: the page reconnects by itself
        async with f.serve():
            await wait_for(lambda: browser.evaluate(f"{LINK} === 'live'"), 20, "back live")
            assert await browser.evaluate(BANNER) is None
            assert await browser.evaluate(GREYED) == "none"
            # the clock runs again, and shows the wait it really is (it kept growing)
            resumed = await waiting_shown(browser)
            assert seconds(resumed) > seconds(stopped[0]) + 2, (resumed, stopped[0])

            # a connection that goes silent without closing is given up and reopened
            # (the stream speaks at least every heartbeat; here the page is made
            # impatient instead of the network cut)
            await browser.evaluate("window.opened = 0; stream.silentMs = 1")
            await wait_for(lambda: browser.evaluate(f"{LINK} === 'lost'"), 5, "silence noticed")
            await browser.evaluate("stream.silentMs = 35000")
            await wait_for(lambda: browser.evaluate(f"{LINK} === 'live'"), 20, "live after it")
            assert await browser.evaluate("window.opened") >= 1

            # the token is revoked (as a demo restart does to every token): said so,
            # a field for a new one, and no more attempts with the dead token
            await browser.evaluate("window.opened = 0")
            assert await f.tokens.revoke(f.token_id)
            banner = await wait_for(lambda: browser.evaluate(BANNER), 10, "the revoked banner")
            assert "令牌已失效" in banner and "吊销" in banner, banner
            assert await browser.evaluate(LINK) == "revoked"
            assert "grayscale" in await browser.evaluate(GREYED)
            form = "!document.getElementById('token-form').hidden"
            assert await browser.evaluate(form)
            await screenshot(browser, "wallboard-revoked.png")
            await asyncio.sleep(3)
            assert await browser.evaluate("window.opened") == 0, "reconnected with a dead token"

            # a new token pasted in: live again
            _, fresh = await f.tokens.create("wall again", Role.SUPERVISOR)
            await browser.evaluate(
                f"document.getElementById('token-input').value = {json.dumps(fresh)};"
                "document.getElementById('token-form').requestSubmit()"
            )
            await wait_for(lambda: browser.evaluate(f"{LINK} === 'live'"), 10, "live again")
            assert await browser.evaluate(BANNER) is None
            assert await browser.evaluate("localStorage.getItem('wallboard-token')") == fresh


def seconds(clock: str) -> float:
    """'m:ss' as seconds."""
    m, s = clock.split(":")
    return int(m) * 60 + int(s)


def inside(box: dict[str, float], outer: dict[str, float]) -> bool:
    """`box` within `outer`, give or take the sub-pixel a scroll position rounds off."""
    return outer["top"] - 1 <= box["top"] and box["bottom"] <= outer["bottom"] + 1
