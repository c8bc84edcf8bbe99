"""The live state of all PBX nodes, and the resync that keeps it honest.

On every connect and reconnect the node's model is rebuilt from `CoreShowChannels` and
`QueueStatus`. Events keep arriving meanwhile; they are held back, and once the
snapshot is loaded the ones that came *after* the snapshot's reply started are applied
on top of it, in wire order. Asterisk flushes a session's queued events before it
handles the next action and queues the events raised while an action runs behind its
reply, so an event before the reply's first frame is already in the snapshot (applying
it again would count a call twice), and one after it is not. Until that is done the
node is `stale`, and every view built on it says so.

What the listing cannot show about a call in progress (its dialed number, unit and
queue, kept in its channel's variables) is then read back with `Getvar`
(call_variables.py) before the node is ready; events arriving meanwhile apply at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ami import events as ev
from ami.errors import AmiError
from ami.node import PbxNode
from callcenter.live.call_variables import recall_call_variables
from callcenter.live.changes import ChangeHub, NodeReady, NodeStale
from callcenter.live.node_state import NodeState

log = logging.getLogger(__name__)

RESYNC_TIMEOUT_S = 30.0

#: events whose effect is read back by QueueStatus (the rest: by CoreShowChannels)
QUEUE_EVENTS = (
    ev.MemberEvent,
    ev.AgentEvent,
    ev.QueueCallerJoin,
    ev.QueueCallerLeave,
    ev.QueueCallerAbandon,
    ev.DeviceStateChange,
)


@dataclass
class _Resync:
    channels_id: str
    queues_id: str
    channels_started: bool = False
    queues_started: bool = False
    held: list[tuple[ev.AmiEvent, bool, bool]] = field(default_factory=list)

    def hold(self, event: ev.AmiEvent) -> None:
        self.held.append((event, self.channels_started, self.queues_started))

    def to_replay(self) -> list[ev.AmiEvent]:
        out: list[ev.AmiEvent] = []
        for event, after_channels, after_queues in self.held:
            if isinstance(event, QUEUE_EVENTS):
                if after_queues:
                    out.append(event)
            elif after_channels:
                out.append(event)
        return out


class LiveState:
    """A `NodeListener` for every node; owns one `NodeState` per node."""

    def __init__(self, clock: Callable[[], float], hub: ChangeHub | None = None) -> None:
        self.clock = clock
        self.hub = hub if hub is not None else ChangeHub()
        self.nodes: dict[str, NodeState] = {}
        self.links: dict[str, PbxNode] = {}
        self._resyncs: dict[str, _Resync] = {}
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}  # node -> the number of its latest resync
        self._captures: dict[str, Callable[[], None]] = {}
        self.resyncs_done = 0
        self.synced = asyncio.Event()  # set after any resync completes (tests wait on it)
        #: awaited after every completed resync, e.g. the legacy directory's AstDB mirror
        self.connect_hooks: list[Callable[[PbxNode], Awaitable[None]]] = []

    def node_state(self, name: str) -> NodeState:
        state = self.nodes.get(name)
        if state is None:
            notify = self.hub.notifier(name, self.clock)
            state = self.nodes[name] = NodeState(name, self.clock, notify)
        return state

    # --- NodeListener ----------------------------------------------------------------
    async def on_connected(self, node: PbxNode) -> None:
        self.links[node.name] = node
        state = self.node_state(node.name)
        state.stale = True
        self.hub.publish(NodeStale, node.name, self.clock(), reason="resync after (re)connect")
        n = next(self._ids)
        resync = _Resync(
            channels_id=f"resync-ch-{node.name}-{n}", queues_id=f"resync-q-{node.name}-{n}"
        )
        self._resyncs[node.name] = resync
        self._latest[node.name] = n
        try:
            channels = await node.send(
                {"Action": "CoreShowChannels", "ActionID": resync.channels_id},
                timeout=RESYNC_TIMEOUT_S,
                as_list=True,
            )
            queues = await node.send(
                {"Action": "QueueStatus", "ActionID": resync.queues_id},
                timeout=RESYNC_TIMEOUT_S,
                as_list=True,
            )
        except AmiError as exc:
            self._resyncs.pop(node.name, None)
            log.warning("AMI %s: resync failed (%s); dropping the connection", node.name, exc)
            node.abort(f"resync failed: {exc}")
            return
        params, members, entries, listed = [], [], [], []
        for message in [*_as_list(channels), *_as_list(queues)]:
            frame = getattr(message, "frame", None)
            if frame is None or frame.headers[0][0].lower() != "event":
                continue
            item = ev.parse_event(frame)
            if isinstance(item, ev.QueueParams):
                params.append(item)
            elif isinstance(item, ev.QueueMember):
                members.append(item)
            elif isinstance(item, ev.QueueEntry):
                entries.append(item)
            elif isinstance(item, ev.CoreShowChannel):
                listed.append(item)
        del self._resyncs[node.name]
        state.load_snapshot(params, members, entries, listed, self.clock())
        replay = resync.to_replay()
        for event in replay:
            state.apply(event)
        unread = await recall_call_variables(node, state)
        if self._latest.get(node.name) != n or not node.connected:
            return  # the link dropped meanwhile: that resync's successor finishes the job
        state.stale = False
        self.resyncs_done += 1
        log.info(
            "AMI %s: resynced: %d queues, %d members, %d callers, %d channels "
            "(+%d events replayed of %d held; %d call variables unread)",
            node.name,
            len(params),
            len(members),
            len(entries),
            len(listed),
            len(replay),
            len(resync.held),
            unread,
        )
        self.hub.publish(NodeReady, node.name, self.clock())
        self.synced.set()
        for hook in self.connect_hooks:
            try:
                await hook(node)
            except Exception:  # a failing hook must not undo the resync
                log.exception("AMI %s: connect hook failed", node.name)

    def on_event(self, node: PbxNode, event: ev.AmiEvent) -> None:
        resync = self._resyncs.get(node.name)
        if resync is not None:
            resync.hold(event)
            return
        self.node_state(node.name).apply(event)

    def mark_confidential(self, node: str, linkedid: str) -> bool:
        """Mask the caller of a call in progress on `node` at once (a confidential mark
        is stored by callcenter.records.facts); False if that call is not in progress."""
        state = self.nodes.get(node)
        return state is not None and state.mark_confidential(linkedid)

    def capture_at_reply(self, action_id: str, fn: Callable[[], None]) -> None:
        """Call `fn` when the reply to `action_id` starts, in stream order (audit.py)."""
        self._captures[action_id] = fn

    def forget_capture(self, action_id: str) -> None:
        self._captures.pop(action_id, None)

    def on_response(self, node: PbxNode, action_id: str) -> None:
        capture = self._captures.pop(action_id, None)
        if capture is not None:
            capture()
        resync = self._resyncs.get(node.name)
        if resync is None:
            return
        if action_id == resync.channels_id:
            resync.channels_started = True
        elif action_id == resync.queues_id:
            resync.queues_started = True

    def on_disconnected(self, node: PbxNode, reason: str) -> None:
        self._resyncs.pop(node.name, None)
        state = self.node_state(node.name)
        state.stale = True
        self.hub.publish(NodeStale, node.name, self.clock(), reason=reason)


def _as_list(reply: object) -> list[object]:
    return reply if isinstance(reply, list) else [reply]
