"""Read-only views of the live state: what supervisors and seats see.

Pure functions of the model (no I/O), shared by the REST API, the WebSocket stream and
the wallboard, so all of them show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.live.node_state import Member, NodeState, Queue

STATUS_TEXT = {
    0: "unknown",
    1: "not_in_use",
    2: "in_use",
    3: "busy",
    4: "invalid",
    5: "unavailable",
    6: "ringing",
    7: "ring_in_use",
    8: "on_hold",
}
BUSY_STATUSES = frozenset({2, 3, 7, 8})
SEAT_STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "unavailable")
UNREACHABLE_STATUSES = frozenset({4, 5})


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
    #: app_queue's own counters since its last reset (as of the last QueueStatus)
    completed: int
    abandoned: int
    service_level_s: int
    service_level_perf: float


@dataclass(frozen=True)
class SeatQueue:
    queue: str
    penalty: int
    paused: bool
    paused_reason: str
    calls_taken: int


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
    calls_taken: int
    last_call: int
    state_interface: str
    stale: bool
    queues: list[SeatQueue] = field(default_factory=list)


def member_state(member: Member, now: float) -> str:
    """The one word a supervisor needs for a queue member, most urgent first."""
    if member.status in UNREACHABLE_STATUSES:
        return "unavailable"
    if member.ringing or member.status == 6:
        return "ringing"
    if member.in_call or member.status in BUSY_STATUSES:
        return "on_call"
    if member.paused:
        return "paused"
    if member.wrapuptime and member.last_call and now - member.last_call < member.wrapuptime:
        return "wrap_up"
    return "available"


def queue_view(
    state: NodeState, queue: Queue, now: float, seats: dict[str, int] | None = None
) -> QueueView:
    """`seats`: members counted by state, when the caller knows more than the model (the
    queue catalog's wrap-up, queues/queue_views.py); else counted here by `member_state`."""
    callers = [
        WaitingCaller(
            position=e.position,
            uniqueid=e.uniqueid,
            linkedid=e.linkedid,
            channel=e.channel,
            caller="" if e.caller_id_num in ("unknown", "<unknown>") else e.caller_id_num,
            waited_s=round(max(0.0, now - e.joined_at), 1),
            priority=e.priority,
        )
        for e in queue.ordered_entries()
    ]
    if seats is None:
        counts = dict.fromkeys(SEAT_STATES, 0)
        for member in queue.members.values():
            counts[member_state(member, now)] += 1
    else:
        counts = seats
    return QueueView(
        node=state.node,
        name=queue.name,
        stale=state.stale,
        strategy=queue.strategy,
        waiting=len(callers),
        longest_wait_s=max((c.waited_s for c in callers), default=0.0),
        callers=callers,
        members=len(queue.members),
        completed=queue.completed,
        abandoned=queue.abandoned,
        service_level_s=queue.service_level,
        service_level_perf=queue.servicelevel_perf,
        **counts,
    )


def queue_views(states: list[NodeState], now: float) -> list[QueueView]:
    return [
        queue_view(state, state.queues[name], now)
        for state in states
        for name in sorted(state.queues)
    ]


_STATE_RANK = {
    "unavailable": 0,
    "ringing": 1,
    "on_call": 2,
    "wrap_up": 3,
    "available": 4,
    "paused": 5,
}


def seat_views(states: list[NodeState], now: float) -> list[SeatView]:
    """One seat per member interface and node, across all its queues."""
    seats: list[SeatView] = []
    for state in states:
        by_interface: dict[str, list[Member]] = {}
        for name in sorted(state.queues):
            for member in state.queues[name].members.values():
                by_interface.setdefault(member.interface, []).append(member)
        for interface in sorted(by_interface):
            members = by_interface[interface]
            states_ = [member_state(m, now) for m in members]
            # busy in one queue is busy everywhere; paused only if paused everywhere
            if all(s == "paused" for s in states_):
                seat_state = "paused"
            else:
                seat_state = min((s for s in states_ if s != "paused"), key=_STATE_RANK.__getitem__)
            first = members[0]
            reasons = sorted({m.paused_reason for m in members if m.paused and m.paused_reason})
            seats.append(
                SeatView(
                    node=state.node,
                    interface=interface,
                    name=first.member_name or interface,
                    state=seat_state,
                    status=first.status,
                    status_text=STATUS_TEXT.get(first.status, str(first.status)),
                    paused=all(m.paused for m in members),
                    paused_reason=", ".join(reasons),
                    in_call=any(m.in_call for m in members),
                    calls_taken=sum(m.calls_taken for m in members),
                    last_call=max(m.last_call for m in members),
                    state_interface=first.state_interface,
                    stale=state.stale,
                    queues=[
                        SeatQueue(m.queue, m.penalty, m.paused, m.paused_reason, m.calls_taken)
                        for m in members
                    ],
                )
            )
    return seats
