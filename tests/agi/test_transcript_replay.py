"""The recorded real-Asterisk FastAGI sessions, replayed against our server.

A scripted Asterisk sends each transcript's environment and, for every command, exactly
the reply lines the real one sent (`HANGUP`, `511`, the multi-line `520-` block, `510`).
The handler re-issues the transcript's commands through `AgiSession.command`; it must
read one reply per command, stay in step through the 520 block and see the hangup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agi.protocol.replies import AgiReply
from agi.protocol.session import AgiSession
from pbxsim.agi_client import parse_command_args
from tests.agi.helpers import read_command, running_server, wait_closed
from tests.conftest import TRANSCRIPTS
from tests.pbxsim.transcript import AgiSession as Transcript
from tests.pbxsim.transcript import agi_log_paths, load_agi_log

PATHS = agi_log_paths(TRANSCRIPTS)


def split_verb(command: str) -> tuple[str, list[str]]:
    argv = parse_command_args(command)
    words = []
    while argv and argv[0].isalpha() and argv[0].isupper():
        words.append(argv.pop(0))
    return " ".join(words), argv


def final_reply(lines: list[str]) -> str:
    """The line that ends a reply: not HANGUP, not a 520 continuation."""
    for line in reversed(lines):
        if line != "HANGUP" and not line.startswith("520-"):
            return line
    raise AssertionError(lines)


def test_every_transcript_found() -> None:
    assert len(PATHS) >= 5, PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
async def test_replay(path: Path) -> None:
    transcript: Transcript = load_agi_log(path)
    script = transcript.env_value("agi_network_script") or ""
    seen: list[tuple[AgiReply, bool]] = []

    async def handler(session: AgiSession) -> None:
        for exchange in transcript.exchanges:
            verb, args = split_verb(exchange.command)
            reply = await session.command(verb, *args)
            seen.append((reply, session.hungup))

    async with running_server({script.split("?")[0]: handler}) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(transcript.env_bytes())
        for exchange in transcript.exchanges:
            sent = await read_command(reader)
            assert sent == parse_command_args(exchange.command)
            writer.write(b"".join(r.text.encode() + b"\n" for r in exchange.replies))
        assert await wait_closed(reader) == b""
        writer.close()

    assert len(seen) == len(transcript.exchanges)
    for (reply, hungup), exchange in zip(seen, transcript.exchanges, strict=True):
        lines = [r.text for r in exchange.replies]
        expected = final_reply(lines)
        assert reply.code == int(expected[:3])
        if reply.code == 200:
            assert expected.startswith(f"200 result={reply.result}")
            if reply.data is not None:
                assert f"({reply.data})" in expected
        if reply.code == 520:
            assert "Proper usage follows" in reply.text
            assert "PLAYBACKSTATUS" in reply.text
        if "HANGUP" in lines:
            assert hungup


async def test_hangup_transcript_ends_in_hangup_for_typed_commands() -> None:
    """agi-4.log through the typed API: GET DATA -1 then HANGUP + 511 → AgiHangup."""
    from agi.protocol.errors import AgiHangup

    transcript = load_agi_log(TRANSCRIPTS / "agi-4.log")
    outcome: list[str] = []

    async def handler(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.get_data("beep", 6000, 4)
        except AgiHangup:
            outcome.append("hangup")
            raise

    async with running_server({"slowmenu": handler}) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(transcript.env_bytes())
        assert (await read_command(reader)) == ["ANSWER"]
        writer.write(b"200 result=0\n")
        assert (await read_command(reader)) == ["GET", "DATA", "beep", "6000", "4"]
        # the caller hangs up during the prompt: -1, then HANGUP before the next reply
        writer.write(b"200 result=-1\n")
        assert (await read_command(reader)) == ["CHANNEL", "STATUS"]
        writer.write(b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n")
        assert await wait_closed(reader) == b""
        writer.close()
    assert outcome == ["hangup"]
