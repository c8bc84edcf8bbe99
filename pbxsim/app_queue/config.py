"""queues.conf, read the way app_queue reads it.

Asterisk's config loader allows template sections (`[tpl](!)`), sections that inherit
from one or more templates (`[q](tpl1,tpl2)`), `=` and `=>` assignments, `;` comments and
repeated keys (`member =>`). app_queue then applies each option with its own defaults and
parsing rules (`queue_set_param`), so a queue that omits `retry` still has one. Options
that only change audio (announcements, music class) are kept so `QueueParams`-style output
and the `Queue()` glue can report them, even though no sound is produced.

Errors raise `QueueConfigError` naming the file and line, because a typo in a queue file
that silently falls back to a default is exactly the kind of drift this simulator exists
to catch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

STRATEGIES = (
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "linear",
    "wrandom",
    "rrordered",
)
#: `joinempty` / `leavewhenempty` tokens (app_queue.c parse_empty_options)
EMPTY_TOKENS = (
    "penalty",
    "paused",
    "inuse",
    "ringing",
    "unavailable",
    "invalid",
    "unknown",
    "wrapup",
)

DEFAULT_TIMEOUT = 15
DEFAULT_RETRY = 5
#: `autopause` modes (app_queue.c autopausesmodes): off, the queue that rang, every queue
AUTOPAUSE_MODES = ("no", "yes", "all")
#: MAX_PERIODIC_ANNOUNCEMENTS: sounds one `periodic-announce` line may list
MAX_PERIODIC_ANNOUNCEMENTS = 10


class QueueConfigError(ValueError):
    """A queues.conf problem, located as `file:line: message`."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line


@dataclass(frozen=True)
class MemberConfig:
    """One `member => interface[,penalty][,membername][,state_interface][,ringinuse]
    [,wrapuptime][,paused]` line: a static member."""

    interface: str
    penalty: int = 0
    membername: str = ""
    state_interface: str = ""
    ringinuse: bool | None = None  # None: the queue's ringinuse
    wrapuptime: int = 0
    paused: bool = False


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: str = "ringall"
    timeout: int = DEFAULT_TIMEOUT
    retry: int = DEFAULT_RETRY
    wrapuptime: int = 0
    maxlen: int = 0
    servicelevel: int = 0
    weight: int = 0
    ringinuse: bool = True
    autofill: bool = True
    joinempty: frozenset[str] = frozenset()
    leavewhenempty: frozenset[str] = frozenset()
    musicclass: str = "default"
    announce: str = ""
    announce_frequency: int = 0
    periodic_announce_frequency: int = 0
    #: `periodic-announce`: the sounds played in turn (app_queue's default sound when
    #: the key is absent; played only with a frequency)
    periodic_announce: tuple[str, ...] = ("queue-periodic-announce",)
    #: seconds after joining of the first periodic announcement; -1: one frequency
    periodic_announce_startdelay: int = -1
    relative_periodic_announce: bool = False
    #: the dialplan context whose one-digit (or longer) extensions a waiting caller may
    #: leave the queue to by pressing them (EXITWITHKEY); empty: keys do nothing
    context: str = ""
    announce_position: str = "yes"
    announce_holdtime: str = "no"
    timeoutpriority: str = "app"
    #: pause a member that lets a call ring out: "no", "yes" (in this queue) or "all"
    autopause: str = "no"
    #: no auto-pause within this many seconds of the member's last call (0: always)
    autopausedelay: int = 0
    #: a BUSY / CONGESTION ring failure counts as not answering too
    autopausebusy: bool = False
    autopauseunavail: bool = False
    setinterfacevar: bool = False
    setqueuevar: bool = False
    setqueueentryvar: bool = False
    members: tuple[MemberConfig, ...] = ()


@dataclass(frozen=True)
class GeneralConfig:
    persistentmembers: bool = True
    autofill: bool = True
    shared_lastcall: bool = True
    log_membername_as_agent: bool = False


@dataclass(frozen=True)
class QueuesConf:
    general: GeneralConfig = field(default_factory=GeneralConfig)
    queues: tuple[QueueConfig, ...] = ()

    def queue(self, name: str) -> QueueConfig | None:
        for q in self.queues:
            if q.name.lower() == name.lower():
                return q
        return None


def ast_true(value: str) -> bool:
    """main/utils.c ast_true: yes/true/y/t/1/on."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def ast_false(value: str) -> bool:
    """main/utils.c ast_false: no/false/n/f/0/off."""
    return value.strip().lower() in ("no", "false", "n", "f", "0", "off")


@dataclass
class _Section:
    name: str
    line: int
    is_template: bool
    parents: list[str]
    items: list[tuple[str, str, int]]


def _split_sections(text: str, source: str) -> list[_Section]:
    sections: list[_Section] = []
    current: _Section | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            close = line.find("]")
            if close < 0:
                raise QueueConfigError(source, lineno, f"missing ']' in section header {line!r}")
            name = line[1:close].strip()
            if not name:
                raise QueueConfigError(source, lineno, "empty section name")
            rest = line[close + 1 :].strip()
            is_template, parents = False, []
            if rest:
                if not (rest.startswith("(") and rest.endswith(")")):
                    raise QueueConfigError(source, lineno, f"bad text after section: {rest!r}")
                for token in (t.strip() for t in rest[1:-1].split(",")):
                    if token == "!":
                        is_template = True
                    elif token:
                        parents.append(token)
            current = _Section(name, lineno, is_template, parents, [])
            sections.append(current)
            continue
        if line.startswith("#"):
            raise QueueConfigError(source, lineno, f"directives are not supported: {line!r}")
        if "=" not in line:
            raise QueueConfigError(source, lineno, f"expected 'key = value', got {line!r}")
        if current is None:
            raise QueueConfigError(source, lineno, "option outside of any section")
        key, value = line.split("=", 1)
        value = value[1:] if value.startswith(">") else value
        current.items.append((key.strip().lower(), value.strip(), lineno))
    return sections


def _int(value: str, source: str, line: int, key: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueueConfigError(source, line, f"{key}: {value!r} is not an integer") from None
    if number < minimum:
        raise QueueConfigError(source, line, f"{key}: {number} is below {minimum}")
    return number


def _empty_options(value: str, source: str, line: int, key: str) -> frozenset[str]:
    """joinempty/leavewhenempty (app_queue.c parse_empty_options), token by token.

    A boolean means opposite things for the two keys: `joinempty = no` and
    `leavewhenempty = yes` both mean "penalty,invalid,paused".
    """
    joinempty = key == "joinempty"
    conditions: set[str] = set()
    for token in (t.strip().lower() for t in value.split(",")):
        if token in EMPTY_TOKENS:
            conditions.add(token)
        elif token == "loose":
            conditions = {"penalty", "invalid"}
        elif token == "strict":
            conditions = {"penalty", "invalid", "paused", "unavailable"}
        elif ast_false(token) == joinempty and (ast_false(token) or ast_true(token)):
            conditions = {"penalty", "invalid", "paused"}
        elif ast_false(token) or ast_true(token):
            conditions = set()
        else:
            raise QueueConfigError(source, line, f"{key}: unknown condition {token!r}")
    return frozenset(conditions)


def _autopause(value: str, source: str, line: int) -> str:
    """app_queue.c autopause2int: a true value is "yes", then "no"/"yes"/"all" by name.

    Asterisk turns anything else into "no" with a warning; a typo that silently stops
    pausing seats that do not answer is stopped here instead."""
    if ast_true(value):
        return "yes"
    mode = value.strip().lower()
    if not mode or ast_false(mode):
        return "no"
    if mode not in AUTOPAUSE_MODES:
        raise QueueConfigError(source, line, f"autopause: {value!r} is not no|yes|all")
    return mode


def _member(value: str, source: str, line: int) -> MemberConfig:
    parts = [p.strip() for p in value.split(",")]
    if not parts[0]:
        raise QueueConfigError(source, line, "member: missing interface")

    def part(i: int) -> str:
        return parts[i] if len(parts) > i else ""

    penalty = _int(part(1), source, line, "member penalty") if part(1) else 0
    wrapup = _int(part(5), source, line, "member wrapuptime") if part(5) else 0
    return MemberConfig(
        interface=parts[0],
        penalty=penalty,
        membername=part(2),
        state_interface=part(3),
        ringinuse=ast_true(part(4)) if part(4) else None,
        wrapuptime=wrapup,
        paused=ast_true(part(6)) if part(6) else False,
    )


def _with(queue: QueueConfig, key: str, value: object) -> QueueConfig:
    changes: dict[str, Any] = {key: value}
    return replace(queue, **changes)


def _apply(queue: QueueConfig, key: str, value: str, source: str, line: int) -> QueueConfig:
    if key == "member":
        return replace(queue, members=(*queue.members, _member(value, source, line)))
    if key == "strategy":
        strategy = value.lower()
        if strategy not in STRATEGIES:
            # Asterisk only warns and falls back to ringall; a typo that silently
            # changes the ring order is worth stopping for here
            raise QueueConfigError(source, line, f"strategy: unknown strategy {value!r}")
        return replace(queue, strategy=strategy)
    if key == "timeout":
        return replace(queue, timeout=_int(value, source, line, key))
    if key == "retry":
        retry = _int(value, source, line, key, minimum=-(2**31))
        return replace(queue, retry=retry if retry > 0 else DEFAULT_RETRY)
    if key in ("wrapuptime", "maxlen", "servicelevel", "weight"):
        return _with(queue, key, _int(value, source, line, key))
    if key in ("announce-frequency", "periodic-announce-frequency"):
        return _with(queue, key.replace("-", "_"), _int(value, source, line, key))
    if key == "periodic-announce":
        # queue_set_param: split on ',' or '|', at most MAX_PERIODIC_ANNOUNCEMENTS
        sounds = value.replace("|", ",").split(",") if "," in value else [value]
        return replace(queue, periodic_announce=tuple(sounds[:MAX_PERIODIC_ANNOUNCEMENTS]))
    if key == "periodic-announce-startdelay":
        delay = _int(value, source, line, key, minimum=-(2**31))
        return replace(queue, periodic_announce_startdelay=delay)
    if key == "relative-periodic-announce":
        return replace(queue, relative_periodic_announce=ast_true(value))
    if key == "context":
        return replace(queue, context=value)
    if key in (
        "ringinuse",
        "autofill",
        "setinterfacevar",
        "setqueuevar",
        "setqueueentryvar",
        "autopausebusy",
        "autopauseunavail",
    ):
        return _with(queue, key, ast_true(value))
    if key == "autopause":
        return replace(queue, autopause=_autopause(value, source, line))
    if key == "autopausedelay":
        return replace(queue, autopausedelay=_int(value, source, line, key))
    if key in ("joinempty", "leavewhenempty"):
        return _with(queue, key, _empty_options(value, source, line, key))
    if key in ("musicclass", "musiconhold", "music"):
        return replace(queue, musicclass=value)
    if key == "announce":
        return replace(queue, announce=value)
    if key == "announce-position":
        return replace(queue, announce_position=value)
    if key == "announce-holdtime":
        return replace(queue, announce_holdtime=value)
    if key == "timeoutpriority":
        if value.lower() not in ("app", "conf"):
            raise QueueConfigError(source, line, f"timeoutpriority: {value!r} is not app|conf")
        return replace(queue, timeoutpriority=value.lower())
    # Other documented options (monitor-format, queue-* sound files, reportholdtime,
    # memberdelay, timeoutrestart, ...) change nothing this model observes.
    return queue


def parse_queues_conf(text: str, source: str = "queues.conf") -> QueuesConf:
    sections = _split_sections(text, source)
    general = GeneralConfig()
    by_name: dict[str, _Section] = {}
    for section in sections:
        if section.name.lower() == "general":
            for key, value, _line in section.items:
                if key in ("persistentmembers", "autofill", "shared_lastcall"):
                    general = replace(general, **{key: ast_true(value)})
                elif key == "log_membername_as_agent":
                    general = replace(general, log_membername_as_agent=ast_true(value))
            continue
        if section.name in by_name:
            # A repeated section name appends to the first one (Asterisk merges them).
            by_name[section.name].items.extend(section.items)
            continue
        by_name[section.name] = section

    def items_of(section: _Section, seen: tuple[str, ...]) -> list[tuple[str, str, int]]:
        items: list[tuple[str, str, int]] = []
        for parent in section.parents:
            template = by_name.get(parent)
            if template is None:
                raise QueueConfigError(
                    source, section.line, f"[{section.name}] inherits unknown template {parent!r}"
                )
            if parent in seen:
                raise QueueConfigError(source, section.line, f"template loop through {parent!r}")
            items.extend(items_of(template, (*seen, parent)))
        items.extend(section.items)
        return items

    queues: list[QueueConfig] = []
    for section in by_name.values():
        if section.is_template:
            continue
        queue = QueueConfig(name=section.name, autofill=general.autofill)
        for key, value, line in items_of(section, (section.name,)):
            queue = _apply(queue, key, value, source, line)
        queues.append(queue)
    return QueuesConf(general=general, queues=tuple(queues))


def load_queues_conf(path: str | Path) -> QueuesConf:
    p = Path(path)
    return parse_queues_conf(p.read_text(encoding="utf-8"), source=str(p))
