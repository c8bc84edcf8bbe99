"""The webhooks' HTTP client against raw servers: every way an answer's body can be
framed, connections kept alive and reused, one closed while idle replaced, a receiver
that never answers cut at the timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from callcenter.webhooks.dispatcher import HttpSender
from callcenter.webhooks.http import HttpClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(answers: list[bytes], connections: list[int]) -> tuple[asyncio.Server, str]:
    """Answers each request with the next of `answers` (cycling); counts connections."""
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                answer = answers[served % len(answers)]
                served += 1
                writer.write(answer)
                await writer.drain()
                if b"close" in answer.lower():
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/hooks?x=1"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nthanks",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
)
async def test_bodies_are_read_and_the_connection_reused(answer: bytes) -> None:
    connections: list[int] = []
    server, url = await _serve([answer], connections)
    client = HttpClient(2.0)
    try:
        for _ in range(3):
            response = await client.post(url, b"{}", {"X-Hotline-Event": "call.ended"})
            assert response.status in (200, 204)
        assert len(connections) == 1
    finally:
        await client.close()
        server.close()


async def test_a_closed_connection_and_an_error_status() -> None:
    connections: list[int] = []
    answers = [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
    ]
    server, url = await _serve(answers, connections)
    sender = HttpSender(2.0, 4)
    try:
        assert (await sender.post(url, b"{}", {})).status == 200
        failed = await sender.post(url, b"{}", {})
        assert failed.status == 500 and failed.error == "HTTP 500: oops"
        assert len(connections) == 2  # the first was closed by the server
    finally:
        await sender.close()
        server.close()


async def test_an_idle_connection_the_receiver_dropped_is_replaced() -> None:
    connections: list[int] = []

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Keep-alive by its headers, yet closed right after (an idle timeout)."""
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    client = HttpClient(2.0)
    try:
        for _ in range(3):
            assert (await client.post(url, b"{}", {})).status == 204
            await asyncio.sleep(0.02)
        assert len(connections) == 3
        for _ in range(3):  # no pause: the close may not have been seen yet
            assert (await client.post(url, b"{}", {})).status == 204
    finally:
        await client.close()
        server.close()


async def test_a_receiver_that_never_answers_is_cut_at_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = HttpSender(0.2, 4)
    try:
        answer = await sender.post(f"http://127.0.0.1:{port}/", b"{}", {})
        assert answer.status is None and "no answer within 0.2 s" in answer.error
        refused = await sender.post("http://127.0.0.1:9/", b"{}", {})
        assert refused.status is None and "cannot connect" in refused.error
    finally:
        await sender.close()
        server.close()
