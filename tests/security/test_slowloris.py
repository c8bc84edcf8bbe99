"""Issue 15, item 9: slow connections cannot starve the HTTP server.

The attack: 1,050 connections sending their request line a byte at a time, under a
1,024 open-file limit: /healthz timed out and 306,000 "Too many open files" tracebacks
filled the log. Here: hundreds of slow heads against the service's own server, /healthz
stays fast and the header timeout closes them; beyond the connection cap a new
connection is refused at once; a flood of one error is logged once per interval."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
import time

from fastapi import FastAPI, WebSocket
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect

from api import log_filters
from api.app import create_app
from api.http_server import (
    ConnectionLimits,
    GuardedH11Protocol,
    HttpCollector,
    connection_cap,
)
from api.http_server import protocol_of as http_protocol
from api.log_filters import Throttle
from api.services import ApiServices
from tests.security.real_server import closed_by_server, get_status, guarded, port_of, read_head

SLOW = 400
HEADER_TIMEOUT_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def app():  # type: ignore[no-untyped-def]
    return create_app(ApiServices(), CollectorRegistry(), "t")


def protocol_of(server) -> type[GuardedH11Protocol]:  # type: ignore[no-untyped-def]
    return http_protocol(server.config)


async def slow_head(port: int, lasted: list[float]) -> None:
    """A request line and headers sent a byte every 0.2 s, until the server hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 1000
    try:
        for byte in head:
            writer.write(bytes([byte]))
            await writer.drain()
            if reader.at_eof():
                break
            await asyncio.sleep(0.2)
            if reader.at_eof():
                break
    except ConnectionError:
        pass
    finally:
        if not reader.at_eof():
            await closed_by_server(reader, 10)
        lasted.append(time.perf_counter() - start)
        writer.close()


async def test_slow_heads_are_timed_out_and_healthz_stays_fast() -> None:
    limits = ConnectionLimits(max_connections=4 * SLOW, header_timeout_s=HEADER_TIMEOUT_S)
    async with guarded(app(), limits) as server:
        port = port_of(server)
        lasted: list[float] = []
        slow = [asyncio.create_task(slow_head(port, lasted)) for _ in range(SLOW)]
        await asyncio.sleep(0.3)
        latencies = []
        for _ in range(100):
            status, took = await get_status(port)
            assert status == 200
            latencies.append(took)
        await asyncio.wait_for(asyncio.gather(*slow), 15)
        timed_out = protocol_of(server).timed_out
    latencies.sort()
    p99 = latencies[98]
    assert p99 < 0.2, p99
    assert timed_out >= SLOW
    assert max(lasted) < HEADER_TIMEOUT_S + 2.0, max(lasted)  # not the 200 s they asked


async def test_a_slow_second_request_on_a_kept_connection_is_timed_out_too() -> None:
    limits = ConnectionLimits(
        max_connections=10, header_timeout_s=HEADER_TIMEOUT_S, keepalive_timeout_s=30
    )
    async with guarded(app(), limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (await read_head(reader))[0] == 200
        await asyncio.sleep(0.5)  # idle: the keep-alive timeout's business
        start = time.perf_counter()
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")
        assert await closed_by_server(reader, 5)
        writer.close()
    assert HEADER_TIMEOUT_S - 0.1 < time.perf_counter() - start < HEADER_TIMEOUT_S + 1.0


async def test_connections_beyond_the_cap_are_refused_at_once() -> None:
    limits = ConnectionLimits(max_connections=20, header_timeout_s=30)
    async with guarded(app(), limits) as server:
        port = port_of(server)
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        status, headers, _ = await asyncio.wait_for(read_head(reader), 2)
        assert await closed_by_server(reader, 2)
        refused_in = time.perf_counter() - start
        writer.close()
        assert status == 503 and headers["connection"] == "close"
        assert protocol_of(server).refused >= 1
        metrics = CollectorRegistry()
        metrics.register(HttpCollector(server))
        assert metrics.get_sample_value("callcenter_http_refused_connections_total") == 1
        assert metrics.get_sample_value("callcenter_http_max_connections") == 20
        assert metrics.get_sample_value("callcenter_http_connections") == 20
        for _, w in idle[:5]:
            w.close()
        await asyncio.sleep(0.2)
        assert (await get_status(port))[0] == 200  # room again
        for _, w in idle[5:]:
            w.close()
    assert refused_in < 0.5


def test_the_cap_leaves_the_services_descriptors() -> None:
    assert connection_cap(20000, 128 + 500) == 20000 - 628
    assert connection_cap(1024, 128 + 500) == 396
    assert connection_cap(256, 628) == 32  # the floor, said loudly in the log


def test_a_flood_of_one_error_is_logged_once_per_interval_with_a_count() -> None:
    now = [1000.0]
    throttle = Throttle(interval_s=10.0, clock=lambda: now[0])
    emfile = OSError(errno.EMFILE, "Too many open files")

    def accept_failed() -> logging.LogRecord:
        # what asyncio's exception handler logs when accept() fails
        return logging.LogRecord(
            "asyncio",
            logging.ERROR,
            __file__,
            1,
            "socket.accept() out of system resource\nsocket: <fd=%d>",
            (7,),
            (OSError, emfile, None),
        )

    passed = [throttle.filter(accept_failed()) for _ in range(306)]
    assert passed.count(True) == 1
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "other", None, None)
    assert throttle.filter(other)  # another kind is not held back by the flood
    now[0] += 10.5
    record = accept_failed()
    assert throttle.filter(record)
    assert record.getMessage().endswith("[305 more like this in the last 10 s not logged]")
    assert "socket: <fd=7>" in record.getMessage()


def test_the_filters_are_on_the_flooded_loggers() -> None:
    log_filters.install()
    log_filters.install()
    for name in log_filters.THROTTLED:
        throttles = [f for f in logging.getLogger(name).filters if isinstance(f, Throttle)]
        assert len(throttles) == 1, name


async def test_a_websocket_outlives_the_header_timeout() -> None:
    echo = FastAPI()

    @echo.websocket("/echo")
    async def serve(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            await ws.send_text(await ws.receive_text())

    limits = ConnectionLimits(max_connections=10, header_timeout_s=0.3)
    async with guarded(echo, limits) as server:
        async with connect(f"ws://127.0.0.1:{port_of(server)}/echo") as ws:
            await asyncio.sleep(0.8)
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 2) == "still here"
        assert protocol_of(server).timed_out == 0


SERVER = """
import logging, resource, sys
logging.basicConfig(level="INFO", format="%(name)s: %(message)s")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
import uvicorn
from prometheus_client import CollectorRegistry
from api.app import create_app
from api.http_server import ConnectionLimits, accept_batch_for, connection_cap, http_config
from api.services import ApiServices
limits = ConnectionLimits(
    max_connections=connection_cap(256, 64), header_timeout_s=30, accept_batch=accept_batch_for(64)
)
app = create_app(ApiServices(), CollectorRegistry(), "t")
uvicorn.Server(http_config(app, limits, port=int(sys.argv[1]), log_level="info")).run()
"""


async def test_under_a_low_file_limit_the_cap_keeps_accept_from_failing() -> None:
    """The attack's setting: more connections than the file limit allows. The cap,
    sized from the limit, refuses the excess before accept() runs out of descriptors;
    the refusals are one log line, not one per connection."""
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, str(port), stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(200):
            try:
                await get_status(port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        held = []
        for _ in range(400):
            held.append(await asyncio.open_connection("127.0.0.1", port))

        async def answered(reader: asyncio.StreamReader) -> bool:
            # waited for together: a busy machine may take a while to refuse 200 of them
            try:
                return await asyncio.wait_for(reader.read(1), 5.0) == b"H"  # HTTP/1.1 503
            except TimeoutError:
                return False  # admitted: waiting for a request

        refused = sum(await asyncio.gather(*(answered(reader) for reader, _ in held)))
        for _, writer in held:
            writer.close()
        await asyncio.sleep(0.5)
        assert (await get_status(port))[0] == 200  # served again once they left
    finally:
        server.terminate()
        _, log = await server.communicate()
    text = log.decode()
    assert refused >= 400 - 192
    assert "Too many open files" not in text and "out of system resource" not in text
    assert text.count("new connections are refused") == 1, text[-2000:]


async def test_a_body_trickling_after_its_answer_is_timed_out() -> None:
    limits = ConnectionLimits(max_connections=10, header_timeout_s=HEADER_TIMEOUT_S)
    async with guarded(app(), limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        assert (await asyncio.wait_for(read_head(reader), 2))[0] == 405  # answered unread
        start = time.perf_counter()

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(50):
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.2)

        trickling = asyncio.create_task(trickle())
        assert await closed_by_server(reader, 5)
        closed_after = time.perf_counter() - start
        trickling.cancel()
        writer.close()
    assert closed_after < HEADER_TIMEOUT_S + 1.0
