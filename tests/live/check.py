"""Compare the live model with a QueueStatus taken at the same instant.

"The same instant" is exact: the model is copied when the QueueStatus reply's first
frame is read, i.e. after every event Asterisk (or pbxsim) wrote before generating the
list, and before any event raised while it was generated.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from ami import events as ev
from ami.node import PbxNode
from callcenter.live.live import LiveState
from callcenter.live.state import NodeState

_ids = itertools.count(1)

MEMBER_FIELDS = (
    "member_name",
    "state_interface",
    "membership",
    "penalty",
    "calls_taken",
    "last_pause",
    "login_time",
    "in_call",
    "status",
    "paused",
    "paused_reason",
    "wrapuptime",
)


class Snapshotting:
    """Wraps LiveState's on_response to copy the model at a chosen reply."""

    def __init__(self, live: LiveState) -> None:
        self.live = live
        self.wanted: str | None = None
        self.copy: NodeState | None = None
        original = live.on_response

        def on_response(node: PbxNode, action_id: str) -> None:
            if action_id == self.wanted:
                self.copy = NodeState(node.name, live.clock)
                self.copy.queues = copy.deepcopy(live.nodes[node.name].queues)
            original(node, action_id)

        live.on_response = on_response  # type: ignore[method-assign]

    async def queue_status(self, node: PbxNode) -> tuple[NodeState, list[Any], float]:
        self.wanted = f"check-{next(_ids)}"
        reply = await node.send(
            {"Action": "QueueStatus", "ActionID": self.wanted}, as_list=True, timeout=10
        )
        items = [ev.parse_event(m.frame) for m in reply[1:] if hasattr(m, "frame")]
        assert self.copy is not None
        state, self.copy = self.copy, None
        return state, items, self.live.clock()


def differences(state: NodeState, items: list[Any], now: float) -> list[str]:
    """Every way the model differs from the QueueStatus items (empty list: equal)."""
    out: list[str] = []
    params = [i for i in items if isinstance(i, ev.QueueParams)]
    members = [i for i in items if isinstance(i, ev.QueueMember)]
    entries = [i for i in items if isinstance(i, ev.QueueEntry)]
    for p in params:
        queue = state.queues.get(p.queue)
        n = len(queue.entries) if queue else 0
        if n != p.calls:
            out.append(f"{p.queue}: model has {n} callers, QueueStatus Calls={p.calls}")
    theirs = {(m.queue, m.interface): m for m in members}
    ours = {(q.name, m.interface): m for q in state.queues.values() for m in q.members.values()}
    for key in sorted(set(theirs) | set(ours)):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None:
            out.append(f"{key}: member only in {'QueueStatus' if a is None else 'model'}")
            continue
        for name in MEMBER_FIELDS:
            if getattr(a, name) != getattr(b, name):
                out.append(
                    f"{key}: {name} model={getattr(a, name)!r} QueueStatus={getattr(b, name)!r}"
                )
        if abs(a.last_call - b.last_call) > 1:  # the model stamps it on arrival
            out.append(f"{key}: last_call model={a.last_call} QueueStatus={b.last_call}")
    their_entries = {(e.queue, e.uniqueid): e for e in entries}
    our_entries = {
        (q.name, e.uniqueid): e for q in state.queues.values() for e in q.entries.values()
    }
    for key in sorted(set(their_entries) | set(our_entries)):
        a_e, b_e = our_entries.get(key), their_entries.get(key)
        if a_e is None or b_e is None:
            out.append(f"{key}: caller only in {'QueueStatus' if a_e is None else 'model'}")
            continue
        for ours_v, theirs_v, name in (
            (a_e.position, b_e.position, "position"),
            (a_e.channel, b_e.channel_name, "channel"),
            (a_e.priority, b_e.priority, "priority"),
            (a_e.caller_id_num, b_e.caller_id_num, "caller_id_num"),
            (a_e.caller_id_name, b_e.caller_id_name, "caller_id_name"),
        ):
            if ours_v != theirs_v:
                out.append(f"{key}: {name} model={ours_v!r} QueueStatus={theirs_v!r}")
        if abs((now - a_e.joined_at) - b_e.wait) > 1.5:
            out.append(f"{key}: wait model={now - a_e.joined_at:.1f} QueueStatus={b_e.wait}")
    return out
