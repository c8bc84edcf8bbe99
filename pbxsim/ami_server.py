"""The AMI server: one session per TCP connection, as Asterisk's `session_do` runs it.

What a session does, in Asterisk's order (main/manager.c `process_message`):

1. The banner ``Asterisk Call Manager/11.0.0`` on its own line, no blank line after.
2. For each message: no non-empty ``Action`` -> ``Missing action in request``; not logged
   in and the action is not Login, Logoff or Challenge -> ``Permission denied``; Login
   of a user already connected whose ``allowmultiplelogin`` is off -> 1 s pause, ``Login
   Already In Use``, close; unknown action -> ``Invalid/unknown command: X. Use Action:
   ListCommands to show available commands.``; the user lacks the action's write class
   -> ``Permission denied``; otherwise the handler runs.
3. Login: wrong user or secret -> 1 s pause (`Scheduler.sleep`), ``Authentication
   failed``, close. Success -> ``Authentication accepted`` then, if the session takes
   `system` events, ``FullyBooted`` with Uptime/LastReload. The ``Events`` header sets
   the session's event mask exactly as `strings_to_mask` does (``on``, ``off``, a class
   list, or a number).
4. Logoff -> ``Goodbye`` / ``Thanks for all the fish.`` and close, logged in or not.
5. Events reach a logged-in session when it may read the event's class (``read=``) and
   has it in its mask. They are broadcast with ``Privilege``, rebuilt from the class
   bits in Asterisk's order plus ``all`` (`authority_to_str`). Events emitted while a
   message is being handled are written after its response, as Asterisk's session
   thread does when it flushes its queue after each action.
6. An unauthenticated session is dropped after `authtimeout` (30 s) without a word, and
   a connection beyond `authlimit` (50) not-yet-logged-in sessions is closed before
   the banner.

Handlers live in an `ActionRegistry` (manager_api.py): this module owns only the actions
that change the session itself (Login, Logoff, Events, Challenge). A handler may return
an awaitable instead of its messages (a synchronous Originate answers when the call
is decided); the session then reads nothing more until it resolves, as in Asterisk.

Slow readers. Asterisk writes events from the session thread with a write timeout
(`writetimeout`, 100 ms of no progress); when it expires the write fails and the session
is closed. Events are never dropped silently. pbxsim never blocks on a client: bytes go
to the transport at once, and a client that has more than `max_output_bytes` unread
(on top of what the kernel buffers) is disconnected the same way. The bound is in bytes,
not time, so it does not shrink when the scheduler runs faster than real time; the
outcome is Asterisk's (the stuck client is disconnected, everyone else is unaffected).
Input from a client is not read while its own replies exceed `high_water` bytes, so a
client that floods actions without reading is paced by TCP instead of filling memory.

`timestampevents=True` adds ``Timestamp: <simulated time, 6 decimals>`` right after
``Privilege``, as manager.c does.

Not implemented: AMI over HTTP, TLS, event filters (`eventfilter`),
`displayconnects` logging, the ACL (`permit`/`deny`), and ListCommands.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from pbxsim.clock import Scheduler
from pbxsim.events import EVENT_CLASSES, AmiEvent, EventBus
from pbxsim.manager_api import (
    ActionError,
    ActionRegistry,
    CliRegistry,
    Message,
    Request,
    error,
    response,
)
from pbxsim.wire import BANNER, ClientMessage, MessageReader, encode_message

log = logging.getLogger(__name__)

#: EVENT_FLAG_* bits, in manager.c `perms[]` order (also `events.EVENT_CLASSES` order)
CLASS_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(EVENT_CLASSES)}
ALL = 0x7FFFFFFF  # INT_MAX, the "all" alias
_PERMS: tuple[tuple[str, int], ...] = (*CLASS_BITS.items(), ("all", ALL), ("none", 0))
_TRUE = ("yes", "true", "y", "t", "1", "on")
_FALSE = ("no", "false", "n", "f", "0", "off")


def _instring(bigstr: str, smallstr: str) -> bool:
    """manager.c `ast_instring(bigstr, smallstr, ',')`, quirks included: every token but
    the last is compared on the token's own length only, so an empty token or a prefix
    ("c") matches a class name."""
    val = bigstr
    while True:
        comma = val.find(",")
        if comma < 0:
            return smallstr == val
        # strncmp(val, smallstr, comma): equal on the token's length, smallstr not shorter
        if len(smallstr) >= comma and smallstr[:comma] == val[:comma]:
            return True
        val = val[comma + 1 :]
        if not val:
            return False


def get_perm(instr: str) -> int:
    """A manager.conf ``read=``/``write=`` value (or an Events header) as class bits."""
    ret = 0
    for label, num in _PERMS:
        if _instring(instr, label):
            ret |= num
    return ret


def strings_to_mask(value: str) -> int:
    """manager.c `strings_to_mask`: -1 (leave the mask alone) for "", a number as is,
    false words -> 0, true words -> all, anything else -> `get_perm`."""
    if not value:
        return -1
    if value.isascii() and value.isdigit():
        number = min(int(value), 2**63 - 1) & 0xFFFFFFFF  # atoi(): long, then int
        return number - 2**32 if number >= 2**31 else number
    if value.lower() in _FALSE:
        return 0
    if value.lower() in _TRUE:
        return ALL
    return get_perm(value)


def event_category(event: AmiEvent) -> int:
    return get_perm(event.privilege)


@dataclass(frozen=True, slots=True)
class ManagerUser:
    """One manager.conf user section."""

    secret: str
    read: str = "all"
    write: str = "all"
    allow_multiple_login: bool = True

    @property
    def readperm(self) -> int:
        return get_perm(self.read)

    @property
    def writeperm(self) -> int:
        return get_perm(self.write)


UserSpec = ManagerUser | tuple[str, str | Iterable[str], str | Iterable[str]]


def users_from_manager_conf(text: str) -> dict[str, ManagerUser]:
    """The users of a manager.conf: every section but ``[general]`` that has a secret.

    Only what pbxsim uses is read: ``secret``, ``read``, ``write`` (the last line wins,
    as in Asterisk) and ``allowmultiplelogin`` (``[general]`` default, user override).
    """
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            name = line[1 : line.index("]")] if "]" in line else line[1:]
            current = sections.setdefault(name, {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip().lower()] = value.lstrip(">").strip()
    general = sections.get("general", {})
    default_multiple = general.get("allowmultiplelogin", "yes").lower() in _TRUE
    users: dict[str, ManagerUser] = {}
    for name, conf in sections.items():
        if name == "general" or "secret" not in conf:
            continue
        multiple = conf.get("allowmultiplelogin")
        users[name] = ManagerUser(
            conf["secret"],
            conf.get("read", ""),
            conf.get("write", ""),
            default_multiple if multiple is None else multiple.lower() in _TRUE,
        )
    return users


def _as_user(spec: UserSpec) -> ManagerUser:
    if isinstance(spec, ManagerUser):
        return spec
    secret, read, write = spec
    read_s = read if isinstance(read, str) else ",".join(read)
    write_s = write if isinstance(write, str) else ",".join(write)
    return ManagerUser(secret, read_s, write_s)


@dataclass(slots=True)
class SessionStats:
    sessions_opened: int = 0
    sessions_shed: int = 0
    actions: int = 0
    events_written: int = 0


class AmiSession:
    """One connection. Reading and running actions is a coroutine; writing never awaits."""

    def __init__(
        self,
        server: AmiServer,
        session_id: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.id = session_id
        self._reader = reader
        self._writer = writer
        self.authenticated = False
        self.username = ""
        self.readperm = 0
        self.writeperm = 0
        self.send_events = -1  # all, until Login/Events narrow it
        self.challenge = ""
        self.closed = False
        self.shed = False
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._loop = asyncio.get_running_loop()  # the bus may emit from a plain callback

    # ------------------------------------------------------------------ output

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        transport = self._writer.transport
        transport.write(data)
        if transport.get_write_buffer_size() > self.server.max_output_bytes:
            self._shed()

    def send(self, message: Message) -> None:
        self.write(encode_message(message))

    def _shed(self) -> None:
        log.warning(
            "AMI session %d (%s) stopped reading: disconnected with %d bytes unsent",
            self.id,
            self.username or "not logged in",
            self._writer.transport.get_write_buffer_size(),
        )
        self.shed = True
        self.server.stats.sessions_shed += 1
        self.abort()

    def queue_event(self, data: bytes) -> None:
        """Called from the bus (synchronously): defer the write to the next loop turn so a
        response being built right now goes out first."""
        if self.closed:
            return
        self._pending.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush_events)

    def flush_events(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self.server.stats.events_written += len(pending)
        self.write(b"".join(pending))

    def wants(self, category: int) -> bool:
        return (
            self.authenticated
            and (self.readperm & category) == category
            and (self.send_events & category) == category
        )

    def close(self) -> None:
        """Close after what has been written is sent (Logoff, failed Login)."""
        if not self.closed:
            self.closed = True
            self._pending.clear()
            self._writer.close()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._pending.clear()
            self._writer.transport.abort()

    # ------------------------------------------------------------------ input

    async def run(self) -> None:
        reader = MessageReader()
        auth_timer = self.server.scheduler.call_later(self.server.authtimeout, self._auth_expired)
        try:
            self.write(BANNER)
            while not self.closed:
                data = await self._reader.read(65536)
                if not data:
                    break
                for message in reader.feed(data):
                    if self.closed:
                        break
                    await self.process(message)
                    # pace a client that sends faster than it reads its replies
                    if (
                        not self.closed
                        and self._writer.transport.get_write_buffer_size() > self.server.high_water
                    ):
                        await self._writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            auth_timer.cancel()
            if self.shed:
                self.abort()
            else:
                self.close()

    def _auth_expired(self) -> None:
        if not self.authenticated and not self.closed:
            self.abort()

    async def process(self, message: ClientMessage) -> None:
        server = self.server
        server.stats.actions += 1
        request = message.to_request(self.id)
        if message.error is not None:
            self.send(error(request, message.error))
            return
        action = message.get("Action", skip_empty=True)
        if not action:
            self.send(error(request, "Missing action in request"))
            return
        lowered = action.lower()
        if not self.authenticated and lowered not in ("login", "logoff", "challenge"):
            self.send(error(request, "Permission denied"))
            return
        if not self.authenticated and lowered in ("login", "challenge"):
            username = message.get("Username")
            user = server.find_user(username) if username else None
            if user is not None and not user.allow_multiple_login and server.in_use(username):
                await server.scheduler.sleep(1.0)
                self.send(error(request, "Login Already In Use"))
                self.close()
                return
        if lowered == "login":
            await self._login(message, request)
        elif lowered == "logoff":
            self.send(response(request, "Thanks for all the fish.", status="Goodbye"))
            self.close()
        elif lowered == "challenge":
            self._challenge(message, request)
        elif lowered == "events":
            self._events(message, request)
        else:
            await self._dispatch(action, request)

    async def _dispatch(self, action: str, request: Request) -> None:
        found = self.server.registry.lookup(action)
        if found is None:
            text = (
                f"Invalid/unknown command: {action}. "
                "Use Action: ListCommands to show available commands."
            )
            self.send(error(request, _c_truncate(text, 511)))
            return
        authority = get_perm(found.privilege) if found.privilege else 0
        if authority and not (self.writeperm & authority):
            self.send(error(request, "Permission denied"))
            return
        try:
            result: object = found.handler(request)
            if inspect.isawaitable(result):
                # A handler may answer later (a synchronous Originate): like Asterisk's
                # session thread, this session reads nothing more until it has.
                result = await result
            messages = cast(list[Message], result)
        except ActionError as exc:
            messages = [error(request, exc.message)]
        except Exception as exc:  # a bug in pbxsim: say so on the wire, keep serving
            log.exception("AMI action %s failed", action)
            messages = [error(request, f"pbxsim internal error in {action}: {exc!r}")]
        for message in messages:
            self.send(message)

    async def _login(self, message: ClientMessage, request: Request) -> None:
        server = self.server
        if self.authenticated:
            self.send(response(request, "Already authenticated"))
            return
        user = self._authenticate(message)
        if user is None:
            await server.scheduler.sleep(1.0)
            self.send(error(request, "Authentication failed"))
            self.close()
            return
        self.authenticated = True
        self.username = message.get("Username")
        self.readperm = user.readperm
        self.writeperm = user.writeperm
        mask = strings_to_mask(message.get("Events"))
        if mask >= 0:
            self.send_events = mask
        self.send(response(request, "Authentication accepted"))
        system = CLASS_BITS["system"]
        if self.send_events & system and self.readperm & system:
            now = server.scheduler.now()
            uptime = int(now - server.boot_time) if server.boot_time else 0
            reload = int(now - server.reload_time) if server.reload_time else 0
            self.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", str(uptime)),
                    ("LastReload", str(reload)),
                    ("Status", "Fully Booted"),
                ]
            )

    def _authenticate(self, message: ClientMessage) -> ManagerUser | None:
        username = message.get("Username")
        if not username:
            return None
        user = self.server.find_user(username)
        if user is None:
            return None
        if message.get("AuthType").lower() == "md5":
            key = message.get("Key")
            if not key or not self.challenge:
                return None
            digest = hashlib.md5((self.challenge + user.secret).encode()).hexdigest()
            return user if digest == key else None
        return user if message.get("Secret") == user.secret else None

    def _challenge(self, message: ClientMessage, request: Request) -> None:
        if message.get("AuthType").lower() != "md5":
            self.send(error(request, "Must specify AuthType"))
            return
        if not self.challenge:
            self.challenge = str(self.server.rng.randrange(0, 2**31))  # ast_random(): long
        self.send(response(request, None, extra=[("Challenge", self.challenge)]))

    def _events(self, message: ClientMessage, request: Request) -> None:
        mask = strings_to_mask(message.get("EventMask"))
        if mask >= 0:
            self.send_events = mask
        if mask > 0:
            self.send(response(request, None, extra=[("Events", "On")]))
        elif mask == 0:
            self.send(response(request, None, extra=[("Events", "Off")]))
        else:
            self.send(error(request, "Invalid event mask"))


def _c_truncate(text: str, limit: int) -> str:
    """snprintf into a `char buf[limit + 1]`: at most `limit` bytes survive."""
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "surrogateescape")


class AmiServer:
    """`AmiServer(scheduler, bus, registry, users, cli)`; `await start()`, `.port`, `await
    stop()`. `users` maps a user name to a `ManagerUser` or `(secret, read, write)`."""

    def __init__(
        self,
        scheduler: Scheduler,
        bus: EventBus,
        registry: ActionRegistry,
        users: Mapping[str, UserSpec],
        cli: CliRegistry | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 5038,
        boot_time: float | None = None,
        reload_time: float | None = None,
        authtimeout: float = 30.0,
        authlimit: int = 50,
        timestampevents: bool = False,
        max_output_bytes: int = 4 * 1024 * 1024,
        high_water: int = 256 * 1024,
        rng: random.Random | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.bus = bus
        self.registry = registry
        self.cli = cli if cli is not None else CliRegistry()
        self.users = {name.lower(): _as_user(spec) for name, spec in users.items()}
        self.host = host
        self._requested_port = port
        self.boot_time = scheduler.now() if boot_time is None else boot_time
        self.reload_time = self.boot_time if reload_time is None else reload_time
        self.authtimeout = authtimeout
        self.authlimit = authlimit
        self.timestampevents = timestampevents
        self.max_output_bytes = max_output_bytes
        self.high_water = high_water
        self.rng = rng if rng is not None else random.Random(0)
        self.sessions: dict[int, AmiSession] = {}
        self.stats = SessionStats()
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = bus.subscribe(self._on_event)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AMI server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._unsubscribe()
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions.values()):
            session.abort()  # their read() then returns and each session task ends
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AmiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unauthenticated = sum(1 for s in self.sessions.values() if not s.authenticated)
        if unauthenticated >= self.authlimit:
            writer.transport.abort()  # session_do: "goto done", no banner
            return
        session = AmiSession(self, next(self._ids), reader, writer)
        self.sessions[session.id] = session
        self.stats.sessions_opened += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            self.sessions.pop(session.id, None)
            if task is not None:
                self._tasks.discard(task)

    # ------------------------------------------------------------------ helpers

    def find_user(self, username: str) -> ManagerUser | None:
        return self.users.get(username.lower())  # strcasecmp in get_manager_by_name_locked

    def in_use(self, username: str) -> bool:
        lname = username.lower()
        return any(s.authenticated and s.username.lower() == lname for s in self.sessions.values())

    def _on_event(self, event: AmiEvent) -> None:
        if not self.sessions:
            return
        category = event_category(event)
        data: bytes | None = None
        for session in list(self.sessions.values()):
            if session.wants(category):
                if data is None:
                    stamp = self.scheduler.now() if self.timestampevents else None
                    data = encode_message(_event_fields(event, category, stamp))
                session.queue_event(data)


def authority_to_str(authority: int) -> str:
    """manager.c `authority_to_str`: class names in `perms[]` order, then "all" (every
    non-zero mask intersects INT_MAX); "<none>" for 0."""
    labels = [label for label, num in _PERMS[:-1] if authority & num]
    return ",".join(labels) if labels else "<none>"


def _event_fields(
    event: AmiEvent, category: int, timestamp: float | None = None
) -> list[tuple[str, str]]:
    """The broadcast form of `event`: ``Privilege`` rebuilt from the class bits as
    Asterisk does, so "reporting,call" is written "call,reporting,all"; then the
    ``Timestamp`` of `timestampevents`."""
    fields = [("Event", event.name), ("Privilege", authority_to_str(category))]
    if timestamp is not None:
        fields.append(("Timestamp", f"{timestamp:.6f}"))
    return [*fields, *event.fields]
