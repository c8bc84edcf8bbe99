"""Follows the live model's changes for the seats side: seat state start times and
abandoned callers (for the callback worklist).

A caller may leave its queue with a key (1: a callback request, 9: the emergency menu)
and come back to it (the dialplan puts it back at its place): it is still the caller
who joined first, and an abandon after that counts its wait from the first join. One
who hangs up while out of the queue (the callback confirmation says it may) gave up no
queue, but a callback it asked for must still reach the worklist: it is handed on as
`Abandoned(left_with_key=True)`, and the callback service takes it only if requested.

Today's figures, calls and talk time per seat and repeat callers are the call records'
(callcenter/records/today.py and history.py), not this process's.

It reads the change hub (a bounded subscription) rather than hooking the AMI reader:
the reader must never wait on a database. If it falls behind it gets `Lost`, logs what
the counters missed, and carries on; call records remain the durable truth.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from callcenter.live.changes import (
    CallAnswered,
    CallEnded,
    CallerAbandoned,
    CallerChange,
    CallerJoined,
    CallerLeft,
    Change,
    Lost,
    NodeSnapshot,
    SeatChange,
)
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import NodeState
from queues.seat_state import AUTO_PAUSE, StateTracker, memberships

log = logging.getLogger(__name__)

FORGET_AFTER_S = 60.0


@dataclass(frozen=True)
class Abandoned:
    node: str
    uniqueid: str
    queue: str
    caller: str
    hold_s: float
    joined_at: float
    priority: int
    #: it left the queue with a key and hung up outside it (see the module docstring)
    left_with_key: bool = False


AbandonHandler = Callable[[Abandoned], Awaitable[None]]
#: (seat id, True: Asterisk auto-paused it / False: it came back from that pause)
AutoPauseHandler = Callable[[str, bool], Awaitable[object]]


@dataclass
class _Waiting:
    caller: str
    joined_at: float  # the first join
    priority: int
    queue: str = ""
    #: when it last left the queue without an abandon (an answer, or a key), until it
    #: joins again
    left_at: float | None = None
    #: answered or abandoned: nothing more to hand on
    closed: bool = False
    #: back in a queue after a key
    rejoined: bool = False


class SeatWatcher:
    def __init__(
        self,
        live: LiveState,
        tracker: StateTracker,
        on_abandoned: AbandonHandler | None = None,
        on_auto_pause: AutoPauseHandler | None = None,
    ) -> None:
        self.live = live
        self.tracker = tracker
        self.on_abandoned = on_abandoned
        #: told when a seat enters or leaves app_queue's auto-pause (SeatService)
        self.on_auto_pause = on_auto_pause
        self._auto_paused: dict[tuple[str, str], bool] = {}
        self.seat_of: dict[str, str] = {}  # interface -> seat id (refreshed by the owner)
        self.lost_changes = 0
        self._waiting: dict[str, _Waiting] = {}  # caller uniqueid -> what we saw at join
        self._left: deque[tuple[float, str]] = deque()
        self._sub = live.hub.subscribe("queues-watcher", maxsize=50_000)

    async def run(self) -> None:
        while True:
            item = await self._sub.get()
            try:
                await self.handle(item)
            except Exception:  # one bad change must not stop the counting
                log.exception("seat watcher failed on %r", item)

    def drain(self) -> int:
        """Apply what is queued now, synchronously where possible (tests, benches)."""
        n = 0
        while (item := self._sub.get_nowait()) is not None:
            self._handle_sync(item)
            n += 1
        return n

    async def handle(self, item: Change | Lost) -> None:
        done = self._handle_sync(item)
        if done is not None:
            await done

    def _handle_sync(self, item: Change | Lost) -> Awaitable[object] | None:
        if isinstance(item, Lost):
            self.lost_changes += item.dropped
            log.warning(
                "seat watcher missed %d changes: recalling the callers waiting now", item.dropped
            )
            for node in list(self.live.nodes):
                self._recall_waiting(node)
            return None
        now = item.at
        if isinstance(item, SeatChange):
            state = self.live.nodes.get(item.node)
            if state is not None:
                self.tracker.observe(state, item.interface, now)
                return self._auto_pause(state, item.interface)
        elif isinstance(item, CallerChange):
            return self._caller(item, now)
        elif isinstance(item, CallAnswered):
            seen = self._waiting.get(item.linkedid)
            if seen is not None:
                seen.closed = True
        elif isinstance(item, CallEnded):
            return self._ended(item, now)
        elif isinstance(item, NodeSnapshot):
            self._recall_waiting(item.node)
        return None

    def _auto_pause(self, state: NodeState, interface: str) -> Awaitable[object] | None:
        """Tell the owner when a seat becomes auto-paused in every queue it is in (the
        `autopause = all` of queues.conf pauses them one event at a time), and when it
        is unpaused everywhere after that. A membership removed says neither: a logout
        or an Asterisk restart is not an unpause."""
        members = memberships(state, interface)
        key = (state.node, interface)
        if not members:
            self._auto_paused.pop(key, None)
            return None
        if all(m.paused and m.paused_reason == AUTO_PAUSE for m in members):
            auto = True
        elif not any(m.paused for m in members):
            auto = False
        else:
            return None
        before = self._auto_paused.get(key)
        self._auto_paused[key] = auto
        if before is None and not auto:
            return None  # first sight of a seat that is not paused: nothing to follow
        seat = self.seat_of.get(interface)
        if before == auto or seat is None or self.on_auto_pause is None:
            return None
        return self.on_auto_pause(seat, auto)

    def _recall_waiting(self, node: str) -> None:
        """Callers who joined before this process started, or while it was not
        listening (a resync, missed changes), are in the live model's queues: an
        abandon still finds whom to call back."""
        state = self.live.nodes.get(node)
        if state is None:
            return
        for queue in state.queues.values():
            for e in queue.entries.values():
                self._waiting.setdefault(
                    e.uniqueid, _Waiting(e.caller_id_num, e.joined_at, e.priority, queue.name)
                )

    def _caller(self, item: CallerChange, now: float) -> Awaitable[object] | None:
        if isinstance(item, CallerJoined):
            seen = self._waiting.get(item.uniqueid)
            if seen is not None and seen.left_at is not None and not seen.closed:
                seen.left_at, seen.priority, seen.rejoined = None, item.priority, True
            else:
                self._waiting[item.uniqueid] = _Waiting(item.caller, now, item.priority, item.queue)
        elif isinstance(item, CallerAbandoned):
            hold = float(item.hold_time)
            seen = self._waiting.get(item.uniqueid)
            if seen is not None:
                seen.closed = True
                if seen.rejoined:  # waiting since the first join
                    hold = max(hold, round(now - seen.joined_at, 3))
            if self.on_abandoned is not None:
                return self.on_abandoned(
                    Abandoned(
                        item.node,
                        item.uniqueid,
                        item.queue,
                        seen.caller if seen else "",
                        hold,
                        seen.joined_at if seen else now - hold,
                        seen.priority if seen else 0,
                    )
                )
            self._waiting.pop(item.uniqueid, None)
        elif isinstance(item, CallerLeft):
            # Asterisk may announce the leave before the abandon: forget it a bit later
            seen = self._waiting.get(item.uniqueid)
            if seen is not None and not seen.closed:
                seen.left_at = now
            self._left.append((now, item.uniqueid))
            while self._left and now - self._left[0][0] > FORGET_AFTER_S:
                left_at, uniqueid = self._left.popleft()
                gone = self._waiting.get(uniqueid)
                if gone is not None and (gone.closed or gone.left_at == left_at):
                    del self._waiting[uniqueid]
        return None

    def _ended(self, item: CallEnded, now: float) -> Awaitable[None] | None:
        """A call whose caller left its queue with a key and never came back (an
        inbound caller's channel is its call's first: uniqueid = linkedid)."""
        seen = self._waiting.get(item.linkedid)
        if seen is None or seen.closed or seen.left_at is None:
            return None
        seen.closed = True
        if self.on_abandoned is None:
            return None
        return self.on_abandoned(
            Abandoned(
                item.node,
                item.linkedid,
                seen.queue,
                seen.caller,
                round(seen.left_at - seen.joined_at, 3),
                seen.joined_at,
                seen.priority,
                left_with_key=True,
            )
        )

    def close(self) -> None:
        self._sub.close()
