"""A seat's state, derived from the live model, and since when it has been in it.

The live model (callcenter/live) knows each queue membership; a seat is the union of
its memberships, so "busy in one queue" is busy everywhere and "paused" only when
paused everywhere (views.seat_views's rule, reused). app_queue announces no change when
wrap-up ends, so "available since" after a call is derived from LastCall + wrap-up.

The tracker records when the derived state last changed, fed by the live model's
changes: reading a state is O(queues of the seat), no scan of the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.live.live_views import member_state
from callcenter.live.node_state import Member, NodeState

OFFLINE = "offline"
_RANK = {"unavailable": 0, "ringing": 1, "on_call": 2, "wrap_up": 3, "available": 4}


@dataclass(frozen=True)
class SeatState:
    state: str  # offline | available | ringing | on_call | wrap_up | paused | unavailable
    reason: str  # the pause reason when paused
    since: float | None  # PBX clock (epoch seconds); None: not observed yet


def memberships(node: NodeState, interface: str) -> list[Member]:
    out = []
    for queue in node.queues.values():
        member = queue.members.get(interface)
        if member is not None:
            out.append(member)
    return out


def member_state_wrapup(member: Member, now: float, wrapup: dict[str, int]) -> str:
    """views.member_state, plus the queue's own wrap-up: QueueMember's `Wrapuptime` is
    the member override (0 when the queue's `wrapuptime` applies)."""
    state = member_state(member, now)
    if state == "available" and member.last_call and not member.wrapuptime:
        if now - member.last_call < wrapup.get(member.queue, 0):
            return "wrap_up"
    return state


def _wrapup_s(member: Member, wrapup: dict[str, int]) -> int:
    return member.wrapuptime or wrapup.get(member.queue, 0)


def derive(
    members: list[Member], now: float, wrapup: dict[str, int] | None = None
) -> tuple[str, str]:
    if not members:
        return OFFLINE, ""
    wrapup = wrapup or {}
    states = [member_state_wrapup(m, now, wrapup) for m in members]
    if all(s == "paused" for s in states):
        reasons = sorted({m.paused_reason for m in members if m.paused_reason})
        return "paused", ", ".join(reasons)
    return min((s for s in states if s != "paused"), key=_RANK.__getitem__), ""


class StateTracker:
    """interface -> (state, reason, since), updated whenever a membership changes."""

    def __init__(self, wrapup: dict[str, int] | None = None) -> None:
        #: Asterisk queue -> its wrap-up seconds (the catalog's)
        self.wrapup = wrapup or {}
        self._seen: dict[tuple[str, str], SeatState] = {}

    def observe(self, node: NodeState, interface: str, now: float) -> SeatState:
        members = memberships(node, interface)
        state, reason = derive(members, now, self.wrapup)
        key = (node.node, interface)
        previous = self._seen.get(key)
        if previous is not None and (previous.state, previous.reason) == (state, reason):
            return previous
        since: float | None = now
        if state == "available" and members:
            # wrap-up ended by time, not by an event: it ended at LastCall + wrap-up
            ends = [m.last_call + _wrapup_s(m, self.wrapup) for m in members if m.last_call]
            if ends and previous is not None and previous.state == "wrap_up":
                since = max(ends)
        elif state == "wrap_up":
            since = float(max(m.last_call for m in members))
        if previous is None and state != OFFLINE:
            # first sight (e.g. after a resync): app_queue knows when it logged in
            logins = [m.login_time for m in members if m.login_time]
            since = float(min(logins)) if logins and state == "available" else None
        current = SeatState(state, reason, since)
        self._seen[key] = current
        return current

    def current(self, node: NodeState, interface: str, now: float) -> SeatState:
        return self.observe(node, interface, now)
