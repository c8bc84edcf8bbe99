"""Read-only views of the live state: what supervisors and seats see.

Pure functions of the model (no I/O), shared by the REST API, the WebSocket stream and
the wallboard, so all of them show the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.live.node_state import Member, NodeState, Queue
from callcenter.live.seat_state import STATUS_TEXT, QueueWrapups, seat_counts, seat_state


@dataclass(frozen=True)
class WaitingCaller:
    position: int
    uniqueid: str
    linkedid: str
    channel: str
    caller: str
    waited_s: float
    priority: int


@dataclass(frozen=True)
class QueueView:
    node: str
    name: str
    stale: bool
    strategy: str
    waiting: int
    longest_wait_s: float
    callers: list[WaitingCaller]
    members: int
    available: int
    ringing: int
    on_call: int
    wrap_up: int
    paused: int
    unavailable: int
    #: the service-level threshold (seconds) app_queue is configured with; its own
    #: counters (completed, abandoned, service level since the PBX's last reload) are
    #: not shown: the day's figures are the records' (records.today)
    service_level_s: int


@dataclass(frozen=True)
class SeatQueue:
    queue: str
    penalty: int
    paused: bool
    paused_reason: str


@dataclass(frozen=True)
class SeatView:
    node: str
    interface: str
    name: str
    state: str  # available | ringing | on_call | wrap_up | paused | unavailable
    status: int
    status_text: str
    paused: bool
    paused_reason: str
    in_call: bool
    last_call: int  # epoch seconds its last call in any queue ended (0: none yet)
    state_interface: str
    stale: bool
    queues: list[SeatQueue] = field(default_factory=list)


def _as_is(number: str) -> str:
    return number


def queue_view(
    state: NodeState,
    queue: Queue,
    now: float,
    seats: dict[str, int],
    shown: Callable[[str], str] = _as_is,
) -> QueueView:
    """`seats`: the queue's members by state (seat_state.seat_counts), which the caller
    usually shows on their own too; `shown`: a waiting caller's number as the viewer
    may see it (callcenter/privacy.py), applied as the view is built."""
    callers = [
        WaitingCaller(
            position=e.position,
            uniqueid=e.uniqueid,
            linkedid=e.linkedid,
            channel=e.channel,
            caller=""
            if e.caller_id_num in ("", "unknown", "<unknown>")
            else shown(e.caller_id_num),
            waited_s=round(max(0.0, now - e.joined_at), 1),
            priority=e.priority,
        )
        for e in queue.ordered_entries()
    ]
    return QueueView(
        node=state.node,
        name=queue.name,
        stale=state.stale,
        strategy=queue.strategy,
        waiting=len(callers),
        longest_wait_s=max((c.waited_s for c in callers), default=0.0),
        callers=callers,
        members=len(queue.members),
        service_level_s=queue.service_level,
        **seats,
    )


def queue_views(
    states: list[NodeState],
    now: float,
    wrapups: QueueWrapups,
    shown: Callable[[str], str] = _as_is,
) -> list[QueueView]:
    views = []
    for state in states:
        for name in sorted(state.queues):
            queue = state.queues[name]
            views.append(queue_view(state, queue, now, seat_counts(queue, now, wrapups), shown))
    return views


def seat_views(states: list[NodeState], now: float, wrapups: QueueWrapups) -> list[SeatView]:
    """One seat per member interface and node, across all its queues."""
    seats: list[SeatView] = []
    for state in states:
        by_interface: dict[str, list[Member]] = {}
        for name in sorted(state.queues):
            for member in state.queues[name].members.values():
                by_interface.setdefault(member.interface, []).append(member)
        for interface in sorted(by_interface):
            members = by_interface[interface]
            first = members[0]
            reasons = sorted({m.paused_reason for m in members if m.paused and m.paused_reason})
            seats.append(
                SeatView(
                    node=state.node,
                    interface=interface,
                    name=first.member_name or interface,
                    state=seat_state(members, now, wrapups)[0],
                    status=first.status,
                    status_text=STATUS_TEXT.get(first.status, str(first.status)),
                    paused=all(m.paused for m in members),
                    paused_reason=", ".join(reasons),
                    in_call=any(m.in_call for m in members),
                    last_call=max(m.last_call for m in members),
                    state_interface=first.state_interface,
                    stale=state.stale,
                    queues=[
                        SeatQueue(m.queue, m.penalty, m.paused, m.paused_reason) for m in members
                    ],
                )
            )
    return seats
