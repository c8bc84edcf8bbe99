"""Issue 15, low item: a binary or deeply nested first WebSocket frame on
`/api/v1/live` raised an unhandled traceback. Every first frame that is not
`{"token": "..."}` now closes the socket with 4400 and one log line, no traceback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect

import api.live_ws as live_ws
from api.app import create_app
from api.services import ApiServices
from callcenter.live.live_state import LiveState
from callcenter.tokens import Role
from tests.api.server import serving, sqlite_tokens


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """The stream's URL and an agent's token."""
    tokens, engine = await sqlite_tokens(tmp_path)
    _, agent = await tokens.create("agent 1001", Role.AGENT, seat="1001")
    services = ApiServices.from_systems(tokens=tokens, live=LiveState(lambda: 0.0))
    assert services.stream is not None
    app = create_app(services, CollectorRegistry(), "t")
    try:
        async with serving(app) as host:
            yield f"ws://{host}/api/v1/live", agent
    finally:
        await services.stream.stop()
        await engine.dispose()


async def closed_with(url: str, first: str | bytes, *, text: bool | None = None) -> int:
    async with connect(url) as ws:
        await ws.send(first, text=text)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


FRAMES: list[tuple[str, str | bytes]] = [
    ("binary JSON", json.dumps({"token": "cc_x"}).encode()),
    ("binary, not UTF-8", b"\xff\xfe\x00{"),
    ("nested 500 deep", "[" * 500 + "]" * 500),
    ("nested objects", '{"a": {"b": {"c": {"token": "cc_x"}}}}'),
    ("too long", json.dumps({"token": "cc_" + "x" * 5000})),
    ("a list", '["cc_x"]'),
    ("a string", '"cc_x"'),
    ("a number", "12345"),
    ("null", "null"),
    ("not JSON", "token=cc_x"),
    ("token not a string", '{"token": ["cc_x"]}'),
]


@pytest.mark.parametrize(("what", "frame"), FRAMES, ids=[what for what, _ in FRAMES])
async def test_a_bad_first_frame_is_closed_with_4400_and_a_log_line(
    url: tuple[str, str], what: str, frame: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert await closed_with(url[0], frame) == live_ws.CLOSE_BAD_FRAME
    refused = [r for r in caplog.records if "first frame refused" in r.getMessage()]
    assert len(refused) == 1
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_invalid_utf8_in_a_text_frame_ends_without_a_traceback(
    url: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The WebSocket layer refuses it (1007) before the application sees a frame; its
    traceback is one warning line."""
    caplog.set_level(logging.WARNING)
    code = await closed_with(url[0], b'{"token": "\xff"}', text=True)
    assert code == 1007
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert [r.levelname for r in caplog.records if "not UTF-8" in r.getMessage()] == ["WARNING"]


async def test_the_token_frame_still_works(url: tuple[str, str]) -> None:
    async with connect(url[0]) as ws:
        await ws.send(json.dumps({"token": url[1]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
    assert await closed_with(url[0], json.dumps({"token": "cc_unknown"})) == 4401
    assert await closed_with(url[0], "{}") == live_ws.CLOSE_UNAUTHENTICATED


def test_depth_skips_brackets_inside_strings() -> None:
    frame = {"type": "websocket.receive", "text": json.dumps({"token": "[[[[{{{{"})}
    assert live_ws.first_frame_token(frame) == "[[[[{{{{"
