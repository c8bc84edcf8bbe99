"""Checking the live model against Asterisk itself.

`audit()` asks the node for `QueueStatus` and compares the model, as it was at the exact
point in the event stream where the reply started (after every event Asterisk wrote
before generating the list, before any raised while it did), field by field. The
service runs it periodically and counts disagreements in /metrics; the tests use it as
their oracle.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ami import events as ev
from ami.errors import AmiError
from callcenter.live.node_state import NodeState, Queue

if TYPE_CHECKING:
    from callcenter.live.live_state import LiveState

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
_ids = itertools.count(1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditResult:
    node: str
    differences: list[str]
    members: int
    callers: int

    @property
    def ok(self) -> bool:
        return not self.differences


async def audit(live: LiveState, node_name: str, timeout: float = 30.0) -> AuditResult:
    node = live.links[node_name]
    action_id = f"audit-{node_name}-{next(_ids)}"
    captured: dict[str, Queue] = {}

    def capture() -> None:
        captured.update(copy.deepcopy(live.node_state(node_name).queues))

    live.capture_at_reply(action_id, capture)
    try:
        reply = await node.send(
            {"Action": "QueueStatus", "ActionID": action_id}, as_list=True, timeout=timeout
        )
    finally:
        live.forget_capture(action_id)
    items = [ev.parse_event(m.frame) for m in reply[1:] if getattr(m, "frame", None)]
    state = NodeState(node_name, live.clock)
    state.queues = captured
    diffs = differences(state, items, live.clock())
    return AuditResult(
        node_name,
        diffs,
        members=sum(1 for i in items if isinstance(i, ev.QueueMember)),
        callers=sum(1 for i in items if isinstance(i, ev.QueueEntry)),
    )


def differences(state: NodeState, items: list[Any], now: float) -> list[str]:
    """Every way the model differs from the QueueStatus items (empty list: equal).

    Time fields get the slack of the model stamping them on arrival: LastCall 1 s,
    a caller's Wait 1.5 s."""
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
        if abs(a.last_call - b.last_call) > 1:
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


class Auditor:
    """Audits every connected, in-sync node every `interval` seconds; on a disagreement
    it logs the differences, counts them and resyncs the node (the model heals)."""

    def __init__(self, live: LiveState, interval: float) -> None:
        self.live = live
        self.interval = interval
        self.audits = 0
        self.disagreements = 0
        self.last: dict[str, AuditResult] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.audit_all()

    async def audit_all(self) -> None:
        for name, node in list(self.live.links.items()):
            state = self.live.nodes.get(name)
            if not node.connected or state is None or state.stale:
                continue
            try:
                result = await audit(self.live, name)
            except AmiError as exc:
                log.warning("audit of %s failed: %s", name, exc)
                continue
            self.audits += 1
            self.last[name] = result
            if not result.ok:
                self.disagreements += 1
                log.error(
                    "live model of %s disagrees with QueueStatus (%d differences, resyncing): %s",
                    name,
                    len(result.differences),
                    "; ".join(result.differences[:10]),
                )
                await self.live.on_connected(node)
