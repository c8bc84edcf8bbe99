"""The agent's desk (`/agent`) driven in chromium, for the tests that need a desk:
waiting on a page, logging an agent in, and the pop of the call that rings a seat."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.api.test_desk import OLD
from tests.browser.cdp import Browser
from tests.queues.sim import Floor

#: the unit of tests/api/test_desk.py's old number, as its pop shows it
UNIT = "市住房和城乡建设局"
POP_SHOWN = "!document.getElementById('pop').hidden"
POP_CALL = "document.getElementById('pop').dataset.call || null"
SEAT_STATE = "document.getElementById('seat').dataset.state"
#: installed in a page: whether its pop ever became visible, and every call it showed
WATCH_POPS = """(() => { window.popsSeen = [];
  const pop = document.getElementById('pop');
  new MutationObserver(() => { if (!pop.hidden) window.popsSeen.push(pop.dataset.call || '?'); })
    .observe(pop, { attributes: true, attributeFilter: ['hidden', 'data-call'] }); })()"""


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


async def text(browser: Browser, element: str) -> str:
    """The element's text ('' while the page is still loading)."""
    value: str = await browser.evaluate(
        f"(document.getElementById('{element}') || {{}}).textContent || ''"
    )
    return value


async def close_pages(pages: dict[str, Browser]) -> None:
    """Close every page, emptied from `pages`: in the test before the server stops (the
    pages' sockets go first), and again in its `finally` for those still open."""
    while pages:
        _, browser = pages.popitem()
        await browser.close()


async def log_in(page: Browser, seat: str, timeout: float) -> None:
    """The desk of `seat` shows its first frame (the seat offline, no pop), watches its
    pops (WATCH_POPS), and logs in on the page: the seat's row comes back available on
    the desk's stream."""
    await until(lambda: text(page, "seat-id"), timeout, "the desk's first frame")
    assert seat in await text(page, "seat-id")
    await until(lambda: page.evaluate(f"{SEAT_STATE} === 'offline'"), timeout, "row")
    assert await page.evaluate("document.getElementById('pop').hidden")
    await page.evaluate(WATCH_POPS)
    await page.evaluate("document.getElementById('login').click()")
    await until(lambda: page.evaluate(f"{SEAT_STATE} === 'available'"), timeout, "logged in")


async def popped(
    floor: Floor, pages: dict[str, Browser], timeout: float
) -> tuple[str, Browser, Browser, str]:
    """Once a call is offered: the seat that rings, its page, the other seat's page, and
    the call its pop shows, with the dialed old number's unit within a second of the ring
    (the ring seen on the live model, polled every 5 ms so the second is the pop's)."""
    state = floor.live.nodes["pbx1"]

    def ringing() -> str | None:
        for queue in state.queues.values():
            for member in queue.members.values():
                if member.ringing:
                    return str(member.member_name)
        return None

    start = time.monotonic()
    while (seat := ringing()) is None:
        assert time.monotonic() - start < timeout, "no seat rang"
        await asyncio.sleep(0.005)
    rang = time.monotonic()
    page, other = pages[seat], pages["1002" if seat == "1001" else "1001"]
    await until(
        lambda: page.evaluate(
            f"{POP_SHOWN} && document.getElementById('pop-unit').textContent.includes({UNIT!r})"
        ),
        1.0,
        "the pop with the dialed unit within a second of the ring",
    )
    assert time.monotonic() - rang < 1.0
    call: str = await page.evaluate(POP_CALL)
    assert await text(page, "pop-dialed") == OLD
    return seat, page, other, call
