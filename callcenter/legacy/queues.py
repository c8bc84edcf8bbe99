"""The queue catalog, in one place, and the one translation between its two names.

The directory names queues by their short name (`housing`); Asterisk knows them as
`hotline-housing`, because `[general]` is reserved in queues.conf. The database keeps
what Asterisk logged (`hotline-housing`); everything the service shows or is asked for
uses the directory's name, with a display name per language for screens, and the
Asterisk name only as a field for operators. `shown` and `asterisk_name` are the only
places that go from one name to the other.

The catalog is a constant here rather than parsed from asterisk-conf/ at run time: the
service must validate a CSV on a machine without the Asterisk templates, and a test
checks that asterisk-conf/queues.conf defines exactly these queues, so the two cannot
drift.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Display:
    """A queue's name on screens, by language."""

    zh: str
    en: str


#: directory name -> display names, in the directory's order
DISPLAY: dict[str, Display] = {
    "general": Display("综合", "General"),
    "enterprise": Display("企业服务", "Enterprise services"),
    "social-security": Display("社会保障", "Social security"),
    "housing": Display("住房", "Housing"),
    "market": Display("市场监管", "Market regulation"),
    "environment": Display("生态环境", "Environment"),
    "transport": Display("交通运输", "Transport"),
    "urban": Display("城市管理", "Urban management"),
    "health": Display("卫生健康", "Health"),
    "utilities": Display("水电气", "Utilities"),
}
QUEUES: tuple[str, ...] = tuple(DISPLAY)
ASTERISK_PREFIX = "hotline-"
KNOWN = frozenset(QUEUES)


class UnknownQueue(ValueError):
    """A queue name that is neither a directory name nor its Asterisk name; the message
    lists the known directory names."""


@dataclass(frozen=True)
class QueueName:
    """A queue as the service shows it: the directory's `name`, its `display` names for
    screens, and Asterisk's name for operators."""

    name: str
    display: Display
    asterisk: str


def asterisk_queue(name: str) -> str:
    """The Asterisk queue that serves directory queue `name`."""
    return ASTERISK_PREFIX + name


_BY_ASTERISK: dict[str, QueueName] = {
    asterisk_queue(name): QueueName(name, display, asterisk_queue(name))
    for name, display in DISPLAY.items()
}


def shown(asterisk: str) -> QueueName:
    """How to show the Asterisk queue `asterisk`. A queue Asterisk has that the catalog
    does not (added on the PBX by hand) keeps its own name, in every language."""
    known = _BY_ASTERISK.get(asterisk)
    if known is not None:
        return known
    return QueueName(asterisk, Display(asterisk, asterisk), asterisk)


def directory_name(asterisk: str) -> str:
    """The name to show for the Asterisk queue `asterisk` ('' stays '': no queue)."""
    return shown(asterisk).name if asterisk else ""


def asterisk_name(name: str) -> str:
    """The Asterisk queue someone asked for by its directory name (or, for operators'
    convenience, by its Asterisk name). Raises UnknownQueue for any other name."""
    if name in KNOWN:
        return asterisk_queue(name)
    if name in _BY_ASTERISK:
        return name
    raise UnknownQueue(f"unknown queue {name[:64]!r}; known: {', '.join(QUEUES)}")
