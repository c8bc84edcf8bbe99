"""AMI events as the simulator produces them, and the bus that fans them out.

An event is its name, its class (the `Privilege` header: `call`, `agent`, `dialplan`,
`dtmf`, `cdr`, `system`, ...) and an *ordered* list of fields: the order is part of the
wire contract (reference/asterisk-protocol.md §1.5), so fields are never a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Fields = list[tuple[str, str]]

#: every event class a manager.conf `read=` line may name
EVENT_CLASSES = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)


@dataclass(frozen=True, slots=True)
class AmiEvent:
    name: str
    privilege: str
    fields: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.fields:
            if k.lower() == key.lower():
                return v
        return default

    def encode(self, action_id: str | None = None, broadcast: bool = True) -> bytes:
        """Wire bytes. Broadcast events carry `Privilege`; list items carry the ActionID
        at the end instead (that is where Asterisk puts it)."""
        lines = [f"Event: {self.name}"]
        if broadcast:
            lines.append(f"Privilege: {self.privilege},all")
        lines.extend(f"{k}: {v}" for k, v in self.fields)
        if action_id is not None:
            lines.append(f"ActionID: {action_id}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


Subscriber = Callable[[AmiEvent], None]


class EventBus:
    """Synchronous fan-out. Subscribers must not block: the AMI server queues per client."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.emitted = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def emit(self, name: str, privilege: str, fields: Iterable[tuple[str, str]]) -> AmiEvent:
        event = AmiEvent(name, privilege, tuple(fields))
        self.emitted += 1
        for subscriber in list(self._subscribers):
            subscriber(event)
        return event

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)
