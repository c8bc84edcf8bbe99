"""AGI replies: `200 result=<r>[ (data)][ endpos=<n>]`, and the error codes.

Only the single-line grammar lives here; the multi-line `520-` block, `100 Trying` and the
unsolicited `HANGUP` line are stream-level and handled by the session's reader.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_STATUS = re.compile(r"([1-5][0-9]{2})(?:[ -](.*))?")
_RESULT = re.compile(
    r"result=(?P<result>\S*)"
    r"(?: \((?P<data>.*)\))?"
    r"(?: endpos=(?P<endpos>-?[0-9]{1,19}))?"
    r"(?: (?P<msg>.*))?"
)


class ReplyError(ValueError):
    """A line that is no AGI reply: the peer is not (or no longer) speaking AGI."""


class AgiReply(NamedTuple):
    """One command's reply. `result` is kept as text: GET DATA returns digit strings
    (`*`, `#` included) and `200 result= (timeout)` has an empty one. A NamedTuple: one
    is made per command, and a frozen dataclass costs several times more to build."""

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int | None:
        """The result as a number (most commands), None when it is not one."""
        try:
            return int(self.result)
        except ValueError:
            return None


def parse_reply(line: str) -> AgiReply:
    """One reply line (no newline). Error codes keep their text in `text`."""
    if line.startswith("200 result=") and " " not in line[11:]:
        return AgiReply(200, result=line[11:])  # most replies: a bare result
    match = _STATUS.fullmatch(line)
    if match is None:
        raise ReplyError(f"not an AGI reply: {line[:80]!r}")
    code, rest = int(match.group(1)), match.group(2) or ""
    if code != 200:
        return AgiReply(code, text=rest)
    found = _RESULT.fullmatch(rest)
    if found is None:
        raise ReplyError(f"200 reply without result=: {line[:80]!r}")
    endpos = found.group("endpos")
    return AgiReply(
        200,
        result=found.group("result"),
        data=found.group("data"),
        endpos=int(endpos) if endpos is not None else None,
        text=found.group("msg") or "",
    )
