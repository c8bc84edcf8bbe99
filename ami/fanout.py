"""One node's event stream handed to every consumer side by side.

The live state, the call records and whatever comes next each see every event of a
node, in wire order, in the order they were registered; none stands in front of
another, and one that raises does not keep the event from the rest.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from ami.events import AmiEvent
from ami.node import NodeListener, PbxNode

log = logging.getLogger(__name__)


class FanOut:
    """A `NodeListener` that forwards every callback to each of `listeners`."""

    def __init__(self, listeners: Sequence[NodeListener]) -> None:
        self.listeners = tuple(listeners)
        #: failures per listener class, for logs and metrics
        self.failures: Counter[str] = Counter()

    def _failed(self, listener: NodeListener, node: PbxNode, what: str) -> None:
        name = type(listener).__name__
        self.failures[name] += 1
        log.exception("AMI %s: %s failed on %s", node.name, name, what)

    async def on_connected(self, node: PbxNode) -> None:
        for listener in self.listeners:
            try:
                await listener.on_connected(node)
            except Exception:
                self._failed(listener, node, "connect")

    def on_event(self, node: PbxNode, event: AmiEvent) -> None:
        for listener in self.listeners:
            try:
                listener.on_event(node, event)
            except Exception:
                self._failed(listener, node, event.name)

    def on_disconnected(self, node: PbxNode, reason: str) -> None:
        for listener in self.listeners:
            try:
                listener.on_disconnected(node, reason)
            except Exception:
                self._failed(listener, node, "disconnect")

    def on_response(self, node: PbxNode, action_id: str) -> None:
        for listener in self.listeners:
            try:
                listener.on_response(node, action_id)
            except Exception:
                self._failed(listener, node, f"response {action_id}")
