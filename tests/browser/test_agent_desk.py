"""The agent's desk (`/agent`) in headless chromium against pbxsim: two agents log in
on their pages, a call on an old number rings one of the seats and that agent's page
shows the pop with the dialed number's unit within a second, the number whole once the
call is taken; the pop comes back after the desk's connection drops mid-call; the other
agent's page never shows the call. Then English, and a revoked token's message.

Skipped (with the reason) only when chromium is missing outside CI (see
test_wallboard.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.tokens import Role, TokenStore
from tests.api.server import serving
from tests.api.test_desk import CALLER, OLD, answer_slowly, legacy_directory
from tests.browser.cdp import Browser
from tests.browser.desk import (
    POP_CALL,
    POP_SHOWN,
    SEAT_STATE,
    close_pages,
    log_in,
    popped,
    text,
    until,
)
from tests.browser.test_wallboard import chromium_or_skip, screenshot
from tests.queues.sim import open_floor


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_agent_logs_in_and_its_desk_pops_the_call_that_rings_it(
    database_url: str,
) -> None:
    binary = chromium_or_skip()
    floor = await open_floor(database_url, 2, lambda i: {"housing": 3}, policy=answer_slowly)
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    tokens_of = {
        "1001": (await tokens.create("agent one", Role.AGENT, seat="1001"))[1],
        "1002": (await tokens.create("agent two", Role.AGENT, seat="1002"))[1],
    }
    directory = await legacy_directory(floor)
    floor.sim.route(OLD, "hotline-housing")
    services = ApiServices.from_systems(
        tokens=tokens, live=floor.live, seats=floor.seats, records=floor.records, legacy=directory
    )
    app = create_app(services, CollectorRegistry(), "t")
    pages: dict[str, Browser] = {}
    try:
        async with serving(app) as host:
            for seat, token in tokens_of.items():
                pages[seat] = await Browser.launch(binary, f"http://{host}/agent#token={token}")
            for seat, page in pages.items():
                await log_in(page, seat, 10)
            # a pause with a reason from the list, shown in words, then back to work
            two = pages["1002"]
            await two.evaluate(
                "document.getElementById('pause-reason').value = 'meal';"
                "document.getElementById('pause').click()"
            )
            await until(lambda: two.evaluate(f"{SEAT_STATE} === 'paused'"), 10, "paused")
            assert "用餐" in await text(two, "seat-state")
            await two.evaluate("document.getElementById('unpause').click()")
            await until(lambda: two.evaluate(f"{SEAT_STATE} === 'available'"), 10, "unpaused")

            floor.sim.call(CALLER, OLD)
            _, page, other, call = await popped(floor, pages, 10)
            assert "市本级" in await text(page, "pop-unit")

            # taken: the number whole for the agent who has the call
            await until(lambda: text(page, "pop-caller"), 5, "caller")
            await until(
                lambda: page.evaluate(
                    f"document.getElementById('pop-caller').textContent === {CALLER!r}"
                ),
                5,
                "the number once answered",
            )
            assert await page.evaluate("!document.getElementById('work').hidden")
            await screenshot(page, "agent-desk-zh.png")

            # the desk's connection drops mid-call: the pop comes back from the service
            await page.evaluate("clearPop(); live.socket.close()")
            assert await page.evaluate("document.getElementById('pop').hidden")
            await until(lambda: page.evaluate(f"{POP_CALL} === {call!r}"), 10, "pop again")
            await until(lambda: page.evaluate(POP_SHOWN), 5, "pop shown again")
            assert await text(page, "pop-caller") == CALLER

            # the other agent's desk never showed the call, nor any
            assert await other.evaluate("window.popsSeen") == []
            assert call not in await other.evaluate("document.documentElement.outerHTML")

            # English
            await page.evaluate("document.getElementById('lang').click()")
            title = await page.evaluate("document.querySelector('h1').textContent")
            assert title.startswith("12345 Government Service Hotline")
            assert await text(page, "pop-phase") in ("On the call", "Wrap-up", "Ended")
            await screenshot(page, "agent-desk-en.png")

            # a token the service refuses: said so, with a field for a new one
            # (the page reconnects with a token the service does not know)
            await other.evaluate(
                f"localStorage.setItem('agent-token', 'cc_{'x' * 43}'); live.socket.close()"
            )
            await until(
                lambda: other.evaluate("document.body.dataset.link === 'revoked'"), 10, "4401"
            )
            assert "令牌已失效" in await text(other, "link-message")
            assert await other.evaluate("!document.getElementById('token-form').hidden")
            await close_pages(pages)  # before the server stops: its sockets go first
    finally:
        await close_pages(pages)
        if services.desk is not None:
            await services.desk.stop()
        await floor.close()
