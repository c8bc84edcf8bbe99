"""The queue catalogue: which queues exist, their names, and the one translation between
the directory's name and Asterisk's.

The directory names queues by their short name (`housing`); Asterisk knows them as
`hotline-housing`, because `[general]` is reserved in queues.conf. The database keeps
what Asterisk logged (`hotline-housing`); everything the service shows or is asked for
uses the directory's name, with a display name per language for screens, and the
Asterisk name only as a field for operators. `asterisk_queue` and `directory_name`
are the one rule between the two names (a prefix); `QueueCatalog.asterisk_name` says
whether a name someone asked for exists, `QueueCatalog.shown` how to show it.

The catalogue is data: the `queue_catalog` table (callcenter/legacy/catalog_store.py),
changed with `callcenter queues add|update|remove`, then rendered into queues.conf by
`callcenter asterisk-conf render`. A `QueueCatalog` is one loaded, validated state of
that table; nothing holds a module-level copy. The service loads it at start and reloads
it (`CatalogHolder`), so a queue another instance's operator added appears without a
restart. `QueueCatalog.default()` is the city plan's ten queues (`SEED`), the same rows
migration 0015 installs; the demo and the tests use it.

A queue carries no service-level threshold: the city assesses SL15 (answered within
15 s, callcenter/records/kpi.py) on every queue, and app_queue's `servicelevel` is
rendered from that one definition, so Asterisk's own figure and ours cannot differ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ASTERISK_PREFIX = "hotline-"
#: every caller can be served here; specialist queues overflow into it
GENERAL = "general"
#: a directory name: lower-case letters, digits and '-'; with the prefix, an Asterisk
#: queue name no config parser or dialplan function quotes differently
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
#: app_queue's strategies (apps/app_queue.c `strategies[]`, without `roundrobin`, the
#: old alias of rrmemory)
STRATEGIES = (
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "rrordered",
    "linear",
    "wrandom",
)
MAX_WRAPUP_S = 600
MIN_OVERFLOW_S = 5.0
MAX_OVERFLOW_S = 3600.0
MAX_DISPLAY_LEN = 40


@dataclass(frozen=True)
class Display:
    """A queue's name on screens, by language."""

    zh: str
    en: str


class UnknownQueue(ValueError):
    """A queue name that is neither a directory name nor its Asterisk name; the message
    lists the known directory names."""


class CatalogError(ValueError):
    """A queue (or a whole catalogue) that breaks a rule; `problems` names each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class QueueName:
    """A queue as the service shows it: the directory's `name`, its `display` names for
    screens, and Asterisk's name for operators."""

    name: str
    display: Display
    asterisk: str


@dataclass(frozen=True)
class CatalogQueue:
    """One row of the catalogue: what app_queue is configured with (strategy, wrap-up),
    when its callers are also offered to general seats (`overflow_after_s`, None: never)
    and where screens list it (`position`, then name)."""

    name: str
    display: Display
    strategy: str = "leastrecent"
    wrapup_s: int = 10
    overflow_after_s: float | None = None
    position: int = 0

    @property
    def asterisk(self) -> str:
        return asterisk_queue(self.name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "asterisk": self.asterisk,
            "display": {"zh": self.display.zh, "en": self.display.en},
            "strategy": self.strategy,
            "wrapup_s": self.wrapup_s,
            "overflow_after_s": self.overflow_after_s,
            "position": self.position,
        }


#: the city plan's queues, in the directory's order: what migration 0015 installs and
#: what `QueueCatalog.default()` is (the demo, the tests). A change here changes what a
#: new database starts with, never a migrated one: there the table is the catalogue
SEED: tuple[CatalogQueue, ...] = tuple(
    CatalogQueue(name, Display(zh, en), position=10 * (i + 1))
    for i, (name, zh, en) in enumerate(
        (
            ("general", "综合", "General"),
            ("enterprise", "企业服务", "Enterprise services"),
            ("social-security", "社会保障", "Social security"),
            ("housing", "住房", "Housing"),
            ("market", "市场监管", "Market regulation"),
            ("environment", "生态环境", "Environment"),
            ("transport", "交通运输", "Transport"),
            ("urban", "城市管理", "Urban management"),
            ("health", "卫生健康", "Health"),
            ("utilities", "水电气", "Utilities"),
        )
    )
)


def asterisk_queue(name: str) -> str:
    """The Asterisk queue that serves directory queue `name`."""
    return ASTERISK_PREFIX + name


def directory_name(asterisk: str) -> str:
    """The directory's name of the Asterisk queue `asterisk`: `asterisk_queue` undone
    ('' stays '': no queue; a name without the prefix, made on the PBX by hand, stays
    as it is). A pure rule, not a catalogue lookup, so a record of a queue removed from
    the catalogue since is still named as it was when it was taken."""
    if asterisk.startswith(ASTERISK_PREFIX) and len(asterisk) > len(ASTERISK_PREFIX):
        return asterisk[len(ASTERISK_PREFIX) :]
    return asterisk


def _display_problem(language: str, text: str) -> str | None:
    if not text.strip():
        return f"display name ({language}) is empty"
    if len(text) > MAX_DISPLAY_LEN:
        return f"display name ({language}) is longer than {MAX_DISPLAY_LEN} characters"
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return (
                f"display name ({language}): control character U+{ord(char):04X} at "
                f"character {position} (one line, no controls)"
            )
    return None


def queue_problems(queue: CatalogQueue) -> list[str]:
    """Every rule `queue` breaks on its own, each naming the queue and the field."""
    where = f"queue {queue.name[:40]!r}"
    problems: list[str] = []
    if not NAME.fullmatch(queue.name):
        problems.append(
            f"{where}: the name must be 1-32 lower-case letters, digits or '-', "
            "not starting or ending with '-' (like social-security)"
        )
    for language in ("zh", "en"):
        problem = _display_problem(language, getattr(queue.display, language))
        if problem:
            problems.append(f"{where}: {problem}")
    if queue.strategy not in STRATEGIES:
        problems.append(
            f"{where}: unknown strategy {queue.strategy[:40]!r} (one of {', '.join(STRATEGIES)})"
        )
    if not 0 <= queue.wrapup_s <= MAX_WRAPUP_S:
        problems.append(f"{where}: wrap-up must be 0..{MAX_WRAPUP_S} s")
    if queue.overflow_after_s is not None:
        if queue.name == GENERAL:
            problems.append(f"{where}: the general queue cannot overflow into itself")
        elif not MIN_OVERFLOW_S <= queue.overflow_after_s <= MAX_OVERFLOW_S:
            problems.append(
                f"{where}: overflow after must be {MIN_OVERFLOW_S:g}..{MAX_OVERFLOW_S:g} s "
                "(or none)"
            )
    if not 0 <= queue.position <= 1_000_000:
        problems.append(f"{where}: position must be 0..1000000")
    return problems


@dataclass(frozen=True)
class QueueCatalog:
    """The catalogue as loaded: immutable, validated, in screen order.

    Build one with `QueueCatalog.of(rows)` (validates; raises CatalogError) or
    `QueueCatalog.default()`."""

    queues: tuple[CatalogQueue, ...]
    _by_name: Mapping[str, CatalogQueue] = field(init=False, repr=False, compare=False)
    _by_asterisk: Mapping[str, QueueName] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = [p for q in self.queues for p in queue_problems(q)]
        names = [q.name for q in self.queues]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"queue {name!r} appears more than once")
        if GENERAL not in names:
            problems.append(f"the catalogue needs the {GENERAL!r} queue (overflow goes there)")
        if problems:
            raise CatalogError(problems)
        ordered = tuple(sorted(self.queues, key=lambda q: (q.position, q.name)))
        object.__setattr__(self, "queues", ordered)
        object.__setattr__(self, "_by_name", {q.name: q for q in ordered})
        object.__setattr__(
            self,
            "_by_asterisk",
            {q.asterisk: QueueName(q.name, q.display, q.asterisk) for q in ordered},
        )

    @classmethod
    def of(cls, queues: Iterable[CatalogQueue]) -> QueueCatalog:
        return cls(tuple(queues))

    @classmethod
    def default(cls) -> QueueCatalog:
        """The city plan's ten queues (`SEED`)."""
        return cls(SEED)

    @property
    def names(self) -> tuple[str, ...]:
        """Directory names in screen order."""
        return tuple(self._by_name)

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self._by_name)

    @property
    def asterisk_names(self) -> frozenset[str]:
        return frozenset(self._by_asterisk)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.queues)

    def get(self, name: str) -> CatalogQueue | None:
        return self._by_name.get(name)

    def queue(self, name: str) -> CatalogQueue:
        """The queue with directory name `name`; UnknownQueue otherwise."""
        found = self._by_name.get(name)
        if found is None:
            raise UnknownQueue(self.unknown_message(name))
        return found

    def by_asterisk(self, asterisk: str) -> CatalogQueue | None:
        shown = self._by_asterisk.get(asterisk)
        return None if shown is None else self._by_name[shown.name]

    def unknown_message(self, name: str) -> str:
        return f"unknown queue {name[:64]!r}; known: {', '.join(self.names)}"

    def display(self, name: str) -> Display:
        return self.queue(name).display

    def shown(self, asterisk: str) -> QueueName:
        """How to show the Asterisk queue `asterisk`. A queue Asterisk has that the
        catalogue does not (added on the PBX by hand, or removed from the catalogue
        since) is shown by its `directory_name`, in every language."""
        known = self._by_asterisk.get(asterisk)
        if known is not None:
            return known
        name = directory_name(asterisk)
        return QueueName(name, Display(name, name), asterisk)

    def asterisk_name(self, name: str) -> str:
        """The Asterisk queue someone asked for by its directory name (or, for operators'
        convenience, by its Asterisk name). Raises UnknownQueue for any other name."""
        if name in self._by_name:
            return asterisk_queue(name)
        if name in self._by_asterisk:
            return name
        raise UnknownQueue(self.unknown_message(name))

    def wrapups(self) -> dict[str, int]:
        """Asterisk queue -> its `wrapuptime`: what a member without its own is held for."""
        return {q.asterisk: q.wrapup_s for q in self.queues}

    def with_queue(self, queue: CatalogQueue) -> QueueCatalog:
        """This catalogue with `queue` added, or replacing the one of its name."""
        return QueueCatalog((*(q for q in self.queues if q.name != queue.name), queue))

    def without(self, name: str) -> QueueCatalog:
        self.queue(name)
        return QueueCatalog(tuple(q for q in self.queues if q.name != name))

    def with_overflow(self, overflow_s: Mapping[str, float]) -> QueueCatalog:
        """This catalogue with these queues' `overflow_after_s` set (tests, benches)."""
        catalog = self
        for name, seconds in overflow_s.items():
            catalog = catalog.with_queue(replace(self.queue(name), overflow_after_s=seconds))
        return catalog


class CatalogHolder:
    """The catalogue in force, for the objects that outlive a reload: they read
    `current` each time instead of keeping the catalogue they were built with.
    `replace` installs a newer one and tells the listeners (e.g. the shared wrap-up
    table every seat count reads)."""

    def __init__(self, catalog: QueueCatalog) -> None:
        self._current = catalog
        self._listeners: list[Callable[[QueueCatalog], None]] = []

    @property
    def current(self) -> QueueCatalog:
        return self._current

    def __call__(self) -> QueueCatalog:
        return self._current

    def on_change(self, listener: Callable[[QueueCatalog], None]) -> None:
        self._listeners.append(listener)

    def replace(self, catalog: QueueCatalog) -> bool:
        """Install `catalog`; True if it differs from the one in force."""
        if catalog == self._current:
            return False
        self._current = catalog
        for listener in self._listeners:
            listener(catalog)
        return True
