"""One Asterisk server reached over AMI: connect, log in, watch, reconnect.

panoramisk 1.4 provides the protocol (framing replaced, see protocol.py) and the action
futures with its list-reply logic. Its `Manager` is not used, because its connection
management is what has to be different for a PBX that carries a city's calls:

* a refused login is retried with capped exponential backoff and reported, not retried
  every few seconds forever while everything looks "connected";
* a peer that goes silent (no TCP reset) is caught by a ping whose *reply* is awaited;
* an action is sent once or fails: nothing is queued for re-sending after a reconnect
  (panoramisk re-sends unanswered actions on the next FullyBooted: a second Originate is
  a second phone call), and every action has a timeout.

Event lag: with `timestampevents = yes` (asterisk-conf's manager.conf sets it) every
event carries the PBX's wall-clock time of sending. The Ping reply carries it too, so
each ping also measures the PBX clock's offset from ours (NTP-style, from the midpoint
of the round trip); an event's lag is our receive time minus its corrected timestamp:
the time it spent in Asterisk's output queue, the network and our reader, without
trusting the two clocks to agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from panoramisk.actions import Action
from panoramisk.message import Message

from ami.backoff import Backoff
from ami.errors import (
    ActionFailed,
    ActionTimeout,
    ConnectionLostDuringAction,
    LoginFailed,
    NotConnected,
)
from ami.events import AmiEvent, EventParseError, parse_event
from ami.frames import Frame, MalformedFrame
from ami.protocol import AmiProtocol

log = logging.getLogger(__name__)


class LinkState(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    LOGIN_FAILED = "login_failed"
    UNREACHABLE = "unreachable"
    CONNECTED = "connected"  # logged in; the live model may still be resyncing


@dataclass(frozen=True)
class NodeConfig:
    name: str
    host: str
    port: int
    username: str
    secret: str
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    ping_interval: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class NodeListener(Protocol):
    """What the live state needs from a node. `on_event` runs inline in the reader, in
    wire order: it must not block (queue work elsewhere)."""

    async def on_connected(self, node: PbxNode) -> None: ...

    def on_event(self, node: PbxNode, event: AmiEvent) -> None: ...

    def on_disconnected(self, node: PbxNode, reason: str) -> None: ...

    def on_response(self, node: PbxNode, action_id: str) -> None:
        """A reply to `action_id` started, here in the event stream."""


@dataclass
class NodeStats:
    connects: int = 0
    disconnects: int = 0
    login_failures: int = 0
    events: int = 0
    malformed_frames: int = 0
    bytes_received: int = 0
    last_pong_rtt_s: float | None = None
    #: PBX wall clock minus ours, measured by the last Ping (None: no Timestamp seen)
    clock_offset_s: float | None = None
    #: lag of the last timestamped event, and the worst since the last ping
    event_lag_s: float | None = None
    event_lag_max_s: float | None = None
    _lag_window_max: float | None = None

    def lag(self, received_wall: float, stamp: float) -> None:
        lag = received_wall - (stamp - (self.clock_offset_s or 0.0))
        self.event_lag_s = lag
        if self._lag_window_max is None or lag > self._lag_window_max:
            self._lag_window_max = lag

    def ping_done(self, sent_wall: float, received_wall: float, stamp: float | None) -> None:
        if stamp is not None:
            self.clock_offset_s = stamp - (sent_wall + received_wall) / 2
        if self._lag_window_max is not None:
            self.event_lag_max_s = self._lag_window_max
        self._lag_window_max = None


class _Factory:
    """The object panoramisk's protocol reports to (its `factory`)."""

    forgetable_actions = ("ping", "login")

    def __init__(self, node: PbxNode) -> None:
        self._node = node
        self.awaiting_actions: deque[Action] = deque()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def dispatch(self, message: Message) -> None:
        self._node._dispatch(message)

    def connection_lost(self, exc: BaseException | None) -> None:
        # panoramisk moved unanswered actions here for re-sending: fail them instead
        while self.awaiting_actions:
            action = self.awaiting_actions.popleft()
            if not action.future.done():
                action.future.set_exception(
                    ConnectionLostDuringAction(
                        f"{self._node.name}: connection lost before the reply to "
                        f"{action.get('action')}"
                    )
                )
        if not self.lost.done():
            self.lost.set_result(None)


@dataclass
class PbxNode:
    config: NodeConfig
    listener: NodeListener
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    state: LinkState = LinkState.STOPPED
    detail: str = "not started"
    since: float = 0.0
    stats: NodeStats = field(default_factory=NodeStats)
    version: str | None = None

    def __post_init__(self) -> None:
        self._protocol: AmiProtocol | None = None
        self._factory: _Factory | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._abort_reason: str | None = None
        self._backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED and self._protocol is not None

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ami-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        self._drop("stopped")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state(LinkState.STOPPED, "stopped")

    def abort(self, reason: str) -> None:
        """Drop the connection now (the supervisor reconnects)."""
        log.warning("AMI %s: dropping the connection: %s", self.name, reason)
        self._abort_reason = reason
        self._drop(reason)

    def _drop(self, reason: str) -> None:
        protocol = self._protocol
        if protocol is not None and getattr(protocol, "transport", None) is not None:
            protocol.transport.abort()

    def _set_state(self, state: LinkState, detail: str) -> None:
        if state is not self.state or detail != self.detail:
            self.state, self.detail, self.since = state, detail, self.clock()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._session()
            except LoginFailed as exc:
                self.stats.login_failures += 1
                self._set_state(LinkState.LOGIN_FAILED, str(exc))
                log.error("AMI %s: %s", self.name, exc)
            except (OSError, TimeoutError, ConnectionLostDuringAction, ActionTimeout) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._set_state(LinkState.UNREACHABLE, reason)
                log.warning(
                    "AMI %s (%s:%s): %s", self.name, self.config.host, self.config.port, reason
                )
            if self._stopping:
                break
            delay = self._backoff.next_delay()
            log.info("AMI %s: reconnecting in %.1f s", self.name, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        cfg = self.config
        self._set_state(LinkState.CONNECTING, f"connecting to {cfg.host}:{cfg.port}")
        loop = asyncio.get_running_loop()
        factory = _Factory(self)
        self._abort_reason = None
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(AmiProtocol, cfg.host, cfg.port), cfg.connect_timeout
        )
        protocol.factory = factory
        protocol.encoding = "utf-8"
        protocol.log = log
        protocol.on_malformed = self._malformed
        protocol.on_bytes = self._bytes
        protocol.on_response = self._response
        protocol.on_event_frame = self._event_frame
        self._protocol, self._factory = protocol, factory
        try:
            await self._login(protocol)
            self.version = protocol.version
            self.stats.connects += 1
            self._backoff.reset()
            self._set_state(LinkState.CONNECTED, f"logged in (AMI {self.version})")
            log.info(
                "AMI %s: logged in to %s:%s (AMI %s)", self.name, cfg.host, cfg.port, self.version
            )
            watchdog = asyncio.create_task(self._watchdog())
            on_connected = asyncio.create_task(self.listener.on_connected(self))
            try:
                await factory.lost
            finally:
                for task in (watchdog, on_connected):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            raise ConnectionLostDuringAction(self._abort_reason or "connection closed by the peer")
        finally:
            self._protocol = None
            transport.abort()
            if self.stats.connects and self.state is LinkState.CONNECTED:
                self.stats.disconnects += 1
                self.listener.on_disconnected(
                    self, self._abort_reason or "connection closed by the peer"
                )

    async def _login(self, protocol: AmiProtocol) -> None:
        cfg = self.config
        future = protocol.send(
            {"Action": "Login", "Username": cfg.username, "Secret": cfg.secret, "Events": "on"},
            as_list=False,
        )
        # Asterisk answers a refused login only after sleeping a second
        reply = await asyncio.wait_for(future, cfg.action_timeout + 1.5)
        if not reply.success:
            raise LoginFailed(
                f"login as {cfg.username!r} refused: "
                f"{reply.get('Message') or reply.get('Response')}"
            )

    async def _watchdog(self) -> None:
        """A dead peer is noticed within two ping intervals: one to send, one to wait."""
        interval = self.config.ping_interval
        while True:
            await asyncio.sleep(interval)
            started, sent_wall = self.clock(), self.wall_clock()
            try:
                reply = await self.send({"Action": "Ping"}, timeout=interval)
            except ActionTimeout:
                self.abort(f"no reply to Ping within {interval:.1f} s")
                return
            except (NotConnected, ConnectionLostDuringAction):
                return
            self.stats.last_pong_rtt_s = self.clock() - started
            self.stats.ping_done(sent_wall, self.wall_clock(), _stamp(reply.get("Timestamp")))

    # --- events ----------------------------------------------------------------------
    def _bytes(self, n: int) -> None:
        self.stats.bytes_received += n

    def _response(self, action_id: str) -> None:
        self.listener.on_response(self, action_id)

    def _malformed(self, exc: MalformedFrame) -> None:
        self.stats.malformed_frames += 1

    def _dispatch(self, message: Message) -> None:
        frame = getattr(message, "frame", None)
        if frame is not None:
            self._event_frame(frame)

    def _event_frame(self, frame: Frame) -> None:
        try:
            event = parse_event(frame)
        except EventParseError as exc:
            self.stats.malformed_frames += 1
            log.warning(
                "AMI %s: skipped an unreadable event (%s): %r", self.name, exc, frame.headers
            )
            return
        self.stats.events += 1
        for key, value in frame.headers[1:4]:  # manager.c puts it after Privilege
            if key == "Timestamp":
                stamp = _stamp(value)
                if stamp is not None:
                    self.stats.lag(self.wall_clock(), stamp)
                break
        try:
            self.listener.on_event(self, event)
        except Exception:  # a bug in one consumer must not kill the reader
            log.exception("AMI %s: event handler failed on %s", self.name, event.name)

    # --- actions ---------------------------------------------------------------------
    async def send(
        self,
        action: dict[str, Any],
        *,
        timeout: float | None = None,
        as_list: bool | None = None,
        check: bool = True,
    ) -> Any:
        """Send one action and await its complete reply (a Message, or a list of them for
        list actions). Raises NotConnected without sending when not logged in."""
        protocol = self._protocol
        if protocol is None or self.state is not LinkState.CONNECTED:
            raise NotConnected(
                f"{self.name}: not connected ({self.detail}); {action.get('Action')} not sent"
            )
        name = str(action.get("Action"))
        future: Awaitable[Any] = protocol.send(dict(action), as_list=as_list)
        limit = self.config.action_timeout if timeout is None else timeout
        try:
            reply = await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise ActionTimeout(
                f"{self.name}: no complete reply to {name} within {limit:.1f} s"
            ) from None
        if check:
            first = reply[0] if isinstance(reply, list) else reply
            if first.get("Response") == "Error":
                raise ActionFailed(self.name, name, str(first.get("Message", "")))
        return reply


def _stamp(value: object) -> float | None:
    """An AMI `Timestamp` (seconds.microseconds since the epoch), or None."""
    try:
        stamp = float(str(value)) if value is not None else None
    except ValueError:
        return None
    return stamp if stamp is not None and math.isfinite(stamp) else None
