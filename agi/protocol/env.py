"""The `agi_*` environment block Asterisk sends first on every FastAGI connection.

Parsing is strict about shape (every line `agi_name: value`, the block ends with an
empty line, required keys present) because a block that does not look like Asterisk's
is either a port scanner, a truncated connection or a bug on the PBX side; acting on a
half-read environment could route a caller by the wrong number. The server logs the
`EnvError` and closes the socket; the dialplan then falls back (AGISTATUS / HOTLINE_ROUTED).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: res_agi sends ~22 fixed lines plus at most 127 arguments; more is not Asterisk
MAX_ENV_LINES = 160
#: one environment line; Asterisk's own AGI buffer is 8 KiB
MAX_LINE_BYTES = 8192
REQUIRED = ("agi_request", "agi_channel", "agi_uniqueid")
_KEY = re.compile(r"agi_[a-z0-9_]{1,40}")
_PAIR = re.compile(r"^(agi_[a-z0-9_]{1,40}): ?([^\r\n]*)\r?$", re.MULTILINE)
_UNKNOWN = "unknown"


class EnvError(ValueError):
    """The environment block is not one Asterisk would send; the message says where."""


@dataclass(slots=True)
class AgiEnv:
    """The validated environment. `script` is the route: the path, query stripped."""

    script: str
    request: str
    channel: str
    uniqueid: str
    language: str = "en"
    context: str = ""
    extension: str = ""
    priority: str = ""
    callerid: str | None = None
    calleridname: str | None = None
    dnid: str | None = None
    rdnis: str | None = None
    version: str = ""
    args: tuple[str, ...] = ()
    raw: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dialed_number(self) -> str:
        """The number the caller dialed: our dialplan's `${DID}` argument, else
        `agi_extension`, else `agi_dnid` (ARCHITECTURE.md), digits only; "" if none."""
        for candidate in (self.args[0] if self.args else "", self.extension, self.dnid or ""):
            if candidate.isdigit() and candidate.isascii():
                return candidate
        return ""

    def arg(self, n: int, default: str = "") -> str:
        """`agi_arg_n` (1-based), the way `AGI(url,a,b)` passes data."""
        return self.args[n - 1] if 0 < n <= len(self.args) else default


def script_of(request_or_script: str) -> str:
    """Route name: the script path without query string and surrounding slashes.

    `agi_network_script` is everything after the first `/` of the URL, query included
    (`incoming?x=1`); panoramisk matched that verbatim, so any query broke routing.
    """
    path = request_or_script.split("?", 1)[0].split("#", 1)[0]
    return path.strip("/")


def _script_from_request(request: str) -> str:
    _, sep, rest = request.partition("://")
    if not sep:
        return ""
    _, slash, script = rest.partition("/")
    return script if slash else ""


def _values_checked(lines: list[str]) -> dict[str, str]:
    """Line by line, naming the first bad line: the slow path, for rejects (and the
    rare peer that omits the space after the colon)."""
    values: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        key, sep, value = line.partition(":")
        if not sep or not _KEY.fullmatch(key):
            raise EnvError(f"environment line {number}: not 'agi_name: value': {line[:60]!r}")
        if value.startswith(" "):
            value = value[1:]
        if key in values:
            raise EnvError(f"environment line {number}: {key} repeated")
        values[key] = value
    return values


def parse_env(lines: list[str]) -> AgiEnv:
    """Validate the lines of one environment block (without the terminating blank line)."""
    if not lines:
        raise EnvError("empty environment")
    if len(lines) > MAX_ENV_LINES:
        raise EnvError(f"environment has {len(lines)} lines (max {MAX_ENV_LINES})")
    values = _values_checked(lines)
    return _build(values, sum(1 for key in values if key.startswith("agi_arg_")))


def parse_env_text(text: str) -> AgiEnv:
    """The same from the block's text: one regex pass extracts and checks every line
    (this runs for every call); anything unusual takes the line-by-line path."""
    count = text.count("\n") + 1
    if count <= MAX_ENV_LINES:
        pairs = _PAIR.findall(text)
        if len(pairs) == count:
            values = dict(pairs)
            if len(values) == count:
                return _build(values, ("\n" + text).count("\nagi_arg_"))
    return parse_env(text.split("\n"))


def _known(value: str | None) -> str | None:
    """Asterisk writes "unknown" for an unset caller ID, DNID or RDNIS."""
    return None if value is None or value == "" or value == _UNKNOWN else value


def _build(values: dict[str, str], arg_keys: int) -> AgiEnv:
    """`arg_keys`: how many keys start with `agi_arg_`; they must be agi_arg_1..N."""
    args: list[str] = []
    while len(args) < arg_keys:
        value = values.get(f"agi_arg_{len(args) + 1}")
        if value is None:
            found = sorted(k for k in values if k.startswith("agi_arg_"))
            raise EnvError(f"environment arguments are not agi_arg_1..N: {found}")
        args.append(value)
    for key in REQUIRED:
        if not values.get(key):
            missing = [k for k in REQUIRED if not values.get(k)]
            raise EnvError(f"environment lacks {', '.join(missing)}")
    script = values.get("agi_network_script")
    if script is None:
        script = _script_from_request(values["agi_request"])

    return AgiEnv(
        script=script_of(script),
        request=values["agi_request"],
        channel=values["agi_channel"],
        uniqueid=values["agi_uniqueid"],
        language=values.get("agi_language") or "en",
        context=values.get("agi_context", ""),
        extension=values.get("agi_extension", ""),
        priority=values.get("agi_priority", ""),
        callerid=_known(values.get("agi_callerid")),
        calleridname=_known(values.get("agi_calleridname")),
        dnid=_known(values.get("agi_dnid")),
        rdnis=_known(values.get("agi_rdnis")),
        version=values.get("agi_version", ""),
        args=tuple(args),
        raw=values,
    )
