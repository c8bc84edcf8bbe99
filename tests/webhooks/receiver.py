"""A webhook receiver on a free local port that can be down, slow, or answer 500s.

A bare asyncio HTTP/1.1 server (keep-alive, Content-Length bodies: what httpx sends),
so that the receiver's own failures are exactly the ones a test asks for. It keeps
every request it read, checks nothing itself: the tests dedupe, verify signatures and
check the order from `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callcenter.webhooks.signing import verify


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def delivery(self) -> str:
        return self.headers["x-hotline-delivery"]

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def signed_with(self, secret: str) -> bool:
        return verify(secret, self.body, self.headers["x-hotline-signature"])


#: (how many requests came before this one, the request) -> (status, seconds to wait)
Behaviour = Callable[[int, Received], tuple[int, float]]


def accept_all(_: int, __: Received) -> tuple[int, float]:
    return 204, 0.0


class Receiver:
    def __init__(self, behaviour: Behaviour = accept_all) -> None:
        self.behaviour = behaviour
        self.requests: list[Received] = []
        #: requests answered 2xx (what the dispatcher may count as delivered)
        self.accepted: list[Received] = []
        self.port = _free_port()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Down: the port refuses connections, and open ones are cut."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def unique(self) -> dict[str, Received]:
        """The accepted requests after dedupe on X-Hotline-Delivery, first arrival kept."""
        seen: dict[str, Received] = {}
        for request in self.accepted:
            seen.setdefault(request.delivery, request)
        return seen

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                request = await _read(reader)
                if request is None:
                    return
                index = len(self.requests)
                self.requests.append(request)
                status, delay = self.behaviour(index, request)
                if delay:
                    await asyncio.sleep(delay)
                if 200 <= status < 300:
                    self.accepted.append(request)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._connections.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


async def _read(reader: asyncio.StreamReader) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(path, headers, body)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
