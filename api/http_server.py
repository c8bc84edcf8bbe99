"""The HTTP server: uvicorn, with the two limits it lacks.

1,050 slow connections (each sending a request line a byte at a time) under a 1,024
open-file limit starved the service: /healthz timed out, accept() failed 306,000 times
("Too many open files", each a logged traceback) and the record writer could not open
its spool. uvicorn times out idle keep-alive connections but not a request head that
never completes, and it accepts connections until the process runs out of descriptors.
`GuardedH11Protocol` adds both:

- a connection whose request line and headers have not all arrived `header_timeout_s`
  after it opened (or after the first byte of a following request) is closed, and so
  is one still trickling a body `header_timeout_s` after it was answered without it;
- beyond `max_connections` open connections (WebSockets included) a new connection is
  answered 503 and closed at once, so the descriptors left are the service's own (the
  database, the spool, AMI, FastAGI).

`raise_file_limit` lifts the soft open-file limit to the hard one at start, and
`connection_cap` sizes the cap from what that leaves. The uvicorn options that fit are
set as well (`limit_concurrency`, `backlog`, `timeout_keep_alive`, the h11 head size).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from api import log_filters

log = logging.getLogger(__name__)

#: descriptors kept for the service itself: the database pool, the spool, AMI
#: connections, the demo's simulator, logs, imported modules; FastAGI's sessions are
#: added to it (`agi_max_sessions`)
FD_RESERVE = 128
#: never fewer than this, however low the file limit: the service is unusable without
MIN_CONNECTIONS = 32
#: bounds of the listen backlog (`accept_batch_for`)
MIN_ACCEPT_BATCH = 8
MAX_ACCEPT_BATCH = 1024
#: the soft limit asked for at start when the hard limit is higher (or unlimited)
WANTED_FILE_LIMIT = 65536
#: the largest request line plus headers (h11's default, stated: a longer head is a 400)
MAX_HEAD_BYTES = 16 * 1024
_REFUSED_BODY = b"too many open connections\n"
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 5\r\n\r\n%s"
    % (len(_REFUSED_BODY), _REFUSED_BODY)
)


@dataclass(frozen=True)
class ConnectionLimits:
    """The HTTP server's bounds.

    `accept_batch` is the listen backlog, which is also how many connections asyncio
    accepts in one go: each holds a descriptor until its protocol has refused it and
    the transport has closed it, a few loop turns later, so a few batches must fit in
    the descriptors reserved beyond the cap (`accept_batch_for`)."""

    max_connections: int
    header_timeout_s: float = 10.0
    keepalive_timeout_s: int = 5
    accept_batch: int = 64


def raise_file_limit(wanted: int = WANTED_FILE_LIMIT) -> int:
    """Lift the soft open-file limit towards `wanted`, within the hard limit; the soft
    limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return WANTED_FILE_LIMIT if soft == resource.RLIM_INFINITY else soft


def connection_cap(file_limit: int, reserved: int) -> int:
    """Open HTTP connections allowed: what the file limit leaves after `reserved`."""
    cap = file_limit - reserved
    if cap < MIN_CONNECTIONS:
        log.warning(
            "open-file limit %d leaves %d descriptors for HTTP after %d reserved: raise "
            "`ulimit -n`; allowing %d connections, accept() may fail under load",
            file_limit,
            cap,
            reserved,
            MIN_CONNECTIONS,
        )
        return MIN_CONNECTIONS
    return cap


def accept_batch_for(reserved: int) -> int:
    """The listen backlog that keeps accept() within the file limit: a quarter of the
    descriptors reserved beyond the cap, since refused connections of up to about four
    batches are open at once (accepted, refused, closing)."""
    return max(MIN_ACCEPT_BATCH, min(MAX_ACCEPT_BATCH, reserved // 4))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection cap; made for a
    server by `guarded_protocol` (uvicorn builds its protocol from a class)."""

    limits: ClassVar[ConnectionLimits]
    #: connections closed for a slow head, and refused at the cap (for tests and metrics)
    timed_out: ClassVar[int] = 0
    refused: ClassVar[int] = 0

    _head_timer: asyncio.TimerHandle | None = None
    _refused: bool = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            type(self).refused += 1
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_REFUSAL)
            transport.close()
            log.warning(
                "%d HTTP connections open (the cap): new connections are refused",
                len(self.connections),
            )
            return
        assert isinstance(transport, asyncio.Transport)
        super().connection_made(transport)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.SEND_BODY:  # idle after it: the keep-alive's
            self._watch_head()

    def _waiting(self) -> bool:
        """Waiting on the client: for a request head (its side IDLE), or for the rest of
        a body the app answered without reading (a 401, a 405)."""
        if self.transport.is_closing():
            return False
        their = self.conn.their_state
        return their is h11.IDLE or (their is h11.SEND_BODY and self.conn.our_state is h11.DONE)

    def _watch_head(self) -> None:
        """The deadline runs from the connection's start, from the first byte after a
        finished request, and from an answer given before the body was all in."""
        waiting = self._waiting()
        if waiting and self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._too_slow)
        elif not waiting:
            self._stop_head_timer()

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._waiting():
            type(self).timed_out += 1
            self.transport.close()

    def timeout_keep_alive_handler(self) -> None:
        self._stop_head_timer()
        super().timeout_keep_alive_handler()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """A protocol class bound to `limits`, with its own counters."""

    class Guarded(GuardedH11Protocol):
        pass

    Guarded.limits = limits
    return Guarded


def http_config(
    app: ASGIApp,
    limits: ConnectionLimits,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration with the limits, its loggers filtered (log_filters).

    `limit_concurrency` (503 beyond it) counts requests in progress and connections;
    one above the cap, so that it only ever bounds the requests: at the cap itself the
    connections admitted must still be served."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=guarded_protocol(limits),
        limit_concurrency=limits.max_connections + 1,
        backlog=min(limits.accept_batch, limits.max_connections),
        timeout_keep_alive=limits.keepalive_timeout_s,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        **options,
    )
    log_filters.install()
    return config


def protocol_of(config: uvicorn.Config) -> type[GuardedH11Protocol]:
    """The protocol class `http_config` made for this configuration."""
    protocol = config.http
    assert isinstance(protocol, type) and issubclass(protocol, GuardedH11Protocol)
    return protocol


class HttpCollector(Collector):
    """The server's connections for /metrics: open, the cap, refused, timed out."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.protocol = protocol_of(server.config)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "callcenter_http_connections",
            "Open HTTP connections (WebSockets included)",
            value=len(self.server.server_state.connections),
        )
        yield GaugeMetricFamily(
            "callcenter_http_max_connections",
            "Open HTTP connections beyond which new ones are refused",
            value=self.protocol.limits.max_connections,
        )
        yield CounterMetricFamily(
            "callcenter_http_refused_connections",
            "HTTP connections refused at the cap",
            value=self.protocol.refused,
        )
        yield CounterMetricFamily(
            "callcenter_http_header_timeouts",
            "HTTP connections closed because their request head did not complete in time",
            value=self.protocol.timed_out,
        )
