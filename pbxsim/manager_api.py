"""The contract between the AMI server and the parts that implement actions.

The server (`ami_server.py`) parses a client's message into a `Request`, looks the action
up in an `ActionRegistry` and writes back the messages the handler returns, in order.
Handlers live next to the state they act on: queue actions in `app_queue/`, channel
actions in `telephony/`, session and AstDB actions in `manager_actions.py`.

Where Asterisk puts the ActionID differs by message kind, and clients (panoramisk among
them) depend on it, so the helpers below place it; handlers never do it by hand:

* a response: right after `Response:`;
* a list item (`QueueMember`, `QueueEntry`, `DBGetResponse`, ...): last;
* a list's `...Complete` event: right after `Event:`;
* `OriginateResponse` (a broadcast event): right after `Privilege:` (first field).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pbxsim.events import Fields

Message = Fields  # one AMI message as ordered (key, value) lines, without the blank line


@dataclass(frozen=True, slots=True)
class Request:
    """One client message. Header names are case-insensitive, as in Asterisk."""

    headers: tuple[tuple[str, str], ...]
    session_id: int = 0

    @property
    def action(self) -> str:
        return self.get("Action") or ""

    @property
    def action_id(self) -> str | None:
        """Asterisk echoes an ActionID only when it is non-empty."""
        return self.get("ActionID") or None

    def get(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]


class ActionError(Exception):
    """Raised by a handler: the server answers `Response: Error` with this Message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def response(
    request: Request,
    message: str | None = None,
    *,
    status: str = "Success",
    extra: Iterable[tuple[str, str]] = (),
    extra_first: bool = False,
) -> Message:
    """`Response: <status>`, ActionID if the client sent one, then Message and/or extras.

    Some replies put their own fields before `Message` (`EventList: start`) and some have
    no Message at all (Ping, Getvar): `extra_first` and `message=None` cover both.
    """
    lines: Message = [("Response", status)]
    if request.action_id is not None:
        lines.append(("ActionID", request.action_id))
    extras = list(extra)
    if extra_first:
        lines.extend(extras)
    if message is not None:
        lines.append(("Message", message))
    if not extra_first:
        lines.extend(extras)
    return lines


def error(request: Request, message: str) -> Message:
    return response(request, message, status="Error")


def list_start(request: Request, message: str) -> Message:
    return response(request, message, extra=[("EventList", "start")], extra_first=True)


def list_item(request: Request, event: str, fields: Iterable[tuple[str, str]]) -> Message:
    lines: Message = [("Event", event), *fields]
    if request.action_id is not None:
        lines.append(("ActionID", request.action_id))
    return lines


def list_complete(
    request: Request, event: str, items: int, extra: Iterable[tuple[str, str]] = ()
) -> Message:
    lines: Message = [("Event", event)]
    if request.action_id is not None:
        lines.append(("ActionID", request.action_id))
    lines += [("EventList", "Complete"), ("ListItems", str(items)), *extra]
    return lines


def encode(message: Message) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in message) + "\r\n").encode()


#: a handler answers at once, or returns an awaitable when the reply has to wait (a
#: synchronous Originate): the session then waits, as Asterisk's session thread does
Handler = Callable[[Request], list[Message] | Awaitable[list[Message]]]


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    handler: Handler
    #: manager.conf `write=` class needed to run it ("" = any logged-in user)
    privilege: str = ""


class ActionRegistry:
    """Case-insensitive action table, filled by each part at start-up."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, name: str, handler: Handler, privilege: str = "") -> None:
        key = name.lower()
        if key in self._actions:
            raise ValueError(f"AMI action {name!r} registered twice")
        self._actions[key] = Action(name, handler, privilege)

    def lookup(self, name: str) -> Action | None:
        return self._actions.get(name.lower())

    def names(self) -> list[str]:
        return sorted(a.name for a in self._actions.values())


CliHandler = Callable[[list[str]], list[str]]


class CliRegistry:
    """CLI commands reachable through `Action: Command` (`queue show`, `core show channels`).

    Commands are matched on their leading words; the handler gets the remaining words and
    returns output lines. Unknown commands raise `KeyError`.
    """

    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], CliHandler] = {}

    def register(self, words: str, handler: CliHandler) -> None:
        self._commands[tuple(words.lower().split())] = handler

    def commands(self) -> list[tuple[str, ...]]:
        """The registered command word sequences (for help and "No such command")."""
        return sorted(self._commands)

    def run(self, command: str) -> list[str]:
        words = command.split()
        lowered = [w.lower() for w in words]
        for n in range(len(words), 0, -1):
            handler = self._commands.get(tuple(lowered[:n]))
            if handler is not None:
                return handler(words[n:])
        raise KeyError(command)
