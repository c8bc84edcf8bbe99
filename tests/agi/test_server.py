"""FastAGI server behaviour on bad peers, limits and the wire details of res_agi."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from agi.protocol.errors import AgiHangup
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, ServerConfig, parse_networks
from agi.protocol.session import AgiSession
from tests.agi.helpers import env_block, read_command, refused, running_server, wait_closed


async def _noop(session: AgiSession) -> None:
    await session.answer()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # EOF before anything
        b"agi_network: yes\nagi_request: agi://x/incoming\n",  # EOF before the blank line
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # a web client
        b"agi_network: yes\n\n",  # no request/channel/uniqueid
        b"agi_channel: a\nagi_channel: b\nagi_request: agi://h/incoming\nagi_uniqueid: 1\n\n",
        b"agi_request: agi://h/incoming\nagi_channel: c\nagi_uniqueid: 1\nagi_arg_2: x\n\n",
        b"\xff\xfe\n\n",  # not UTF-8
        b"agi_request: agi://h/incoming\nagi_channel: c\nagi_uniqueid: 1\n" + b"x" * 20000,
    ],
    ids=["eof", "truncated", "http", "missing", "repeated", "arg-gap", "binary", "long-line"],
)
async def test_bad_environment_is_closed_without_running_the_route(payload: bytes) -> None:
    ran: list[str] = []

    async def handler(session: AgiSession) -> None:
        ran.append(session.env.script)

    registry = CollectorRegistry()
    server = FastAgiServer(
        {"incoming": handler}, ServerConfig(port=0, env_timeout_s=1.0), AgiMetrics(registry)
    )
    await server.start()
    try:
        reader, writer = await _connect(server.port)
        writer.write(payload)
        if payload.endswith(b"\n") or not payload:
            writer.write_eof()
        assert await wait_closed(reader) == b""
        writer.close()
    finally:
        await server.stop()
    assert ran == []
    assert (
        registry.get_sample_value(
            "callcenter_agi_sessions_total", {"route": "", "outcome": "bad_env"}
        )
        == 1.0
    )


async def test_silent_peer_times_out_and_frees_its_slot() -> None:
    async with running_server({"incoming": _noop}, env_timeout_s=0.3, max_sessions=1) as server:
        reader, writer = await _connect(server.port)
        writer.write(b"agi_network: yes\n")  # then nothing
        assert await wait_closed(reader, 2.0) == b""
        writer.close()
        assert server.active == 0


async def test_route_ignores_query_string_and_reads_args() -> None:
    got: list[tuple[str, tuple[str, ...]]] = []

    async def handler(session: AgiSession) -> None:
        got.append((session.env.script, session.env.args))

    async with running_server({"incoming": handler}) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block("incoming?x=1", args=("043262345678", "", "arg three")))
        assert await wait_closed(reader) == b""
        writer.close()
    assert got == [("incoming", ("043262345678", "", "arg three"))]


async def test_unknown_route_closes() -> None:
    async with running_server({"incoming": _noop}) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block("nosuch"))
        assert await wait_closed(reader) == b""
        writer.close()


async def test_out_of_band_hangup_and_trying_lines() -> None:
    """`HANGUP` between commands is a flag, not the next reply; `100 Trying` is skipped."""
    replies: list[tuple[str, str | None, bool]] = []

    async def handler(session: AgiSession) -> None:
        r = await session.command("GOSUB", "sub", "s", 1)
        replies.append((r.result, r.text, session.hungup))
        value = await session.get_variable("X")
        replies.append(("var", value, session.hungup))

    async with running_server({"incoming": handler}) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await read_command(reader) == ["GOSUB", "sub", "s", "1"]
        writer.write(b"100 result=0 Trying...\n200 result=0 Gosub complete\n")
        assert await read_command(reader) == ["GET", "VARIABLE", "X"]
        writer.write(b"HANGUP\n200 result=1 (a b)\n")
        assert await wait_closed(reader) == b""
        writer.close()
    assert replies == [("0", "Gosub complete", False), ("var", "a b", True)]


async def test_no_reply_times_out() -> None:
    errors: list[str] = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.answer()
        except Exception as exc:
            errors.append(type(exc).__name__)
            raise

    async with running_server({"incoming": handler}, read_timeout_s=0.2) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await read_command(reader) == ["ANSWER"]
        assert await wait_closed(reader) == b""  # closed by us after the timeout
        writer.close()
    assert errors == ["AgiProtocolError"]


async def test_caller_text_cannot_inject_a_command() -> None:
    nasty = 'x"\nHANGUP\n" \\" EXEC Dial PJSIP/110'

    async def handler(session: AgiSession) -> None:
        await session.set_variable("HOTLINE_CALLER_NAME", nasty)

    async with running_server({"incoming": handler}) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block(calleridname=nasty.replace("\n", " ")))
        argv = await read_command(reader)
        writer.write(b"200 result=1\n")
        rest = await wait_closed(reader)
        writer.close()
    assert argv == ["SET", "VARIABLE", "HOTLINE_CALLER_NAME", nasty.replace("\n", " ")]
    assert rest == b""  # one line only: no second command


async def test_full_server_refuses_at_once() -> None:
    gate = asyncio.Event()

    async def slow(session: AgiSession) -> None:
        await gate.wait()

    async with running_server({"incoming": slow}, max_sessions=2) as server:
        held = []
        for _ in range(2):
            reader, writer = await _connect(server.port)
            writer.write(env_block())
            held.append((reader, writer))
        while server.active < 2:  # noqa: ASYNC110  (the server exposes a count, no event)
            await asyncio.sleep(0.01)
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await refused(reader, 1.0)  # refused at once, not queued
        writer.close()
        assert server.refused == 1
        gate.set()
        for reader, writer in held:
            assert await wait_closed(reader) == b""
            writer.close()


async def test_allow_list_refuses_other_peers() -> None:
    async with running_server({"incoming": _noop}, allowed_peers=("10.9.9.0/24",)) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await refused(reader)
        writer.close()
        assert server.refused == 1
    async with running_server({"incoming": _noop}, allowed_peers=("127.0.0.1",)) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await read_command(reader) == ["ANSWER"]
        writer.write(b"200 result=0\n")
        assert await wait_closed(reader) == b""
        writer.close()
        assert server.refused == 0


def test_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        parse_networks(["10.0.0.1", "10.0.0.300"])


async def test_missing_prompt_on_live_channel_is_not_a_hangup() -> None:
    """`-1` from STREAM FILE on a live channel (missing file) lets the flow go on."""
    result: list[str] = []

    async def handler(session: AgiSession) -> None:
        result.append(await session.stream_file("no-such-prompt", "0"))
        await session.set_variable("HOTLINE_ROUTED", "1")
        result.append("routed")

    async with running_server({"incoming": handler}) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await read_command(reader) == ["STREAM", "FILE", "no-such-prompt", "0"]
        writer.write(b"200 result=-1 endpos=0\n")
        assert await read_command(reader) == ["CHANNEL", "STATUS"]
        writer.write(b"200 result=6\n")
        assert await read_command(reader) == ["SET", "VARIABLE", "HOTLINE_ROUTED", "1"]
        writer.write(b"200 result=1\n")
        assert await wait_closed(reader) == b""
        writer.close()
    assert result == ["", "routed"]


async def test_wait_for_digit_hangup_raises() -> None:
    raised: list[bool] = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.wait_for_digit(1000)
        except AgiHangup:
            raised.append(True)
            raise

    async with running_server({"incoming": handler}) as server:
        reader, writer = await _connect(server.port)
        writer.write(env_block())
        assert await read_command(reader) == ["WAIT", "FOR", "DIGIT", "1000"]
        writer.write(b"200 result=-1\nHANGUP\n")
        assert await wait_closed(reader) == b""
        writer.close()
    assert raised == [True]
