"""What the IVR needs from the legacy-number directory and the live queues.

Narrow protocols so agi/ does not depend on how those are built:
`callcenter.legacy.directory.Directory` satisfies `RouteLookup` as it is (its
`LegacyRoute` has the attributes `LegacyTarget` reads), and `LiveWaitEstimator` reads
any object shaped like `callcenter.live.LiveState`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

#: when app_queue has no talk-time average yet (a fresh queue): DOMAIN.md's AHT range
DEFAULT_AHT_S = 240.0
#: app_queue member status 4 = invalid, 5 = unavailable: they serve nobody
_UNSERVING = {4, 5}


class LegacyTarget(Protocol):
    @property
    def unit_code(self) -> str: ...

    @property
    def mode(self) -> str:
        """merge | dock | retain"""
        ...

    @property
    def queue(self) -> str:
        """The Asterisk queue name (hotline-...)."""
        ...

    @property
    def transfer_to(self) -> str | None: ...


class RouteLookup(Protocol):
    def route(self, dialed_number: str, now: datetime) -> LegacyTarget | None:
        """The legacy route of a dialed number, None if it is not an old number.
        Synchronous and in memory: it runs on every call."""
        ...


class WaitEstimator(Protocol):
    def estimated_wait_s(self, queue: str) -> float | None:
        """Seconds a caller joining `queue` now would wait; None if unknown."""
        ...


class _MemberLike(Protocol):
    @property
    def paused(self) -> bool: ...

    @property
    def status(self) -> int: ...

    @property
    def in_call(self) -> bool: ...


class _QueueLike(Protocol):
    @property
    def talk_time(self) -> int: ...

    @property
    def members(self) -> Mapping[str, _MemberLike]: ...

    @property
    def entries(self) -> Mapping[str, object]: ...


class _NodeLike(Protocol):
    @property
    def queues(self) -> Mapping[str, _QueueLike]: ...


class LiveLike(Protocol):
    @property
    def nodes(self) -> Mapping[str, _NodeLike]: ...


class LiveWaitEstimator:
    """A deliberately simple estimate from the live model: callers ahead (and this one)
    beyond the idle seats, times the average talk time, shared by the serving seats.
    It only decides whether to *offer* a callback, so erring either way is cheap."""

    def __init__(self, live: LiveLike) -> None:
        self.live = live

    def estimated_wait_s(self, queue: str) -> float | None:
        queues = [n.queues[queue] for n in self.live.nodes.values() if queue in n.queues]
        if not queues:
            return None
        return estimate(queues)


def estimate(queues: Iterable[_QueueLike]) -> float:
    waiting = serving = idle = 0
    talk: list[int] = []
    for q in queues:
        waiting += len(q.entries)
        if q.talk_time > 0:
            talk.append(q.talk_time)
        for m in q.members.values():
            if m.paused or m.status in _UNSERVING:
                continue
            serving += 1
            if not m.in_call:
                idle += 1
    if serving == 0:
        return float("inf")  # nobody to answer: the wait is open-ended
    aht = sum(talk) / len(talk) if talk else DEFAULT_AHT_S
    ahead = max(0, waiting + 1 - idle)
    return ahead * aht / serving
