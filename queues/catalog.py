"""The queue catalogue as the seats side needs it: Asterisk name, strategy, wrap-up, ring
timeout, service level and the overflow rule (`QueueSpec`), derived from the loaded
catalogue (callcenter/legacy/queues.py), so a seat's skill, a directory route and an
Asterisk queue can never name different things.

app_queue, not us, applies these parameters (asterisk-conf/templates/queue.in is
rendered from the same catalogue); we need them to explain the live view. The ring
timeout is one value for every queue; the service level is the city's SL15
(callcenter/records/kpi.py), which the catalogue does not carry per queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.legacy.catalog_store import QueueUsers, directory_users, named_users
from callcenter.legacy.queues import GENERAL, QueueCatalog
from callcenter.records.kpi import SL_SECONDS
from queues.models import Seat

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
    service_level_s: int = SL_SECONDS
    #: a caller waiting longer than this is also offered to general seats (None: never)
    overflow_after_s: float | None = None


def catalog(queues: QueueCatalog) -> dict[str, QueueSpec]:
    """Directory name -> its spec, in the catalogue's order."""
    return {
        q.name: QueueSpec(
            q.name,
            q.asterisk,
            strategy=q.strategy,
            wrapup_s=q.wrapup_s,
            overflow_after_s=q.overflow_after_s,
        )
        for q in queues.queues
    }


def queue_wrapups(queues: dict[str, QueueSpec]) -> dict[str, int]:
    """Asterisk queue -> its `wrapuptime`: what a member without its own is held for."""
    return {spec.asterisk: spec.wrapup_s for spec in queues.values()}


async def seat_users(session: AsyncSession, name: str) -> list[str]:
    """Seats with a skill in queue `name` (a catalogue removal is refused while any has)."""
    rows = await session.execute(select(Seat.id, Seat.skills).order_by(Seat.extension))
    return named_users("seat", [seat for seat, skills in rows if name in (skills or {})])


def removal_checks(flow_users: QueueUsers) -> list[QueueUsers]:
    """Who may still use a queue being removed: seats' skills, directory numbers and
    the IVR flow (`flow_users`, agi/ivr/model.py, which this layer cannot see)."""
    return [seat_users, directory_users, flow_users]


def penalty(level: int) -> int:
    return MAX_LEVEL - level


def parse_skills(text: str, queues: QueueCatalog) -> dict[str, int]:
    """`general:3,housing:5` -> {"general": 3, "housing": 5}; a bare name is level 3,
    every name one of `queues`.

    Raises ValueError naming the bad item, so the CLI can say what to fix."""
    skills: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, level_text = item.partition(":")
        name = name.strip()
        if name not in queues:
            raise ValueError(f"skill {item!r}: {queues.unknown_message(name)}")
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


def demo_skills(
    index: int, specialists_per_seat: int = 2, queues: QueueCatalog | None = None
) -> dict[str, int]:
    """The demo floor: everyone on general, plus specialist queues of `queues` (default:
    the city plan's) in rotation (the same spread pbxsim's own demo logs in, so the demo
    traffic finds seats)."""
    names = (queues or QueueCatalog.default()).names
    specialists = sorted(q for q in names if q != GENERAL)
    skills = {GENERAL: 3}
    for k in range(min(specialists_per_seat, len(specialists))):
        skills[specialists[(index + k * 3) % len(specialists)]] = 4
    return skills
