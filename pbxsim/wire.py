"""AMI framing, reproduced from Asterisk's own reader (main/manager.c).

Asterisk does not parse a byte stream into messages the way a textbook protocol would;
it reads lines into a 1025-byte buffer (`get_input`) and collects them into a message
until an empty line (`do_message`). The quirks of that loop are observable by clients,
so `MessageReader` reproduces it rather than "doing the right thing":

* A line ends at ``\\n``; one ``\\r`` right before it is dropped. A lone ``\\r`` elsewhere
  is part of the line.
* Only 1024 bytes are buffered. If 1024 bytes hold no ``\\n`` the buffer is discarded
  except its last byte (it may be the ``\\r`` of a CRLF), the rest of the long line is
  read as if it were a new line, and when the message ends it is answered with
  ``Failed to parse message: line too long`` instead of being executed.
* At most 128 lines are kept per message; more lines make the message fail with
  ``Too many lines in message or allocation failure``. (That error does not clear the
  line-too-long flag: Asterisk leaves it for the next message, and so do we.)
* Lines are C strings: a NUL byte ends the line's content, and a line that starts with
  NUL is the empty line that ends a message.
* Every empty line ends a message, even when no header came before it; the server then
  answers ``Missing action in request``.

Decoding happens on whole lines only, so a UTF-8 character split across TCP reads is
never lost. Bytes that are not UTF-8 are kept as surrogate escapes and written back
unchanged (an ActionID is echoed byte for byte, as Asterisk does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pbxsim.manager_api import Request

AMI_VERSION = "11.0.0"  # include/asterisk/manager.h in Asterisk 22
BANNER = f"Asterisk Call Manager/{AMI_VERSION}\r\n".encode()

#: `sizeof(inbuf) - 1`: the longest line Asterisk can hold, without its terminator
MAX_LINE_BYTES = 1024
#: `ARRAY_LEN(m.headers)` (AST_MAX_MANHEADERS)
MAX_HEADERS = 128

LINE_TOO_LONG = "Failed to parse message: line too long"
TOO_MANY_LINES = "Too many lines in message or allocation failure"

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


def _skip_blanks(value: str) -> str:
    """`ast_skip_blanks`: drop leading characters below 33 (spaces, tabs, controls)."""
    i = 0
    while i < len(value) and ord(value[i]) < 33:
        i += 1
    return value[i:]


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """One message as Asterisk's `struct message` holds it, plus how reading it ended.

    `lines` are the raw header lines (at most `MAX_HEADERS`); `error` is set when the
    message must be answered with a parse error instead of being run.
    """

    lines: tuple[str, ...]
    error: str | None = None

    def get(self, name: str, *, skip_empty: bool = False) -> str:
        """`astman_get_header`: the first line `Name:` (case-insensitive, no space before
        the colon), value without leading blanks; "" when absent. `skip_empty` is
        `GET_HEADER_SKIP_EMPTY`, used for the Action header."""
        lname = name.lower()
        n = len(name)
        for line in self.lines:
            if line[:n].lower() == lname and line[n : n + 1] == ":":
                value = _skip_blanks(line[n + 1 :])
                if skip_empty and not value:
                    continue
                return value
        return ""

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Lines with a colon as (name, value); lines without one can never match a
        header lookup in Asterisk, so they are left out."""
        out: list[tuple[str, str]] = []
        for line in self.lines:
            key, sep, value = line.partition(":")
            if sep:
                out.append((key, _skip_blanks(value)))
        return tuple(out)

    def to_request(self, session_id: int = 0) -> Request:
        """A `Request` whose lookups agree with `astman_get_header`.

        Asterisk echoes an ActionID only when the *first* ActionID header is non-empty.
        `Request.action_id` treats an empty value as present, so an empty first ActionID
        removes every ActionID header here (a later one must not be used either).
        """
        headers = self.headers
        if self.get("ActionID") == "" and any(k.lower() == "actionid" for k, _ in headers):
            headers = tuple((k, v) for k, v in headers if k.lower() != "actionid")
        return Request(headers, session_id)


class MessageReader:
    """Incremental reader: `feed()` bytes as they arrive, get back complete messages."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._lines: list[str] = []
        self._too_long = False  # s->parsing == MESSAGE_LINE_TOO_LONG; outlives a message
        self._hdr_loss = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed as lines."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[ClientMessage]:
        self._buf += data
        messages: list[ClientMessage] = []
        while True:
            window = self._buf[:MAX_LINE_BYTES]
            end = window.find(b"\n")
            if end < 0:
                if len(self._buf) < MAX_LINE_BYTES:
                    return messages  # wait for more input
                # buffer full and no line end: keep the last byte, flag the message
                del self._buf[: MAX_LINE_BYTES - 1]
                self._too_long = True
                continue
            raw = bytes(self._buf[: end - 1 if end and self._buf[end - 1] == 0x0D else end])
            del self._buf[: end + 1]
            message = self._line(raw.split(b"\0", 1)[0])
            if message is not None:
                messages.append(message)

    def _line(self, raw: bytes) -> ClientMessage | None:
        if raw:
            if len(self._lines) < MAX_HEADERS:
                self._lines.append(raw.decode(_ENCODING, _ERRORS))
            else:
                self._hdr_loss = True
            return None
        error: str | None = None
        if self._hdr_loss:
            error = TOO_MANY_LINES
        elif self._too_long:
            error = LINE_TOO_LONG
            self._too_long = False
        message = ClientMessage(tuple(self._lines), error)
        self._lines = []
        self._hdr_loss = False
        return message


def encode_message(fields: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: ``Key: value`` lines in order, CRLF, and the empty line."""
    text = "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    return text.encode(_ENCODING, _ERRORS)


def encode_text(text: str) -> bytes:
    """Text already framed by the caller (keeps surrogate-escaped client bytes)."""
    return text.encode(_ENCODING, _ERRORS)
