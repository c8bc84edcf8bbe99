"""Typed changes of the live state, delivered to subscribers through bounded queues.

Every change carries a sequence number that increases by one per change across the whole
process, so a consumer (the WebSocket stream, call records, KPIs) can resume and can
tell a gap from silence. A subscriber that falls behind is never waited for: its queue
is cut, it receives a `Lost` marker, and it re-reads a snapshot.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    node: str
    kind: str  # seat | queue_caller | call | node
    action: str  # e.g. changed, joined, left, abandoned, started, ended, stale, ready
    key: str  # what it is about: seat interface, caller uniqueid, linkedid, node name
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Lost:
    """You missed changes after `last_seq`; take a snapshot and continue from it."""

    last_seq: int
    dropped: int


class Subscription:
    """One consumer's bounded queue. `get()` returns changes in order, or one `Lost`
    after the queue overflowed (and once the changes queued before it were read)."""

    def __init__(self, hub: ChangeHub, maxsize: int, name: str) -> None:
        self._hub = hub
        self.name = name
        self._queue: asyncio.Queue[Change] = asyncio.Queue(maxsize)
        self._last_enqueued = hub.last_seq
        self._dropped = 0  # > 0: overflowed; changes are dropped until Lost is read

    def _offer(self, change: Change) -> None:
        if self._dropped:
            self._dropped += 1
            return
        try:
            self._queue.put_nowait(change)
            self._last_enqueued = change.seq
        except asyncio.QueueFull:
            self._dropped = 1
            log.warning("live changes: subscriber %r is too slow; it will re-snapshot", self.name)

    def _lost(self) -> Lost:
        lost = Lost(self._last_enqueued, self._dropped)
        self._dropped = 0
        self._last_enqueued = self._hub.last_seq
        return lost

    async def get(self) -> Change | Lost:
        if self._dropped and self._queue.empty():
            return self._lost()
        return await self._queue.get()

    def get_nowait(self) -> Change | Lost | None:
        if self._queue.empty():
            return self._lost() if self._dropped else None
        return self._queue.get_nowait()

    def close(self) -> None:
        self._hub._subscribers.discard(self)


class ChangeHub:
    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self.last_seq = 0
        self._subscribers: set[Subscription] = set()
        self.published = 0

    def subscribe(self, name: str, maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, maxsize, name)
        self._subscribers.add(sub)
        return sub

    def publish(
        self, node: str, kind: str, action: str, key: str, at: float, **data: Any
    ) -> Change:
        change = Change(next(self._seq), node, kind, action, key, data, at)
        self.last_seq = change.seq
        self.published += 1
        for sub in list(self._subscribers):
            sub._offer(change)
        return change
