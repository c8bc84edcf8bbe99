"""Typed AGI commands on top of `AgiSession.command`.

Each method states what the reply means for that command (res_agi.c's handlers) so the
IVR never parses `result=` itself: digits come back as `str`, "unset" as `None`, a hangup
as `AgiHangup`. Every argument goes through `build_command`, which quotes it, so a caller
ID name or digit string can never inject a second command.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from agi.protocol.errors import AgiCommandError, AgiHangup, AgiProtocolError
from agi.protocol.replies import AgiReply

log = logging.getLogger(__name__)

#: extra seconds on top of a command's own wait (prompt, digit timeout) before the
#: reply is considered lost
REPLY_SLACK_S = 5.0
#: an upper bound for prompt playback; our prompts are a few seconds long
PLAYBACK_MAX_S = 120.0


@dataclass(frozen=True, slots=True)
class Digits:
    """What GET DATA collected. `timed_out` is Asterisk's `(timeout)` marker: the caller
    stopped typing before `max_digits`; `digits` may still hold what they typed."""

    digits: str
    timed_out: bool


class AgiCommands(ABC):
    """The commands the IVR uses. Subclasses provide the transport (`command`)."""

    hungup: bool

    @abstractmethod
    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one command and return its final reply (after `100`, `HANGUP`, `520-`)."""

    # --- helpers ---------------------------------------------------------------------
    def _check(self, verb: str, reply: AgiReply) -> AgiReply:
        if reply.code == 200:
            return reply
        if reply.code == 511:
            self.hungup = True
            raise AgiHangup(f"{verb}: channel is dead")
        if reply.code in (510, 520):
            raise AgiCommandError(verb, reply)
        raise AgiProtocolError(f"{verb}: unexpected reply {reply.code} {reply.text[:60]!r}")

    async def _media_failed(self, verb: str) -> None:
        """`-1` from a media command means a hangup *or* a missing sound file; ask the
        channel which, so a missing prompt does not end a live caller's IVR."""
        if not self.hungup:
            status = self._check("CHANNEL STATUS", await self.command("CHANNEL STATUS"))
            if status.result_int is not None and status.result_int >= 0:
                log.warning("%s failed on a live channel (missing sound file?)", verb)
                return
        self.hungup = True
        raise AgiHangup(f"{verb}: channel hung up")

    # --- the commands ----------------------------------------------------------------
    async def answer(self) -> None:
        reply = self._check("ANSWER", await self.command("ANSWER"))
        if reply.result_int == -1:
            self.hungup = True
            raise AgiHangup("ANSWER failed: channel gone")

    async def stream_file(self, name: str, escape_digits: str = "") -> str:
        """Play `name`; the digit that interrupted it, or "" if it played to the end."""
        reply = self._check(
            "STREAM FILE",
            await self.command("STREAM FILE", name, escape_digits, timeout=PLAYBACK_MAX_S),
        )
        code = reply.result_int
        if code is None or code < 0:
            await self._media_failed("STREAM FILE")
            return ""
        return chr(code) if code > 0 else ""

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> Digits:
        """Play `prompt` and collect up to `max_digits` (ending early on `#`)."""
        wait = PLAYBACK_MAX_S + timeout_ms / 1000 * max(1, max_digits)
        reply = self._check(
            "GET DATA", await self.command("GET DATA", prompt, timeout_ms, max_digits, timeout=wait)
        )
        if reply.result == "-1":
            await self._media_failed("GET DATA")
            return Digits("", True)
        return Digits(reply.result, reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """One key within `timeout_ms` (-1 waits for ever: never used), "" on timeout."""
        reply = self._check(
            "WAIT FOR DIGIT",
            await self.command("WAIT FOR DIGIT", timeout_ms, timeout=timeout_ms / 1000),
        )
        code = reply.result_int
        if code is None or code < 0:
            self.hungup = True
            raise AgiHangup("WAIT FOR DIGIT: channel hung up")
        return chr(code) if code > 0 else ""

    async def set_variable(self, name: str, value: str) -> None:
        self._check("SET VARIABLE", await self.command("SET VARIABLE", name, value))

    async def get_variable(self, name: str) -> str | None:
        """A channel variable or function (`CALLERID(num)`); None when unset."""
        reply = self._check("GET VARIABLE", await self.command("GET VARIABLE", name))
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        """`${...}` expression evaluated on the channel; None when it evaluates to unset."""
        reply = self._check(
            "GET FULL VARIABLE", await self.command("GET FULL VARIABLE", expression)
        )
        return reply.data if reply.result == "1" else None

    async def exec(self, application: str, options: str = "") -> int:
        """Run a dialplan application; its return value. Raises if Asterisk lacks it."""
        reply = self._check(
            "EXEC", await self.command("EXEC", application, options, timeout=PLAYBACK_MAX_S)
        )
        if reply.result == "-2":
            raise AgiCommandError(f"EXEC {application}", reply)
        return reply.result_int if reply.result_int is not None else 0

    async def verbose(self, message: str, level: int = 3) -> None:
        self._check("VERBOSE", await self.command("VERBOSE", message, level))

    async def hangup(self) -> None:
        self._check("HANGUP", await self.command("HANGUP"))
        self.hungup = True

    async def noop(self, message: str = "") -> None:
        self._check("NOOP", await self.command("NOOP", message))

    async def channel_status(self) -> int:
        reply = self._check("CHANNEL STATUS", await self.command("CHANNEL STATUS"))
        return reply.result_int if reply.result_int is not None else -1

    async def database_put(self, family: str, key: str, value: str) -> bool:
        reply = self._check("DATABASE PUT", await self.command("DATABASE PUT", family, key, value))
        return reply.result == "1"

    async def database_get(self, family: str, key: str) -> str | None:
        reply = self._check("DATABASE GET", await self.command("DATABASE GET", family, key))
        return reply.data if reply.result == "1" else None

    async def database_del(self, family: str, key: str) -> bool:
        reply = self._check("DATABASE DEL", await self.command("DATABASE DEL", family, key))
        return reply.result == "1"
