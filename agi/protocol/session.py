"""One FastAGI connection: read the environment, then command → reply, with timeouts.

The reply reader is where panoramisk went wrong (reference/asterisk-protocol.md §3.2):
- `HANGUP` is sent by Asterisk unsolicited, between commands or right after a blocking
  command's reply; it is an out-of-band flag here, never a reply;
- `100 Trying...` (GOSUB) precedes the real reply and is skipped;
- `520-` starts a usage block that runs to the line starting `520 `; it is drained
  whole (bounded), so the next command does not read leftover usage text;
- every read has a deadline; EOF or garbage raises `AgiProtocolError` at once, so a dead
  peer can neither hang a session nor make it spin.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from agi.commands import AgiCommands
from agi.errors import AgiProtocolError
from agi.protocol.env import MAX_ENV_LINES, AgiEnv, EnvError, parse_env
from agi.protocol.quoting import build_command
from agi.protocol.replies import AgiReply, ReplyError, parse_reply

#: a usage text is a few lines of XML description; more means a confused peer
MAX_USAGE_LINES = 200
DEFAULT_READ_TIMEOUT_S = 10.0

Observer = Callable[[str, float], None]


async def read_line(reader: asyncio.StreamReader, timeout: float) -> str:
    """One `\\n`-terminated line without its line ending; AgiProtocolError on EOF,
    an over-long line, undecodable bytes or the deadline."""
    try:
        async with asyncio.timeout(timeout):
            raw = await reader.readline()
    except TimeoutError as exc:
        raise AgiProtocolError(f"no line within {timeout:g} s") from exc
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise AgiProtocolError("line too long") from exc
    except ConnectionError as exc:
        raise AgiProtocolError(f"connection lost: {exc}") from exc
    if not raw.endswith(b"\n"):
        raise AgiProtocolError("connection closed" if not raw else "connection closed mid-line")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgiProtocolError("line is not UTF-8") from exc
    return line.rstrip("\r\n")


async def read_env(reader: asyncio.StreamReader, timeout: float) -> AgiEnv:
    """The environment block, with one deadline for the whole block (a peer dribbling
    one line every few seconds must not hold a session slot for ever)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise EnvError(f"environment not complete within {timeout:g} s")
        try:
            line = await read_line(reader, remaining)
        except AgiProtocolError as exc:
            raise EnvError(f"environment truncated after {len(lines)} lines: {exc}") from exc
        if line == "":
            return parse_env(lines)
        lines.append(line)
        if len(lines) > MAX_ENV_LINES:
            raise EnvError(f"environment longer than {MAX_ENV_LINES} lines")


class AgiSession(AgiCommands):
    """The server's side of one AGI conversation; `hungup` turns True once the caller
    is gone (flows check it, commands raise `AgiHangup`)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: AgiEnv,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT_S,
        observe: Observer | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.read_timeout = read_timeout
        self.hungup = False
        self.commands_sent = 0
        self._observe = observe

    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one command; `timeout` is the command's own wait (prompt + digits), to
        which the session's read timeout is added as slack."""
        line = build_command(verb, *args)
        started = time.perf_counter()
        try:
            self.writer.write(line)
            await self.writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise AgiProtocolError(f"{verb}: connection lost: {exc}") from exc
        self.commands_sent += 1
        reply = await self._read_reply(self.read_timeout + (timeout or 0.0))
        if self._observe is not None:
            self._observe(verb, time.perf_counter() - started)
        return reply

    async def _read_reply(self, timeout: float) -> AgiReply:
        deadline = time.monotonic() + timeout
        while True:
            line = await read_line(self.reader, max(0.001, deadline - time.monotonic()))
            if line == "HANGUP":
                self.hungup = True
                continue
            if line.startswith("100 ") or line == "100":
                continue
            if line.startswith("520-"):
                return await self._drain_usage(line, deadline)
            try:
                return parse_reply(line)
            except ReplyError as exc:
                raise AgiProtocolError(str(exc)) from exc

    async def _drain_usage(self, first: str, deadline: float) -> AgiReply:
        text = [first[4:]]
        for _ in range(MAX_USAGE_LINES):
            line = await read_line(self.reader, max(0.001, deadline - time.monotonic()))
            if line.startswith("520 "):
                return AgiReply(520, text="\n".join(text))
            text.append(line)
        raise AgiProtocolError(f"520 usage block longer than {MAX_USAGE_LINES} lines")
