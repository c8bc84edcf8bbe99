"""The FastAGI listener: accept, admit, read the environment, route, run, close.

Admission comes first and costs nothing: a PBX address outside the allow-list, or a
connection beyond `max_sessions`, is closed at once without reading a byte. Closing is
the right refusal: the dialplan sees no `HOTLINE_ROUTED` and queues the caller itself
(AstDB map, then the general queue), whereas accepting and queueing callers behind a
saturated server would make them wait in silence.

Whatever a session does, the socket is closed in the end, and no exception escapes into
asyncio's "unhandled exception" log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agi.errors import AgiCommandError, AgiHangup, AgiProtocolError
from agi.metrics import AgiMetrics
from agi.protocol.env import MAX_LINE_BYTES, EnvError
from agi.protocol.session import AgiSession, read_env

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback unless told otherwise: AGI has no authentication
    port: int = 4573
    max_sessions: int = 500
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
        self._tasks: set[asyncio.Task[Any]] = set()
        self.refused = 0

    @property
    def active(self) -> int:
        return len(self._tasks)

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
        self._server = await asyncio.start_server(
            self._accept,
            self.config.host,
            self.config.port,
            limit=MAX_LINE_BYTES * 2,
            backlog=max(100, self.config.max_sessions),
        )
        log.info("FastAGI on %s:%s (routes: %s)", self.config.host, self.port, sorted(self.routes))

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
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    # --- per connection --------------------------------------------------------------
    def _peer_allowed(self, writer: asyncio.StreamWriter) -> bool:
        if not self._allowed:
            return True
        peer = writer.get_extra_info("peername")
        try:
            address = ipaddress.ip_address(peer[0])
        except (TypeError, ValueError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._allowed)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._peer_allowed(writer):
            log.warning("FastAGI: refused %s (not in the allow-list)", _peer(writer))
            self._refuse(writer, "refused_peer")
            return
        if len(self._tasks) >= self.config.max_sessions:
            log.warning("FastAGI: %d sessions running, refusing a new one", len(self._tasks))
            self._refuse(writer, "refused_full")
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        if self.metrics is not None:
            self.metrics.active.inc()
        try:
            await self._session(reader, writer)
        except asyncio.CancelledError:
            # stop() cancelled it; this is the connection task's top frame, and letting
            # the cancellation out makes asyncio's stream callback log it as an error
            log.info("FastAGI: session cancelled at shutdown")
        finally:
            self._tasks.discard(task)
            if self.metrics is not None:
                self.metrics.active.dec()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _refuse(self, writer: asyncio.StreamWriter, outcome: str) -> None:
        self.refused += 1
        if self.metrics is not None:
            self.metrics.session_done("", outcome)
        writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        route, outcome = "", "error"
        try:
            env = await read_env(reader, self.config.env_timeout_s)
            route = env.script
            handler = self.routes.get(route)
            if handler is None:
                outcome = "unknown_route"
                log.warning("FastAGI: no route %r (request %s)", route, env.request)
                return
            observe = self.metrics.observe_command if self.metrics is not None else None
            session = AgiSession(
                reader, writer, env, read_timeout=self.config.read_timeout_s, observe=observe
            )
            await handler(session)
            outcome = "hangup" if session.hungup else "ok"
        except EnvError as exc:
            outcome = "bad_env"
            log.warning("FastAGI: bad environment from %s: %s", _peer(writer), exc)
        except AgiHangup:
            outcome = "hangup"
        except AgiProtocolError as exc:
            outcome = "protocol_error"
            log.warning("FastAGI %s: %s", route, exc)
        except AgiCommandError as exc:
            outcome = "command_error"
            log.error("FastAGI %s: Asterisk refused %s", route, exc)
        except asyncio.CancelledError:
            outcome = "error"
            raise
        except Exception:
            log.exception("FastAGI %s: handler failed", route)
        finally:
            if self.metrics is not None:
                # unknown scripts are not labels: a scanner must not grow the registry
                self.metrics.session_done(route if route in self.routes else "", outcome)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
