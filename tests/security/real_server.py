"""The app behind the service's own HTTP server (api/http_server.py) on a
free port, and the tools of the attacks: raw connections, a probe of the event loop."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from api.http_server import ConnectionLimits, http_config


@asynccontextmanager
async def guarded(
    app: FastAPI, limits: ConnectionLimits, log_level: str = "warning"
) -> AsyncIterator[uvicorn.Server]:
    """The app served as `callcenter serve` serves it, on 127.0.0.1 and a free port
    (`port_of(server)`), in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(http_config(app, limits, log_level=log_level, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        server.port = sock.getsockname()[1]  # type: ignore[attr-defined]
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


def port_of(server: uvicorn.Server) -> int:
    port: int = server.port  # type: ignore[attr-defined]
    return port


class LoopProbe:
    """The event loop's worst stall while it runs: how much later than asked a short
    sleep came back."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.tick_s)
            self.worst_s = max(self.worst_s, time.perf_counter() - start - self.tick_s)

    async def __aenter__(self) -> LoopProbe:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def get_status(port: int, path: str = "/healthz") -> tuple[int, float]:
    """One GET on a new connection: its status and how long it took (s)."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        status = await reader.readline()
        await reader.read()
    finally:
        writer.close()
    return int(status.split()[1]), time.perf_counter() - start


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """A response's status, headers (lower-case names) and whatever body came before
    the connection closed."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return int(lines[0].split()[1]), headers, body


async def closed_by_server(reader: asyncio.StreamReader, within_s: float = 5.0) -> bool:
    """Whether the server closes the connection (end of stream, or a reset: it closed
    with bytes of ours unread) within `within_s`."""
    try:
        return await asyncio.wait_for(reader.read(), within_s) == b""
    except ConnectionResetError:
        return True
