"""One FastAGI connection: the wire side (`AgiConnection`, an asyncio Protocol) and the
command API the flows use (`AgiSession`).

The reply reader is where panoramisk went wrong (reference/asterisk-protocol.md §3.2):
- `HANGUP` is sent by Asterisk unsolicited, between commands or right after a blocking
  command's reply; it is an out-of-band flag here, never a reply;
- `100 Trying...` (GOSUB) precedes the real reply and is skipped;
- `520-` starts a usage block that runs to the line starting `520 `; it is collected
  whole (bounded), so the next command does not read leftover usage text;
- every wait has a deadline; EOF or garbage fails the pending command at once, so a dead
  peer can neither hang a session nor make it spin.

Lines are split in `data_received` and handed to the one pending command's future:
no StreamReader, no per-read coroutine, and deadlines kept by one `Watchdog` timer per
connection rather than `asyncio.timeout()` per read. Those layers cost more than the
whole IVR logic of a call (bench/agi_bench.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from agi.protocol.commands import AgiCommands
from agi.protocol.env import MAX_ENV_LINES, MAX_LINE_BYTES, AgiEnv, EnvError, parse_env_text
from agi.protocol.errors import AgiProtocolError
from agi.protocol.quoting import build_command
from agi.protocol.replies import AgiReply, ReplyError, parse_reply

log = logging.getLogger(__name__)

#: a usage text is a few lines of XML description; more means a confused peer
MAX_USAGE_LINES = 200
#: replies that arrived before their command (a peer ahead of us); more is not AGI
MAX_EARLY_REPLIES = 16
DEFAULT_READ_TIMEOUT_S = 10.0
MAX_ENV_BYTES = MAX_ENV_LINES * 256

Observer = Callable[[str, float], None]
_monotonic = time.monotonic


class Watchdog:
    """The deadline of a connection's current wait. `arm`/`disarm` only set fields: the
    server's one ticker (`check`) aborts connections whose armed deadline has passed,
    which costs far less than a timer per read or per session."""

    __slots__ = ("_armed", "_deadline", "_transport", "fired")

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._deadline = 0.0
        self._armed = False
        self.fired = False

    def arm(self, seconds: float) -> None:
        self._deadline = _monotonic() + seconds
        self._armed = True

    def disarm(self) -> None:
        self._armed = False

    def close(self) -> None:
        self._armed = False

    def check(self, now: float) -> None:
        """`now` from time.monotonic()."""
        if self._armed and now >= self._deadline:
            self._armed = False
            self.fired = True
            self._transport.abort()  # type: ignore[attr-defined]  # ends in connection_lost


def parse_env_block(block: bytes) -> AgiEnv:
    """The bytes before the blank line that ends the environment."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvError("environment is not UTF-8") from exc
    return parse_env_text(text)


class AgiConnection(asyncio.Protocol):
    """The wire: environment first, then one reply per command. `on_env` is called once
    with the environment (or the EnvError) and returns the session to feed replies to."""

    def __init__(
        self,
        on_env: Callable[[AgiConnection, AgiEnv | EnvError], None],
        env_timeout: float,
    ) -> None:
        self._on_env = on_env
        self._env_timeout = env_timeout
        self._buffer = b""
        self._env_done = False
        self._usage: list[str] | None = None
        self.transport: asyncio.Transport | None = None
        self.watchdog: Watchdog | None = None
        self.waiter: asyncio.Future[AgiReply] | None = None
        self.session: AgiSession | None = None
        self.closed = False
        #: the peer sent EOF: buffered replies still count, nothing more will come
        self.eof = False
        self.early: deque[AgiReply | AgiProtocolError] = deque()
        self.broken = False
        #: set by the server when it refuses the connection at accept time
        self.refused = False

    @property
    def env_received(self) -> bool:
        """The environment block has arrived (or failed): the connection said something."""
        return self._env_done

    # --- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.watchdog = Watchdog(transport)
        self.watchdog.arm(self._env_timeout)

    def data_received(self, data: bytes) -> None:
        if self.broken:
            return
        buffer = self._buffer + data if self._buffer else data
        if not self._env_done:
            end = buffer.find(b"\n\n")
            if end < 0:
                if len(buffer) > MAX_ENV_BYTES:
                    self._env_failed(EnvError(f"environment longer than {MAX_ENV_BYTES} bytes"))
                else:
                    self._buffer = buffer
                return
            self._env_done = True
            assert self.watchdog is not None
            self.watchdog.disarm()
            try:
                env = parse_env_block(buffer[:end])
            except EnvError as exc:
                self._env_failed(exc)
                return
            buffer = buffer[end + 2 :]
            self._on_env(self, env)
        start = 0
        while not self.broken:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            self._line(buffer[start:end])
            start = end + 1
        rest = buffer[start:] if start else buffer
        if len(rest) > MAX_LINE_BYTES:
            self._fail(AgiProtocolError("reply line too long"))
            rest = b""
        self._buffer = rest

    def eof_received(self) -> bool:
        """Keep our side open (res_agi never half-closes; a test peer may) so buffered
        replies are still read; a command waiting now will get nothing more."""
        self.eof = True
        if not self._env_done:
            lines = self._buffer.count(b"\n")
            self._env_failed(EnvError(f"environment truncated after {lines} lines"))
            return False
        if self._env_done and self.waiter is not None:
            self._fail(AgiProtocolError("connection closed"))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.watchdog is not None:
            fired = self.watchdog.fired
            self.watchdog.close()
        else:
            fired = False
        if self.refused:
            return
        if not self._env_done:
            self._env_done = True
            lines = self._buffer.count(b"\n")
            reason = (
                f"environment not complete within {self._env_timeout:g} s"
                if fired
                else f"environment truncated after {lines} lines"
            )
            self._on_env(self, EnvError(reason))
            return
        if fired:
            self._fail(AgiProtocolError("no reply within the read timeout"))
        else:
            self._fail(AgiProtocolError("connection closed" if exc is None else f"lost: {exc}"))

    # --- lines -------------------------------------------------------------------------
    def _line(self, raw: bytes) -> None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(AgiProtocolError("reply is not UTF-8"))
            return
        if line.endswith("\r"):
            line = line[:-1]
        if line == "HANGUP":
            if self.session is not None:
                self.session.hungup = True
            return
        usage = self._usage
        if usage is not None:
            if line.startswith("520 "):
                self._usage = None
                self._resolve(AgiReply(520, text="\n".join(usage)))
            elif len(usage) >= MAX_USAGE_LINES:
                self._fail(AgiProtocolError(f"520 usage block over {MAX_USAGE_LINES} lines"))
            else:
                usage.append(line)
            return
        if line.startswith("100 ") or line == "100":
            return
        if line.startswith("520-"):
            self._usage = [line[4:]]
            return
        try:
            reply = parse_reply(line)
        except ReplyError as exc:
            self._fail(AgiProtocolError(str(exc)))
            return
        self._resolve(reply)

    def _resolve(self, reply: AgiReply) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            if len(self.early) >= MAX_EARLY_REPLIES:
                self._fail(AgiProtocolError("more replies than commands"))
            else:
                self.early.append(reply)
            return
        self.waiter = None
        waiter.set_result(reply)

    def _fail(self, error: AgiProtocolError) -> None:
        """The peer broke the protocol: the pending command fails now; with none
        pending, the next command does (as it would have read the garbage). Nothing
        more is read from this connection either way."""
        self.eof = self.broken = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
            if self.transport is not None and not self.closed:
                self.transport.abort()
        elif not self.closed:
            self.early.append(error)

    def _env_failed(self, error: EnvError) -> None:
        self._env_done = True
        if self.watchdog is not None:
            self.watchdog.close()
        self._on_env(self, error)


class AgiSession(AgiCommands):
    """The server's side of one AGI conversation; `hungup` turns True once the caller
    is gone (flows check it, commands raise `AgiHangup`)."""

    def __init__(
        self,
        connection: AgiConnection,
        env: AgiEnv,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT_S,
        observe: Observer | None = None,
    ) -> None:
        self.connection = connection
        self.env = env
        self.read_timeout = read_timeout
        self.hungup = False
        self.commands_sent = 0
        self._observe = observe
        self._loop = asyncio.get_running_loop()

    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one command; `timeout` is the command's own wait (prompt + digits), to
        which the session's read timeout is added as slack."""
        line = build_command(verb, *args)
        connection = self.connection
        transport = connection.transport
        if connection.closed or transport is None:
            raise AgiProtocolError(f"{verb}: connection closed")
        started = time.perf_counter()
        transport.write(line)
        self.commands_sent += 1
        if connection.early:
            early = connection.early.popleft()
            if isinstance(early, AgiProtocolError):
                raise early
            return early
        if connection.eof:
            raise AgiProtocolError(f"{verb}: connection closed")
        waiter: asyncio.Future[AgiReply] = self._loop.create_future()
        connection.waiter = waiter
        watchdog = connection.watchdog
        assert watchdog is not None
        watchdog.arm(self.read_timeout + (timeout or 0.0))
        try:
            reply = await waiter
        finally:
            watchdog.disarm()
            connection.waiter = None
        if self._observe is not None:
            self._observe(verb, time.perf_counter() - started)
        return reply
