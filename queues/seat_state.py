"""A seat's state, derived from the live model, and since when it has been in it.

The live model (callcenter/live) knows each queue membership; the rule that makes a
seat's state of them, wrap-up included, is callcenter/live/seat_state.py's (the views
below queues need it too). app_queue announces no change when wrap-up ends, so
"available since" after a call is the wrap-up's end.

The tracker records when the derived state last changed, fed by the live model's
changes: reading a state is O(queues of the seat), no scan of the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.live.node_state import Member, NodeState
from callcenter.live.seat_state import QueueWrapups, seat_state, wrapup_end

OFFLINE = "offline"
#: the pause reason app_queue gives a seat it paused for letting a call ring out
#: (`autopause` in queues.conf, app_queue.c rna()); kept as Asterisk spells it, the
#: screens translate it
AUTO_PAUSE = "Auto-Pause"


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


class StateTracker:
    """interface -> (state, reason, since), updated whenever a membership changes."""

    def __init__(self, wrapups: QueueWrapups) -> None:
        self.wrapups = wrapups
        self._seen: dict[tuple[str, str], SeatState] = {}

    def observe(self, node: NodeState, interface: str, now: float) -> SeatState:
        members = memberships(node, interface)
        state, reason = seat_state(members, now, self.wrapups) if members else (OFFLINE, "")
        key = (node.node, interface)
        previous = self._seen.get(key)
        if previous is not None and (previous.state, previous.reason) == (state, reason):
            return previous
        since: float | None = now
        if state == "available" and members:
            # wrap-up ended by time, not by an event: it ended at LastCall + wrap-up
            ends = [e for m in members if (e := wrapup_end(m, self.wrapups)) is not None]
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
