"""Typed changes of the live state, delivered to subscribers through bounded queues.

One frozen class per kind of change (`SeatChanged`, `CallerJoined`, `CallEnded`,
`NodeStale`...), each with its own typed fields; consumers tell them apart with
isinstance or match. `wire()` renders one as the live stream sends it.

Every change carries a sequence number that increases by one per change across the whole
process, so a consumer (the WebSocket stream, call records, KPIs) can resume and can
tell a gap from silence. A subscriber that falls behind is never waited for: its queue
is cut, it receives a `Lost` marker, and it re-reads a snapshot.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeAlias, TypeVar, get_args

log = logging.getLogger(__name__)

P = ParamSpec("P")
C = TypeVar("C", bound="Change")


@dataclass(frozen=True, slots=True)
class _Change:
    """What every change carries; `ChangeHub.publish` gives the sequence number."""

    #: the stream's `kind` and `action` of this class (`wire`)
    KIND: ClassVar[str]
    ACTION: ClassVar[str]
    #: the field that names what the change is about (the stream's `key`)
    KEY: ClassVar[str] = "node"

    seq: int
    node: str
    at: float

    @property
    def key(self) -> str:
        """A seat's interface, a waiting caller's uniqueid, a call's linkedid, a node's
        name."""
        key: str = getattr(self, self.KEY)
        return key

    def wire(self) -> dict[str, Any]:
        """The change as the live stream sends it (`changes[]` of a delta):
        `{"seq", "node", "kind", "action", "key", "data": {...}, "at"}`, `data` holding
        the class's own fields but the key, in their order."""
        return {
            "seq": self.seq,
            "node": self.node,
            "kind": self.KIND,
            "action": self.ACTION,
            "key": self.key,
            "data": {name: getattr(self, name) for name in _WIRE_DATA[type(self)]},
            "at": self.at,
        }


# --- seats: a member of one queue (keyed by its interface) ------------------------------
@dataclass(frozen=True, slots=True)
class _SeatState(_Change):
    KEY = "interface"

    interface: str
    queue: str
    member_name: str
    status: int  # the member's device Status code (0-8)
    paused: bool
    paused_reason: str
    in_call: bool
    ringing: bool
    calls_taken: int


@dataclass(frozen=True, slots=True)
class SeatAdded(_SeatState):
    KIND = "seat"
    ACTION = "added"


@dataclass(frozen=True, slots=True)
class SeatChanged(_SeatState):
    KIND = "seat"
    ACTION = "changed"


@dataclass(frozen=True, slots=True)
class SeatRemoved(_Change):
    KIND = "seat"
    ACTION = "removed"
    KEY = "interface"

    interface: str
    queue: str
    member_name: str


# --- waiting callers (keyed by the caller channel's uniqueid) ---------------------------
@dataclass(frozen=True, slots=True)
class CallerJoined(_Change):
    KIND = "queue_caller"
    ACTION = "joined"
    KEY = "uniqueid"

    uniqueid: str
    queue: str
    position: int
    priority: int
    linkedid: str
    caller: str  # the caller's number, "" when unknown


@dataclass(frozen=True, slots=True)
class CallerAbandoned(_Change):
    """Asterisk's QueueCallerAbandon: a hang-up in the queue, but also a timeout or a
    redirect out of it (call records tell them apart). A `CallerLeft` follows."""

    KIND = "queue_caller"
    ACTION = "abandoned"
    KEY = "uniqueid"

    uniqueid: str
    queue: str
    position: int
    hold_time: int  # seconds
    original_position: int
    linkedid: str


@dataclass(frozen=True, slots=True)
class CallerLeft(_Change):
    KIND = "queue_caller"
    ACTION = "left"
    KEY = "uniqueid"

    uniqueid: str
    queue: str
    position: int
    linkedid: str
    waited_s: float


# --- calls: every channel of one linkedid (keyed by it) ---------------------------------
@dataclass(frozen=True, slots=True)
class CallStarted(_Change):
    KIND = "call"
    ACTION = "started"
    KEY = "linkedid"

    linkedid: str
    caller: str
    dialed: str


@dataclass(frozen=True, slots=True)
class CallAnswered(_Change):
    """A queue member took the call (AgentConnect)."""

    KIND = "call"
    ACTION = "answered"
    KEY = "linkedid"

    linkedid: str
    queue: str
    agent: str  # the member's interface
    member_name: str
    hold_time: int  # seconds
    ring_time: int  # seconds


@dataclass(frozen=True, slots=True)
class CallAgentDone(_Change):
    """The member who took the call is done with it (AgentComplete)."""

    KIND = "call"
    ACTION = "agent_done"
    KEY = "linkedid"

    linkedid: str
    queue: str
    agent: str  # the member's interface
    talk_time: int  # seconds
    hold_time: int  # seconds
    reason: str  # caller | agent | transfer


@dataclass(frozen=True, slots=True)
class CallEnded(_Change):
    KIND = "call"
    ACTION = "ended"
    KEY = "linkedid"

    linkedid: str
    caller: str
    dialed: str
    duration_s: float
    cause: int
    cause_txt: str


# --- nodes (keyed by the node's name) ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class NodeStale(_Change):
    """The node's model may be wrong (link down, resync under way) until `NodeReady`."""

    KIND = "node"
    ACTION = "stale"

    reason: str


@dataclass(frozen=True, slots=True)
class NodeSnapshot(_Change):
    """The node's whole model was replaced by what Asterisk listed (resync)."""

    KIND = "node"
    ACTION = "snapshot"

    queues: int
    channels: int


@dataclass(frozen=True, slots=True)
class NodeReady(_Change):
    KIND = "node"
    ACTION = "ready"


SeatChange: TypeAlias = SeatAdded | SeatChanged | SeatRemoved
CallerChange: TypeAlias = CallerJoined | CallerAbandoned | CallerLeft
CallChange: TypeAlias = CallStarted | CallAnswered | CallAgentDone | CallEnded
NodeChange: TypeAlias = NodeStale | NodeSnapshot | NodeReady
#: every change the hub carries; consumers tell them apart with isinstance / match
Change: TypeAlias = SeatChange | CallerChange | CallChange | NodeChange

#: per class: the fields `wire` puts in `data` (its own fields but the key, in order)
_WIRE_DATA: dict[type[_Change], tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name not in ("seq", "node", "at", cls.KEY))
    for cls in get_args(Change)
}


class Notify(Protocol):
    """How a node's model announces a change: the change's class and its own fields;
    the receiver adds the sequence number, the node and the time (`ChangeHub.publish`),
    e.g. `notify(CallStarted, linkedid="1.1", caller="139", dialed="12345")`."""

    def __call__(
        self,
        change: Callable[Concatenate[int, str, float, P], C],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> object: ...


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
        self,
        change: Callable[Concatenate[int, str, float, P], C],
        node: str,
        at: float,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> C:
        """Make the change with the next sequence number and offer it to every
        subscriber: `hub.publish(NodeStale, "pbx1", now, reason="link down")`."""
        published = change(next(self._seq), node, at, *args, **kwargs)
        self.last_seq = published.seq
        self.published += 1
        for sub in list(self._subscribers):
            sub._offer(published)
        return published

    def notifier(self, node: str, clock: Callable[[], float]) -> Notify:
        """What a node's model announces its changes through: published as `node`'s,
        at `clock()`."""

        def notify(
            change: Callable[Concatenate[int, str, float, P], C],
            /,
            *args: P.args,
            **kwargs: P.kwargs,
        ) -> C:
            return self.publish(change, node, clock(), *args, **kwargs)

        return notify


def no_notify(
    change: Callable[Concatenate[int, str, float, P], C], /, *args: P.args, **kwargs: P.kwargs
) -> None:
    """A `Notify` that tells no one (a model built to be compared, not followed)."""
    return None
