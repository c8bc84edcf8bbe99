"""What each screen of the live stream may see, as the REST API would show it.

- Numbers (callcenter/privacy.py, live views): admin sees them whole; an agent the
  number of its own seat's call unless it is confidential; everyone else masked.
- Seats: an agent gets only its own seat's rows and changes, and only its own seat's
  calls (`GET /api/v1/seats`, `/calls/active`); queue rows, callers waiting (masked)
  and node changes are everyone's (`GET /api/v1/queues`).

One delta is serialised a few times, not once per screen: once with numbers masked
for supervisors, once whole for admin (only when a change carries a number), once for
agents with nothing of their own in it, and once per agent seat that does have
something of its own in it and has a screen connected (`Frames`). A supervisor wall
therefore costs what it cost before; an agent costs a few joins of texts already made
when its own seat moves.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.live_table import RowDelta, delta_text, dumps, wire
from callcenter.clock import CityTime
from callcenter.live.changes import (
    CallAgentDone,
    CallAnswered,
    CallEnded,
    CallerAbandoned,
    CallerJoined,
    CallerLeft,
    CallStarted,
    Change,
    NodeReady,
    NodeSnapshot,
    NodeStale,
    SeatAdded,
    SeatChanged,
    SeatRemoved,
)
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.privacy import EVERY_NUMBER, NO_NUMBER, Viewer, live_caller
from callcenter.tokens import Principal, Role


@dataclass(frozen=True, slots=True)
class Sight:
    """What one screen sees: `viewer` for numbers; `agent`: only `viewer.seat`'s seat
    rows and calls (an agent token bound to no seat: none)."""

    viewer: Viewer = NO_NUMBER
    agent: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Sight:
        return cls(Viewer.of(principal), agent=principal.role is Role.AGENT)

    @property
    def seat(self) -> str | None:
        return self.viewer.seat if self.agent else None


#: a supervisor's screen: every row, numbers masked
EVERYONE = Sight()
ADMIN = Sight(EVERY_NUMBER)


@dataclass(frozen=True, slots=True)
class Frames:
    """One delta as each kind of screen gets it (`for_sight`)."""

    everyone: str
    admin: str
    agents: str
    own: dict[str, str] = field(default_factory=dict)

    def for_sight(self, sight: Sight) -> str:
        if sight.agent:
            return self.own.get(sight.seat or "", self.agents)
        return self.admin if sight.viewer.admin else self.everyone


class CallSeats:
    """Which seat has each call the stream tells of, and the live call itself (so its
    confidential mark is read as it is now). A call is remembered from the first change
    that finds it with a seat until its end; a full pass forgets calls the model no
    longer has (an end that was lost)."""

    def __init__(self, live: LiveState) -> None:
        self.live = live
        self._calls: dict[tuple[str, str], Call] = {}

    def seat_and_mark(self, node: str, linkedid: str, seat: str = "") -> tuple[str, bool]:
        """(the call's seat or '', whether it is confidential: unknown counts as yes)."""
        key = (node, linkedid)
        state = self.live.nodes.get(node)
        call = state.calls.get(linkedid) if state is not None else None
        if call is None:
            call = self._calls.get(key)
        elif call.seat:
            self._calls[key] = call
        if call is None:
            return seat, True
        return seat or call.seat, call.confidential

    def ended(self, node: str, linkedid: str) -> None:
        self._calls.pop((node, linkedid), None)

    def prune(self) -> None:
        for node, linkedid in list(self._calls):
            state = self.live.nodes.get(node)
            if state is None or linkedid not in state.calls:
                del self._calls[(node, linkedid)]

    def __len__(self) -> int:
        return len(self._calls)


@dataclass(slots=True)
class _Wired:
    """A change as sent, whole and masked, and whose it is: a seat's (seat changes and
    calls with a seat), or everyone's (callers waiting, nodes); `own_caller`: the
    number as the agent at `seat` sees it, when the change carries one."""

    whole: dict[str, Any]
    masked: dict[str, Any]
    seat: str | None
    own_caller: str | None = None


def _with_caller(data: dict[str, Any], caller: str) -> dict[str, Any]:
    return data | {"data": data["data"] | {"caller": caller}}


def _wired(change: Change, city: CityTime, calls: CallSeats) -> _Wired:
    whole = wire(change, city)
    caller = whole["data"].get("caller")
    masked = whole if not caller else _with_caller(whole, live_caller(caller, False, "", NO_NUMBER))
    match change:
        case SeatAdded() | SeatChanged() | SeatRemoved():
            return _Wired(whole, masked, change.member_name)
        case CallerJoined() | CallerAbandoned() | CallerLeft():
            return _Wired(whole, masked, None)
        case CallStarted() | CallAnswered() | CallAgentDone() | CallEnded():
            named = change.member_name if isinstance(change, CallAnswered) else ""
            seat, confidential = calls.seat_and_mark(change.node, change.linkedid, named)
            if isinstance(change, CallEnded):
                calls.ended(change.node, change.linkedid)
            own = None
            if caller and seat:
                own = live_caller(caller, confidential, seat, Viewer(seat=seat))
            # a call of no seat yet is no agent's: not on an agent's screen, as in REST
            return _Wired(whole, masked, seat, own)
        case NodeStale() | NodeReady() | NodeSnapshot():
            return _Wired(whole, masked, None)
    raise AssertionError(change)  # pragma: no cover


def _seatless(change: Change) -> bool:
    return isinstance(
        change, CallerJoined | CallerAbandoned | CallerLeft | NodeStale | NodeReady | NodeSnapshot
    )


def delta_frames(
    seq: int,
    changes: Sequence[Change],
    delta: RowDelta,
    city: CityTime,
    calls: CallSeats,
    agent_seats: Collection[str],
) -> Frames:
    """The delta `seq` for every kind of screen; `agent_seats`: the seats of the agents
    connected now (an agent's own frame is made only for those)."""
    wired = [_wired(c, city, calls) for c in changes]
    masked = dumps([w.masked for w in wired])
    carries_number = any(w.whole is not w.masked for w in wired)
    whole = dumps([w.whole for w in wired]) if carries_number else masked
    everyone = delta_text(seq, masked, delta)
    admin = delta_text(seq, whole, delta) if carries_number else everyone
    common = [w.masked for w, c in zip(wired, changes, strict=True) if _seatless(c)]
    agents = delta_text(seq, dumps(common), delta, seats=[], removed_seats=[])
    own: dict[str, str] = {}
    for seat in _concerned(wired, delta, agent_seats):
        mine = [
            (_with_caller(w.masked, w.own_caller) if w.own_caller else w.masked)
            if w.seat == seat
            else w.masked
            for w, c in zip(wired, changes, strict=True)
            if w.seat == seat or _seatless(c)
        ]
        own[seat] = delta_text(
            seq,
            dumps(mine),
            delta,
            seats=[t for t, i in zip(delta.seats, delta.seat_ids, strict=True) if i == seat],
            removed_seats=[
                k
                for k, i in zip(delta.removed_seats, delta.removed_seat_ids, strict=True)
                if i == seat
            ],
        )
    return Frames(everyone, admin, agents, own)


def _concerned(wired: list[_Wired], delta: RowDelta, agent_seats: Collection[str]) -> set[str]:
    """The connected agents' seats this delta holds something of."""
    if not agent_seats:
        return set()
    named = {w.seat for w in wired if w.seat}
    named.update(i for i in delta.seat_ids if i)
    named.update(i for i in delta.removed_seat_ids if i)
    return {seat for seat in named if seat in agent_seats}
