"""A small HTTP/1.1 client for webhook POSTs: keep-alive connections per origin over
asyncio streams, TLS for https, one timeout over the whole exchange.

Why not a general client: a webhook is one POST whose answer matters only by its status
line, and the dispatcher already bounds how many are in flight. What a receiver sends
back is read (Content-Length, chunked, or to the end of the connection) and dropped, so
the connection can carry the next POST. A connection taken from the idle pool may have
been closed by the receiver meanwhile; a POST that fails on such a one before any
answer is sent once more on a fresh connection (delivery is at least once anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
#: the most of an answer's body read (and dropped) to keep the connection; beyond, closed
MAX_BODY = 1024 * 1024


class HttpError(Exception):
    """The exchange failed: no usable answer (the message says why)."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    #: the first bytes of the body, for the delivery's `last_error`
    excerpt: bytes


class _Stale(Exception):
    """A reused connection failed before the answer began."""


class HttpClient:
    def __init__(self, timeout_s: float, idle_per_origin: int = 64) -> None:
        self.timeout_s = timeout_s
        self.idle_per_origin = idle_per_origin
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls = ssl.create_default_context()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST `body` to `url`; the answer's status, or HttpError / TimeoutError."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"not an http(s) URL: {url!r}")
        origin = Origin(
            parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = _request(target, parts.netloc, body, headers)
        async with asyncio.timeout(self.timeout_s):
            reused = self._take(origin)
            if reused is not None:
                try:
                    return await self._exchange(origin, reused, request, reused=True)
                except _Stale:
                    pass
            connection = await self._open(origin)
            try:
                return await self._exchange(origin, connection, request, reused=False)
            except _Stale as exc:
                raise HttpError(str(exc.__cause__ or "connection closed")) from None

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()
        return None

    async def _open(self, origin: Origin) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                origin.host,
                origin.port,
                ssl=self._tls if origin.scheme == "https" else None,
                limit=MAX_HEAD,
            )
        except OSError as exc:
            raise HttpError(f"cannot connect to {origin.host}:{origin.port}: {exc}") from None
        return _Connection(reader, writer)

    async def _exchange(
        self, origin: Origin, connection: _Connection, request: bytes, *, reused: bool
    ) -> Response:
        started = False
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            status_line = await connection.reader.readuntil(b"\r\n")
            started = True
            answer, keep = await _read_answer(status_line, connection.reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            connection.close()
            if not started:
                raise _Stale() from exc
            raise HttpError(f"bad answer from {origin.host}:{origin.port}: {exc!r}") from None
        except BaseException:
            connection.close()
            raise
        if keep:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.idle_per_origin:
                idle.append(connection)
            else:
                connection.close()
        else:
            connection.close()
        return answer


def _request(target: str, host: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_answer(status_line: bytes, reader: asyncio.StreamReader) -> tuple[Response, bool]:
    """The answer, and whether its connection can carry another request."""
    version, _, rest = status_line.decode("latin-1").strip().partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    status = int(rest[:3])
    fields: dict[str, str] = {}
    read = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        read += len(line)
        if read > MAX_HEAD:
            raise ValueError("the answer's head is too long")
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    keep = fields.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    if status in (204, 304) or 100 <= status < 200:
        return Response(status, b""), keep
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = await _chunked(reader)
    elif "content-length" in fields:
        length = int(fields["content-length"])
        if length > MAX_BODY:
            return Response(status, await reader.read(200)), False
        body = await reader.readexactly(length)
    else:  # the body runs to the end of the connection
        body = await reader.read(MAX_BODY)
        keep = False
    return Response(status, body[:200]), keep


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await _trailers(reader)
            return bytes(body)
        chunk = await reader.readexactly(size + 2)
        if len(body) < MAX_BODY:
            body += chunk[:-2]


async def _trailers(reader: asyncio.StreamReader) -> None:
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass
