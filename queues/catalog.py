"""The queue catalog as the seats side needs it: Asterisk name, strategy, wrap-up, ring
timeout, and the overflow rule.

The list of queues is the legacy directory's (callcenter/legacy/queues.py), so a seat's
skill, a directory route and an Asterisk queue can never name different things. The
parameters mirror asterisk-conf/queues.conf's `[hotline]` template (a test checks it),
because app_queue, not us, applies them; we need them to explain the live view.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.legacy.queues import KNOWN, QUEUES, asterisk_queue

GENERAL = "general"
#: penalty of a skill level: the expert (5) is offered calls first (penalty 0)
MAX_LEVEL = 5


@dataclass(frozen=True)
class QueueSpec:
    name: str
    asterisk: str
    strategy: str = "leastrecent"
    wrapup_s: int = 10
    #: seconds a seat rings before the next is tried; inside the 15 s service level so
    #: one unanswered ring does not by itself miss it
    ring_timeout_s: int = 10
    service_level_s: int = 15
    #: a caller waiting longer than this is also offered to general seats (None: never)
    overflow_after_s: float | None = None


def catalog(overflow_s: dict[str, float] | None = None) -> dict[str, QueueSpec]:
    overflow_s = overflow_s or {}
    unknown = set(overflow_s) - KNOWN
    if unknown:
        raise ValueError(f"overflow configured for unknown queues {sorted(unknown)}")
    if GENERAL in overflow_s:
        raise ValueError("the general queue cannot overflow into itself")
    return {
        name: QueueSpec(name, asterisk_queue(name), overflow_after_s=overflow_s.get(name))
        for name in QUEUES
    }


def queue_wrapups(queues: dict[str, QueueSpec]) -> dict[str, int]:
    """Asterisk queue -> its `wrapuptime`: what a member without its own is held for."""
    return {spec.asterisk: spec.wrapup_s for spec in queues.values()}


def penalty(level: int) -> int:
    return MAX_LEVEL - level


def parse_skills(text: str) -> dict[str, int]:
    """`general:3,housing:5` -> {"general": 3, "housing": 5}; a bare name is level 3.

    Raises ValueError naming the bad item, so the CLI can say what to fix."""
    skills: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, level_text = item.partition(":")
        name = name.strip()
        if name not in KNOWN:
            raise ValueError(f"skill {item!r}: unknown queue {name!r}; known: {', '.join(QUEUES)}")
        try:
            level = int(level_text) if level_text else 3
        except ValueError:
            raise ValueError(f"skill {item!r}: level must be a number 1..{MAX_LEVEL}") from None
        if not 1 <= level <= MAX_LEVEL:
            raise ValueError(f"skill {item!r}: level must be 1..{MAX_LEVEL}")
        skills[name] = level
    if not skills:
        raise ValueError("a seat needs at least one skill")
    return skills


def demo_skills(index: int, specialists_per_seat: int = 2) -> dict[str, int]:
    """The demo floor: everyone on general, plus specialist queues in rotation (the
    same spread pbxsim's own demo used to log in, so the demo traffic finds seats)."""
    specialists = sorted(q for q in QUEUES if q != GENERAL)
    skills = {GENERAL: 3}
    for k in range(min(specialists_per_seat, len(specialists))):
        skills[specialists[(index + k * 3) % len(specialists)]] = 4
    return skills
