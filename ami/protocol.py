"""panoramisk's AMI protocol with byte-level framing and visible bad frames.

Everything else of panoramisk (action futures, ActionID routing, list responses) is
kept; only `data_received` is replaced (see frames.py for why). The module-global
`panoramisk.utils.EOL`, which `panoramisk.testing` rewrites to '\\n', is never read here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ami.errors import ConnectionLostDuringAction
from ami.frames import Frame, FrameReader, MalformedFrame, parse_frame

log = logging.getLogger(__name__)


def serialize_action(action: Any) -> bytes:
    lines: list[str] = []
    items = sorted(action.items(), key=lambda kv: (kv[0].lower() != "action", kv[0].lower()))
    for key, value in items:
        for v in value if isinstance(value, (list, tuple)) else [value]:
            text = str(v)
            if "\r" in text or "\n" in text or "\r" in key or "\n" in key:
                raise ValueError(f"AMI header {key!r} contains a line break: {text[:60]!r}")
            lines.append(f"{key}: {text}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def to_message(frame: Frame) -> Message:
    """A panoramisk Message (repeated headers become lists, as panoramisk does)."""
    headers: dict[str, Any] = {}
    for key, value in frame.headers:
        if key in headers:
            current = headers[key]
            if isinstance(current, list):
                current.append(value)
            else:
                headers[key] = [current, value]
        else:
            headers[key] = value
    message = Message(headers)
    message.frame = frame
    return message


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    version: str | None
    #: called with each malformed frame (for metrics); set by the node
    on_malformed: Callable[[MalformedFrame], None] | None = None
    #: called with the number of bytes of each read (for metrics / liveness)
    on_bytes: Callable[[int], None] | None = None
    #: called with the ActionID of every `Response:` frame, in wire order with the
    #: events (a resync needs to know which events came before a snapshot's reply)
    on_response: Callable[[str], None] | None = None
    #: broadcast events (no ActionID) go straight here, without panoramisk's Message:
    #: they are 99 % of the traffic and no pending action can claim them
    on_event_frame: Callable[[Frame], None] | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._reader = FrameReader()

    def data_received(self, data: bytes) -> None:
        if self.on_bytes is not None:
            self.on_bytes(len(data))
        try:
            raws = self._reader.feed(data)
        except MalformedFrame as exc:
            self._malformed(exc)
            return
        if self.version is None and self._reader.version is not None:
            self.version = self._reader.version
        for raw in raws:
            try:
                frame = parse_frame(raw)
            except MalformedFrame as exc:
                self._malformed(exc)
                continue
            first = frame.headers[0][0]
            if first == "Event" and self.on_event_frame is not None:
                if frame.get("ActionID") is None:
                    self.on_event_frame(frame)
                    continue
            elif self.on_response is not None and first.lower() == "response":
                action_id = frame.get("ActionID")
                if action_id is not None:
                    self.on_response(action_id)
            self.handle_message(to_message(frame))

    def send(self, data: Any, as_list: bool | None = False) -> Any:
        """panoramisk's `send`, but serialized here: always CRLF (whatever
        `panoramisk.utils.EOL` was set to), `Action` first, and no value may carry a line
        break (a caller-controlled value must never inject an AMI header)."""
        if not isinstance(data, actions.Action):
            klass = actions.Command if "Command" in data else actions.Action
            data = klass(data, as_list=as_list)
        data.as_list = as_list
        wire = serialize_action(data)  # raises before the action is registered
        self.responses[data.id] = data
        if data.action_id:
            self.responses[data.action_id] = data
        self.transport.write(wire)
        return data.future

    def connection_lost(self, exc: BaseException | None) -> None:
        # panoramisk forgets some pending actions (Ping, Login, partly answered lists)
        # and parks the rest for re-sending; every one of them fails here instead
        pending = list({id(a): a for a in self.responses.values()}.values())
        super().connection_lost(exc)
        for action in pending:
            if not action.future.done():
                action.future.set_exception(
                    ConnectionLostDuringAction(
                        f"connection lost before the reply to {action.get('action')}"
                    )
                )

    def _malformed(self, exc: MalformedFrame) -> None:
        log.warning("AMI: skipped a malformed frame (%s): %r", exc.reason, exc.raw[:500])
        if self.on_malformed is not None:
            self.on_malformed(exc)
