"""What state a queue member is in, and until when it is in wrap-up: the one rule the
REST API, the live stream, the wallboard, /metrics and the callback worklist all apply.

After each call app_queue keeps a member in wrap-up for the member's own `Wrapuptime`
(QueueMember's field; 0 when the queue's applies), else for the queue's `wrapuptime`
(queues.conf, which the queue catalog mirrors: `QueueWrapups`). It announces nothing
when a wrap-up ends, so the end is derived: LastCall + that wrap-up.

A seat is the union of its memberships: busy in one queue is busy everywhere, and it is
paused only when paused in every queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from callcenter.live.node_state import Member, Queue

#: a member's Status (its device state, 0-8) as the views spell it
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
UNREACHABLE_STATUSES = frozenset({4, 5})
RINGING_STATUS = 6
BUSY_STATUSES = frozenset({2, 3, 7, 8})

#: a member's or a seat's state, most urgent first
SEAT_STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "unavailable")
#: which membership's state is the seat's (the lowest; paused ones count only if all are)
_URGENCY = {"unavailable": 0, "ringing": 1, "on_call": 2, "wrap_up": 3, "available": 4}

#: Asterisk queue name -> the queue's `wrapuptime` in seconds (the queue catalog's); a
#: queue it does not name has none
QueueWrapups = Mapping[str, int]


def wrapup_s(member: Member, wrapups: QueueWrapups) -> int:
    """How long this member's wrap-up lasts after a call."""
    return member.wrapuptime or wrapups.get(member.queue, 0)


def wrapup_end(member: Member, wrapups: QueueWrapups) -> int | None:
    """When (PBX epoch seconds) the wrap-up after the member's last call ends; None if it
    took no call yet. Before then the member is in wrap-up unless something more urgent
    holds it (`member_state`)."""
    if not member.last_call:
        return None
    return member.last_call + wrapup_s(member, wrapups)


def member_state(member: Member, now: float, wrapups: QueueWrapups) -> str:
    """The one word a supervisor needs for a queue member (one of `SEAT_STATES`)."""
    status = member.status
    if status in UNREACHABLE_STATUSES:
        return "unavailable"
    if member.ringing or status == RINGING_STATUS:
        return "ringing"
    if member.in_call or status in BUSY_STATUSES:
        return "on_call"
    if member.paused:
        return "paused"
    end = wrapup_end(member, wrapups)
    if end is not None and now < end:
        return "wrap_up"
    return "available"


def seat_state(members: Iterable[Member], now: float, wrapups: QueueWrapups) -> tuple[str, str]:
    """A seat's state from its memberships (at least one), and the pause reasons when it
    is paused."""
    members = list(members)
    states = [member_state(m, now, wrapups) for m in members]
    if all(s == "paused" for s in states):
        reasons = sorted({m.paused_reason for m in members if m.paused_reason})
        return "paused", ", ".join(reasons)
    return min((s for s in states if s != "paused"), key=_URGENCY.__getitem__), ""


def seat_counts(queue: Queue, now: float, wrapups: QueueWrapups) -> dict[str, int]:
    """The queue's members by state, every state present."""
    counts = dict.fromkeys(SEAT_STATES, 0)
    for member in queue.members.values():
        counts[member_state(member, now, wrapups)] += 1
    return counts
