"""Readers for the real-Asterisk wire transcripts in shared/asterisk-transcripts.

The transcripts are the only ground truth pbxsim has, so this module is strict: any line
it cannot place raises `TranscriptError` with the line number instead of being skipped,
and both log kinds can be rendered back to the exact original text (`render_ami_log`,
`render_agi_log`), which is how the tests prove nothing was lost or misread.

AMI logs (`ami.log`, `ami-2.log`, `sip/ami-sip.log`), as written by record*.py:

* ``##### <title>`` starts a scenario (``##### scenario: <title>`` or a bare marker such
  as ``##### reconnect after the refused login``). Lines before the first marker (the
  Login of ami-2.log and ami-sip.log) form a scenario titled `PROLOGUE`.
* ``<secs> >>> Action: X`` plus the following ``Key: value`` lines is a message the
  *client* sent, up to a blank line. record3.py (ami-sip.log) strips the blank line, so
  a block also ends where Asterisk output starts (``Response:``, ``Event:``, banner).
* ``<secs> <<< EOF`` is the server closing the connection; the next connection's output
  follows (ami.log: the refused Login, then a new connection).
* Everything else is Asterisk output verbatim with CRLF shown as LF: the banner line
  ``Asterisk Call Manager/11.0.0`` (a single line with no blank line after it), then
  messages of ``Key: value`` lines ended by a blank line.

Order in the file is the order the *recorder* wrote things, not strict wire order: an
action is logged before it is sent, so e.g. the first Login precedes the banner, and the
replies to several actions sent back to back follow all of them. Match replies to
actions by ActionID (`Scenario.replies_to`), not by position.

AGI logs (`agi-*.log`, `sip/agi-sip-*.log`): one FastAGI session each. ``<secs> <<< ``
opens the `agi_*` environment block Asterisk sent (up to the blank line); then each
``<secs> >>> CMD`` line is a command from the AGI server, followed by the ``<<<`` lines
Asterisk sent back: one status line, or a multi-line ``520-`` usage block, possibly
preceded by an unsolicited ``HANGUP``. ``--- script done, closing`` / ``<<< EOF`` end the
session (the sip logs have neither: the recorder just stopped writing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Fields = tuple[tuple[str, str], ...]
FrameKind = Literal["banner", "response", "event", "eof"]

PROLOGUE = "(prologue)"
BANNER_PREFIX = "Asterisk Call Manager/"

_STAMPED = re.compile(r"^ *(?P<time>\d+\.\d{3}) (?P<dir>>>>|<<<|---) (?P<rest>.*)$")
_SCENARIO = re.compile(r"^##### (?P<title>.*)$")


class TranscriptError(ValueError):
    """A line the reader cannot place. Carries the file and 1-based line number."""

    def __init__(self, path: Path | str, line_no: int, message: str) -> None:
        super().__init__(f"{path}:{line_no}: {message}")
        self.path = str(path)
        self.line_no = line_no


def _split_field(path: Path | str, line_no: int, line: str) -> tuple[str, str]:
    # Asterisk always writes "Key: value", with the space even when the value is empty
    # ("PausedReason: "), so the split is exact and round-trips.
    key, sep, value = line.partition(": ")
    if not sep or not key:
        raise TranscriptError(path, line_no, f"not a 'Key: value' line: {line!r}")
    return key, value


def _get(fields: Fields, name: str) -> str | None:
    lname = name.lower()
    for key, value in fields:
        if key.lower() == lname:
            return value
    return None


def _fmt_time(time: float) -> str:
    return f"{time:8.3f}"  # the recorders' stamp() "%8.3f"


# --------------------------------------------------------------------------- AMI


@dataclass(frozen=True, slots=True)
class ClientAction:
    """A message the recording client sent to Asterisk."""

    time: float
    headers: Fields
    line_no: int
    #: whether the recorder logged a blank line after the block (record3.py does not)
    blank_line_after: bool = True

    @property
    def action(self) -> str:
        return _get(self.headers, "Action") or ""

    @property
    def action_id(self) -> str | None:
        return _get(self.headers, "ActionID")

    def get(self, name: str) -> str | None:
        return _get(self.headers, name)

    def to_bytes(self) -> bytes:
        """The message as it went over the wire (the recorders always sent CRLF)."""
        return ("".join(f"{k}: {v}\r\n" for k, v in self.headers) + "\r\n").encode()


@dataclass(frozen=True, slots=True)
class ServerFrame:
    """One unit of Asterisk output: the banner, a response, an event, or the close.

    For `banner`, `fields` is empty and `text` is the banner line; for `eof`, `time` is
    when the recorder saw the close. Responses and events carry their lines in order.
    """

    kind: FrameKind
    fields: Fields
    line_no: int
    text: str = ""
    time: float | None = None

    @property
    def name(self) -> str:
        """Event name, Response status (Success/Error/Goodbye), banner text, or 'EOF'."""
        if self.kind == "event":
            return _get(self.fields, "Event") or ""
        if self.kind == "response":
            return _get(self.fields, "Response") or ""
        if self.kind == "banner":
            return self.text
        return "EOF"

    @property
    def action_id(self) -> str | None:
        return _get(self.fields, "ActionID")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.fields)

    def get(self, name: str) -> str | None:
        return _get(self.fields, name)

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.fields if k.lower() == lname]

    def to_bytes(self) -> bytes:
        """Exactly what Asterisk put on the wire for this frame."""
        if self.kind == "banner":
            return (self.text + "\r\n").encode()
        if self.kind == "eof":
            return b""
        return ("".join(f"{k}: {v}\r\n" for k, v in self.fields) + "\r\n").encode()


Step = ClientAction | ServerFrame


@dataclass(slots=True)
class Scenario:
    """Everything between two `#####` markers, in file order."""

    title: str
    line_no: int
    #: 0-based index of the TCP connection this scenario starts on (ami.log has two)
    connection: int
    #: the marker line's text after "##### " ("" for the prologue)
    marker: str = ""
    steps: list[Step] = field(default_factory=list)

    @property
    def actions(self) -> list[ClientAction]:
        return [s for s in self.steps if isinstance(s, ClientAction)]

    @property
    def frames(self) -> list[ServerFrame]:
        return [s for s in self.steps if isinstance(s, ServerFrame)]

    def events(self, name: str | None = None) -> list[ServerFrame]:
        return [f for f in self.frames if f.kind == "event" and (name is None or f.name == name)]

    def replies_to(self, action: ClientAction) -> list[ServerFrame]:
        """The response and list items/Complete event carrying the action's ActionID.

        Broadcast events never carry an ActionID except OriginateResponse, which is
        included: it is the asynchronous answer to an Originate.
        """
        action_id = action.action_id
        if action_id is None:
            return []
        return [f for f in self.frames if f.kind != "banner" and f.action_id == action_id]

    def response_to(self, action: ClientAction) -> ServerFrame | None:
        for frame in self.replies_to(action):
            if frame.kind == "response":
                return frame
        return None


def parse_ami_log(text: str, path: Path | str = "<string>") -> list[Scenario]:
    """Parse the text of an AMI transcript. See the module docstring for the format."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline
    scenarios: list[Scenario] = []
    connection = 0
    current = Scenario(PROLOGUE, 1, connection)
    i = 0
    n = len(lines)

    def is_server_start(line: str) -> bool:
        return (
            line.startswith(BANNER_PREFIX)
            or line.startswith("Response: ")
            or line.startswith("Event: ")
        )

    while i < n:
        line = lines[i]
        line_no = i + 1
        if line == "":
            raise TranscriptError(path, line_no, "unexpected blank line")
        scenario = _SCENARIO.match(line)
        if scenario is not None:
            if current.steps or current.title != PROLOGUE:
                scenarios.append(current)
            title = scenario["title"].removeprefix("scenario: ")
            current = Scenario(title, line_no, connection, scenario["title"])
            i += 1
            continue
        stamped = _STAMPED.match(line)
        if stamped is not None:
            time = float(stamped["time"])
            if stamped["dir"] == "<<<" and stamped["rest"] == "EOF":
                current.steps.append(ServerFrame("eof", (), line_no, time=time))
                connection += 1
                i += 1
                continue
            if stamped["dir"] != ">>>":
                raise TranscriptError(path, line_no, f"unexpected stamped line {line!r}")
            headers = [_split_field(path, line_no, stamped["rest"])]
            i += 1
            while i < n and lines[i] != "" and not is_server_start(lines[i]):
                if _SCENARIO.match(lines[i]) or _STAMPED.match(lines[i]):
                    break
                headers.append(_split_field(path, i + 1, lines[i]))
                i += 1
            blank = i < n and lines[i] == ""
            if blank:
                i += 1
            current.steps.append(ClientAction(time, tuple(headers), line_no, blank))
            continue
        if line.startswith(BANNER_PREFIX):
            current.steps.append(ServerFrame("banner", (), line_no, text=line))
            i += 1
            continue
        fields: list[tuple[str, str]] = []
        start = i
        while i < n and lines[i] != "":
            if _SCENARIO.match(lines[i]) or _STAMPED.match(lines[i]):
                raise TranscriptError(path, i + 1, "message interrupted before its blank line")
            fields.append(_split_field(path, i + 1, lines[i]))
            i += 1
        if i >= n:
            raise TranscriptError(path, start + 1, "message not ended by a blank line")
        i += 1  # the blank line ending the message
        first = fields[0][0]
        if first == "Response":
            kind: FrameKind = "response"
        elif first == "Event":
            kind = "event"
        else:
            raise TranscriptError(path, start + 1, f"message starts with {first!r}")
        current.steps.append(ServerFrame(kind, tuple(fields), start + 1))
    scenarios.append(current)
    return scenarios


def load_ami_log(path: Path | str) -> list[Scenario]:
    path = Path(path)
    return parse_ami_log(path.read_text(encoding="utf-8"), path)


def render_ami_log(scenarios: list[Scenario]) -> str:
    """Inverse of `parse_ami_log`: reproduces the original file text exactly."""
    out: list[str] = []
    for scenario in scenarios:
        if scenario.title != PROLOGUE:
            out.append(f"##### {scenario.marker}\n")
        for step in scenario.steps:
            if isinstance(step, ClientAction):
                (k0, v0), *rest = step.headers
                out.append(f"{_fmt_time(step.time)} >>> {k0}: {v0}\n")
                out.extend(f"{k}: {v}\n" for k, v in rest)
                if step.blank_line_after:
                    out.append("\n")
            elif step.kind == "eof":
                assert step.time is not None
                out.append(f"{_fmt_time(step.time)} <<< EOF\n")
            elif step.kind == "banner":
                out.append(step.text + "\n")
            else:
                out.extend(f"{k}: {v}\n" for k, v in step.fields)
                out.append("\n")
    return "".join(out)


def iter_frames(scenarios: list[Scenario]) -> Iterator[tuple[Scenario, ServerFrame]]:
    for scenario in scenarios:
        for frame in scenario.frames:
            yield scenario, frame


def find_scenario(scenarios: list[Scenario], needle: str) -> Scenario:
    """The one scenario whose title contains `needle` (case-insensitive)."""
    hits = [s for s in scenarios if needle.lower() in s.title.lower()]
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} scenarios match {needle!r}")
    return hits[0]


# --------------------------------------------------------------------------- AGI


@dataclass(frozen=True, slots=True)
class AgiLine:
    """One line Asterisk sent, without its trailing newline."""

    time: float
    text: str


@dataclass(frozen=True, slots=True)
class AgiExchange:
    """A command from the AGI server and every line Asterisk sent back before the next.

    `replies` holds the lines in order: possibly an unsolicited ``HANGUP``, then the
    status line, or a ``520-`` block ending with ``520 End of proper usage.``.
    """

    time: float
    command: str
    replies: tuple[AgiLine, ...]

    @property
    def hangup(self) -> bool:
        """Whether Asterisk interleaved the unsolicited `HANGUP` line."""
        return any(r.text == "HANGUP" for r in self.replies)

    @property
    def status(self) -> AgiLine | None:
        """The line that ends the reply (first `NNN ` line), or None if the log stops."""
        for r in self.replies:
            if len(r.text) >= 4 and r.text[:3].isdigit() and r.text[3] == " ":
                return r
        return None

    @property
    def code(self) -> int | None:
        status = self.status
        return int(status.text[:3]) if status is not None else None

    def reply_bytes(self) -> bytes:
        """What Asterisk wrote on the socket in answer, byte for byte (`\\n` endings)."""
        return "".join(r.text + "\n" for r in self.replies).encode()


AgiEnd = Literal["closed", "eof", "none"]


@dataclass(frozen=True, slots=True)
class AgiSession:
    """A FastAGI session seen from the AGI server. `end`: who ended it, as logged:
    ``closed`` = the server ("--- script done, closing"), ``eof`` = Asterisk closed the
    socket, ``none`` = the log just stops (sip logs)."""

    time: float
    env: Fields
    exchanges: tuple[AgiExchange, ...]
    end: AgiEnd
    end_time: float | None = None

    def env_value(self, name: str) -> str | None:
        for k, v in self.env:
            if k == name:
                return v
        return None

    def env_bytes(self) -> bytes:
        """The environment block exactly as Asterisk sent it: `\\n` endings, blank line."""
        return ("".join(f"{k}: {v}\n" for k, v in self.env) + "\n").encode()


def parse_agi_log(text: str, path: Path | str = "<string>") -> AgiSession:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise TranscriptError(path, 1, "empty AGI log")
    first = _STAMPED.match(lines[0])
    if first is None or first["dir"] != "<<<":
        raise TranscriptError(path, 1, "AGI log must start with the '<<<' environment")
    start_time = float(first["time"])
    env: list[tuple[str, str]] = [_split_field(path, 1, first["rest"])]
    i = 1
    while i < len(lines) and lines[i] != "":
        env.append(_split_field(path, i + 1, lines[i]))
        i += 1
    if i >= len(lines):
        raise TranscriptError(path, i, "environment block not ended by a blank line")
    for key, _ in env:
        if not key.startswith("agi_"):
            raise TranscriptError(path, 1, f"environment key {key!r} lacks the agi_ prefix")
    i += 1
    exchanges: list[AgiExchange] = []
    command: tuple[float, str] | None = None
    replies: list[AgiLine] = []
    end: AgiEnd = "none"
    end_time: float | None = None

    def flush() -> None:
        if command is not None:
            exchanges.append(AgiExchange(command[0], command[1], tuple(replies)))

    while i < len(lines):
        m = _STAMPED.match(lines[i])
        if m is None:
            raise TranscriptError(path, i + 1, f"unstamped line {lines[i]!r}")
        if end != "none":
            raise TranscriptError(path, i + 1, "line after the end of the session")
        time, direction, rest = float(m["time"]), m["dir"], m["rest"]
        if direction == ">>>":
            flush()
            command, replies = (time, rest), []
        elif direction == "---":
            if rest != "script done, closing":
                raise TranscriptError(path, i + 1, f"unknown note {rest!r}")
            end, end_time = "closed", time
        elif rest == "EOF":
            end, end_time = "eof", time
        else:
            if command is None:
                raise TranscriptError(path, i + 1, "reply before any command")
            replies.append(AgiLine(time, rest))
        i += 1
    flush()
    return AgiSession(start_time, tuple(env), tuple(exchanges), end, end_time)


def load_agi_log(path: Path | str) -> AgiSession:
    path = Path(path)
    return parse_agi_log(path.read_text(encoding="utf-8"), path)


def render_agi_log(session: AgiSession) -> str:
    """Inverse of `parse_agi_log`: reproduces the original file text exactly."""
    (k0, v0), *rest = session.env
    out = [f"{_fmt_time(session.time)} <<< {k0}: {v0}\n"]
    out.extend(f"{k}: {v}\n" for k, v in rest)
    out.append("\n")
    for exchange in session.exchanges:
        out.append(f"{_fmt_time(exchange.time)} >>> {exchange.command}\n")
        out.extend(f"{_fmt_time(r.time)} <<< {r.text}\n" for r in exchange.replies)
    if session.end == "closed":
        assert session.end_time is not None
        out.append(f"{_fmt_time(session.end_time)} --- script done, closing\n")
    elif session.end == "eof":
        assert session.end_time is not None
        out.append(f"{_fmt_time(session.end_time)} <<< EOF\n")
    return "".join(out)


# --------------------------------------------------------------------------- files


def ami_log_paths(transcripts_dir: Path) -> list[Path]:
    """Every AMI transcript: ami.log, ami-2.log and sip/ami-sip.log."""
    return sorted(transcripts_dir.glob("ami*.log")) + sorted(
        (transcripts_dir / "sip").glob("ami*.log")
    )


def agi_log_paths(transcripts_dir: Path) -> list[Path]:
    """Every FastAGI transcript: agi-*.log and sip/agi-sip-*.log."""
    return sorted(transcripts_dir.glob("agi-*.log")) + sorted(
        (transcripts_dir / "sip").glob("agi-*.log")
    )
