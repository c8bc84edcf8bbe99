"""Hypothesis: random environments and random reply streams never crash the server,
never leave a session running, and always end with the socket closed."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agi.protocol.env import EnvError, parse_env
from agi.protocol.replies import ReplyError, parse_reply
from agi.protocol.server import FastAgiServer, ServerConfig
from agi.protocol.session import AgiSession
from tests.agi.helpers import ENV_LINES

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

env_line = st.one_of(
    st.sampled_from(ENV_LINES),
    st.text(max_size=40).map(lambda t: t.replace("\n", "")),
    st.builds(
        lambda k, v: f"agi_{k}: {v}",
        st.from_regex(r"[a-z_0-9]{1,12}", fullmatch=True),
        st.text(max_size=20).map(lambda t: t.replace("\n", "")),
    ),
)
reply_line = st.one_of(
    st.sampled_from(
        [
            "200 result=0",
            "200 result=1 (x)",
            "200 result= (timeout)",
            "200 result=-1",
            "HANGUP",
            "100 result=0 Trying...",
            "510 Invalid or unknown command",
            "511 Command Not Permitted on a dead channel or intercept routine",
            "520-Invalid command syntax.  Proper usage follows:",
            "520 End of proper usage.",
            "",
        ]
    ),
    st.text(max_size=30).map(lambda t: t.replace("\n", "")),
)


@given(st.lists(st.text(max_size=50), max_size=30))
def test_parse_env_only_raises_env_error(lines: list[str]) -> None:
    try:
        parse_env(lines)
    except EnvError:
        pass


@given(st.text(max_size=80))
def test_parse_reply_only_raises_reply_error(line: str) -> None:
    try:
        reply = parse_reply(line)
    except ReplyError:
        return
    assert 100 <= reply.code <= 599


async def _exchange(env: bytes, replies: bytes) -> tuple[int, bytes]:
    """Run one session against a peer that sends `env`, then `replies`, then EOF."""

    async def flow(session: AgiSession) -> None:
        await session.answer()
        await session.get_data("welcome", 100, 1)
        await session.set_variable("HOTLINE_ROUTED", "1")
        await session.stream_file("thanks")

    server = FastAgiServer(
        {"incoming": flow}, ServerConfig(port=0, env_timeout_s=0.5, read_timeout_s=0.3)
    )
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(env + replies)
        writer.write_eof()
        try:
            sent = await asyncio.wait_for(reader.read(), 5.0)
        except ConnectionResetError:
            sent = b""
        writer.close()
        return server.active, sent
    finally:
        await server.stop(grace_s=0.5)


@FUZZ
@given(st.lists(env_line, max_size=30), st.lists(reply_line, max_size=12))
async def test_random_environment_and_replies_end_cleanly(
    lines: list[str], replies: list[str]
) -> None:
    env = ("\n".join(lines) + "\n\n").encode()
    body = "".join(r + "\n" for r in replies).encode()
    active, sent = await _exchange(env, body)
    assert active == 0
    # whatever was sent is whole command lines, at most one per reply line plus the
    # CHANNEL STATUS probes that a -1 triggers
    assert sent == b"" or sent.endswith(b"\n")
    assert sent.count(b"\n") <= 2 * len(replies) + 1


@FUZZ
@given(st.lists(reply_line, max_size=12), st.binary(max_size=40))
async def test_valid_environment_with_garbage_replies(replies: list[str], tail: bytes) -> None:
    env = ("\n".join(ENV_LINES) + "\n\n").encode()
    body = "".join(r + "\n" for r in replies).encode() + tail
    active, sent = await _exchange(env, body)
    assert active == 0
    assert sent.startswith(b"ANSWER\n")
