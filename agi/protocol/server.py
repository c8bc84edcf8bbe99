"""The FastAGI listener: accept, admit, read the environment, route, run, close.

Admission comes first and costs nothing: a PBX address outside the allow-list, or a
connection beyond `max_sessions` (in all) or `max_sessions_per_peer` (from its address),
is closed at once without reading a byte. Closing is the right refusal: the dialplan
sees no `HOTLINE_ROUTED` and queues the caller itself (AstDB map, then the general
queue), whereas accepting and queueing callers behind a saturated server would make them
wait in silence.

Idle connections cannot hold places: a connection has `env_timeout_s` to send its
environment, and when the server (or the peer's share) is full, a connection that has
sent nothing for `STALE_ENV_S` yields its place to the new one. Asterisk writes the
environment the moment it connects, so a real call is never the one that yields; a peer
that opens silent connections (a scanner, an attack, from the PBX's own address too)
only displaces its own.

Whatever a session does, the socket is closed in the end, and no exception escapes into
asyncio's "unhandled exception" log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from agi.protocol.env import AgiEnv, EnvError
from agi.protocol.errors import AgiCommandError, AgiHangup, AgiProtocolError
from agi.protocol.metrics import AgiMetrics
from agi.protocol.session import AgiConnection, AgiSession

log = logging.getLogger(__name__)

#: a connection silent this long has no call behind it (res_agi sends its environment
#: as soon as it connects): it gives its place to a new connection when the server is full
STALE_ENV_S = 0.5

Handler = Callable[[AgiSession], Awaitable[None]]


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback unless told otherwise: AGI has no authentication
    port: int = 4573
    max_sessions: int = 500
    #: concurrent sessions from one address: no single peer can take every place
    max_sessions_per_peer: int = 200
    #: time a connection has to send its whole environment (Asterisk sends it at once)
    env_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    #: PBX addresses or networks allowed to connect; empty: anyone who can reach the port
    allowed_peers: tuple[str, ...] = ()


def parse_networks(
    entries: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Allow-list entries (`10.0.0.5`, `10.0.0.0/24`, `::1`); ValueError names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"AGI allow-list entry {entry!r}: {exc}") from exc
    return tuple(networks)


class FastAgiServer:
    def __init__(
        self,
        routes: Mapping[str, Handler],
        config: ServerConfig,
        metrics: AgiMetrics | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.config = config
        self.metrics = metrics
        self._allowed = parse_networks(config.allowed_peers)
        self._server: asyncio.Server | None = None
        self._connections: set[AgiConnection] = set()
        #: admitted connections by peer address, and when each was admitted
        self._by_peer: dict[str, dict[AgiConnection, float]] = {}
        self._peer_of: dict[AgiConnection, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.TimerHandle | None = None
        self.refused = 0

    @property
    def active(self) -> int:
        """Connections admitted and not yet closed (reading the environment or running)."""
        return len(self._connections)

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0 in tests)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("FastAGI server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            self.config.host,
            self.config.port,
            backlog=max(100, self.config.max_sessions),
        )
        self._tick()
        log.info("FastAGI on %s:%s (routes: %s)", self.config.host, self.port, sorted(self.routes))

    def _tick(self) -> None:
        """Enforce every connection's read deadline (see `Watchdog`), a few times per
        shortest timeout; deadlines are therefore honoured within one tick."""
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        for connection in list(self._connections):
            if connection.watchdog is not None:
                connection.watchdog.check(now)
        self._ticker = loop.call_later(self._tick_s, self._tick)

    @property
    def _tick_s(self) -> float:
        shortest = min(self.config.env_timeout_s, self.config.read_timeout_s)
        return min(0.25, max(0.01, shortest / 5))

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop accepting; give running sessions `grace_s` to finish, then cancel them."""
        if self._server is not None:
            self._server.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=grace_s)
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.abort()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    # --- per connection --------------------------------------------------------------
    def _protocol(self) -> AgiConnection:
        return _Admitted(self)

    def _admit(self, connection: AgiConnection, transport: asyncio.BaseTransport) -> bool:
        """At accept time, before a byte is read: allow-list, then capacity (in all and
        for the peer's address), where a stale silent connection yields its place."""
        address = _address(transport)
        outcome = ""
        if self._allowed and not self._peer_allowed(address):
            log.warning("FastAGI: refused %s (not in the allow-list)", _peer(transport))
            outcome = "refused_peer"
        elif not self._make_room(address):
            outcome = "refused_full"
        if outcome:
            self.refused += 1
            if self.metrics is not None:
                self.metrics.session_done("", outcome)
            connection.refused = True
            transport.close()
            return False
        self._connections.add(connection)
        self._by_peer.setdefault(address, {})[connection] = time.monotonic()
        self._peer_of[connection] = address
        if self.metrics is not None:
            self.metrics.session_started()
        return True

    def _make_room(self, address: str) -> bool:
        """True if a new connection from `address` fits, after evicting at most one
        connection that has been silent for `STALE_ENV_S` (the peer's own first)."""
        mine = self._by_peer.get(address, {})
        per_peer = self.config.max_sessions_per_peer
        if len(mine) >= per_peer:
            if self._evict_stale(mine):
                return True
            log.warning("FastAGI: %s has %d sessions (per-peer cap), refusing", address, per_peer)
            return False
        if len(self._connections) >= self.config.max_sessions:
            if self._evict_stale(mine) or any(
                self._evict_stale(others) for others in self._by_peer.values()
            ):
                return True
            log.warning("FastAGI: %d sessions running, refusing a new one", self.active)
            return False
        return True

    def _evict_stale(self, admitted: dict[AgiConnection, float]) -> bool:
        """Abort the oldest connection in `admitted` that sent no environment within
        `STALE_ENV_S`; False if there is none."""
        cutoff = time.monotonic() - STALE_ENV_S
        for connection, since in admitted.items():  # in admission order: oldest first
            if since > cutoff:
                return False
            if not connection.env_received:
                log.warning(
                    "FastAGI: %s sent no environment in %.1f s; its place goes to a new one",
                    _peer(connection.transport),
                    time.monotonic() - since,
                )
                self._release(connection)
                connection.refused = True  # its end reports nothing more
                if connection.transport is not None:
                    connection.transport.abort()
                if self.metrics is not None:
                    self.metrics.session_done("", "evicted_idle")
                return True
        return False

    def _release(self, connection: AgiConnection) -> None:
        """Forget an admitted connection (once, whichever way it ends)."""
        if connection not in self._connections:
            return
        self._connections.discard(connection)
        address = self._peer_of.pop(connection, "")
        mine = self._by_peer.get(address)
        if mine is not None:
            mine.pop(connection, None)
            if not mine:
                del self._by_peer[address]
        if self.metrics is not None:
            self.metrics.session_ended()

    def _peer_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._allowed)

    def _on_env(self, connection: AgiConnection, env: AgiEnv | EnvError) -> None:
        if isinstance(env, EnvError):
            log.warning("FastAGI: bad environment from %s: %s", _peer(connection.transport), env)
            self._finish(connection, "", "bad_env")
            return
        handler = self.routes.get(env.script)
        if handler is None:
            log.warning("FastAGI: no route %r (request %s)", env.script, env.request)
            self._finish(connection, "", "unknown_route")
            return
        observe = self.metrics.observe_command if self.metrics is not None else None
        session = AgiSession(
            connection, env, read_timeout=self.config.read_timeout_s, observe=observe
        )
        connection.session = session
        task = asyncio.get_running_loop().create_task(self._run(connection, session, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, connection: AgiConnection, session: AgiSession, handler: Handler) -> None:
        route, outcome = session.env.script, "error"
        try:
            await handler(session)
            outcome = "hangup" if session.hungup else "ok"
        except AgiHangup:
            outcome = "hangup"
        except AgiProtocolError as exc:
            outcome = "protocol_error"
            log.warning("FastAGI %s: %s", route, exc)
        except AgiCommandError as exc:
            outcome = "command_error"
            log.error("FastAGI %s: Asterisk refused %s", route, exc)
        except asyncio.CancelledError:
            # stop() cancelled it; this is the task's top frame: end it quietly
            log.info("FastAGI %s: session cancelled at shutdown", route)
        except Exception:
            log.exception("FastAGI %s: handler failed", route)
        finally:
            self._finish(connection, route, outcome)

    def _finish(self, connection: AgiConnection, route: str, outcome: str) -> None:
        self._release(connection)
        if self.metrics is not None:
            self.metrics.session_done(route, outcome)
        if connection.watchdog is not None:
            connection.watchdog.close()
        if connection.transport is not None:
            connection.transport.close()


class _Admitted(AgiConnection):
    """An AgiConnection that asks the server for admission when accepted."""

    def __init__(self, server: FastAgiServer) -> None:
        super().__init__(server._on_env, server.config.env_timeout_s)
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._server._admit(self, transport):
            super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._server._release(self)  # closed before its session started


def _address(transport: asyncio.BaseTransport) -> str:
    """The peer's IP address as text (an IPv4-mapped IPv6 address as IPv4); "" if none."""
    peer = transport.get_extra_info("peername")
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _peer(transport: asyncio.BaseTransport | None) -> str:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
