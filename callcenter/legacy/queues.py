"""The queue catalog, in one place.

The directory names queues by their short name (`housing`); Asterisk knows them as
`hotline-housing`, because `[general]` is reserved in queues.conf. The catalog is a
constant here rather than parsed from asterisk-conf/ at run time: the service must
validate a CSV on a machine without the Asterisk templates, and a test checks that
asterisk-conf/queues.conf defines exactly these queues, so the two cannot drift.
"""

from __future__ import annotations

QUEUES: tuple[str, ...] = (
    "general",
    "enterprise",
    "social-security",
    "housing",
    "market",
    "environment",
    "transport",
    "urban",
    "health",
    "utilities",
)
ASTERISK_PREFIX = "hotline-"
KNOWN = frozenset(QUEUES)


def asterisk_queue(name: str) -> str:
    """The Asterisk queue that serves directory queue `name`."""
    return ASTERISK_PREFIX + name
