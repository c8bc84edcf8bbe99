"""Issue 15, item 3: bodies are read only for a known token and never beyond their cap.

The attack: one 50 MB JSON POST to /api/v1/seats/1001/pause with no token was read and
parsed for 8.5 s before its 401 while /healthz stalled; a malformed body was a 400
before the 401; an 11 MB CSV import was parsed on the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

import api.legacy
from api.app import body_limits, create_app
from api.auth import MISSING_TOKEN, UNKNOWN_TOKEN
from api.http_server import ConnectionLimits
from api.legacy import IMPORT_URL
from api.request_limits import KIB, MIB
from api.services import ApiServices
from bench.security_bench import post_unread
from callcenter.legacy import csvfile
from callcenter.legacy.queues import QueueCatalog
from callcenter.tokens import Principal, Role
from tests.api.static_tokens import AS_SUPERVISOR, StaticTokens
from tests.security.real_server import (
    LoopProbe,
    get_status,
    guarded,
    port_of,
    read_head,
)

INTEGRATION = "cc_test-integration"
TOKENS = StaticTokens(
    {
        "cc_test-supervisor": Principal(1, "floor", Role.SUPERVISOR, None),
        INTEGRATION: Principal(2, "scripts", Role.INTEGRATION, None),
    }
)
PAUSE = "/api/v1/seats/1001/pause"


def app(**parts: object):  # type: ignore[no-untyped-def]
    return create_app(ApiServices(tokens=TOKENS, **parts), CollectorRegistry(), "t")  # type: ignore[arg-type]


def client(**parts: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app(**parts)), base_url="http://t")


async def test_50mb_without_a_token_is_refused_at_once_and_the_loop_keeps_running() -> None:
    size = 50 * MIB
    head = (
        f"POST {PAUSE} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n".encode()
    )
    async with guarded(app(), ConnectionLimits(max_connections=100)) as server:
        port = port_of(server)
        async with LoopProbe() as probe:
            answer, (health, health_s) = await asyncio.gather(
                post_unread(port, head, b"[" * MIB, size), get_status(port)
            )
    assert answer.status == 401 and "connection: close" in answer.head
    assert answer.took_s < 1.0, answer
    assert health == 200 and health_s < 0.5, health_s
    assert probe.worst_s < 0.25, probe.worst_s
    assert answer.sent < size  # most of it was never read


async def test_malformed_json_without_a_token_is_a_401_not_a_400() -> None:
    json = {"Content-Type": "application/json"}
    async with client() as c:
        missing = await c.post(PAUSE, content=b'{"reason": ', headers=json)
        assert missing.status_code == 401 and missing.json()["detail"] == MISSING_TOKEN
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "connection" not in missing.headers  # a small body: the connection stays
        unknown = await c.post(
            PAUSE, content=b"{nope", headers=json | {"Authorization": "Bearer cc_guess"}
        )
        assert unknown.status_code == 401 and unknown.json()["detail"] == UNKNOWN_TOKEN
        known = await c.post(PAUSE, content=b"{nope", headers=json | AS_SUPERVISOR)
        assert known.status_code == 422, known.text  # read, now that we know who asks
        bodiless = await c.post("/api/v1/seats/1001/unpause")
        assert bodiless.status_code == 401  # no body: the route's own token check


async def test_json_bodies_are_capped_declared_or_streamed() -> None:
    cap = 64 * KIB

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // (8 * KIB)):
            yield b" " * (8 * KIB)

    async with client() as c:
        declared = await c.post(PAUSE, content=b" " * (cap + 1), headers=AS_SUPERVISOR)
        assert declared.status_code == 413, declared.text
        assert declared.json()["detail"] == "request body larger than 65,536 bytes"
        streamed = await c.post(PAUSE, content=chunks(cap + 16 * KIB), headers=AS_SUPERVISOR)
        assert streamed.status_code == 413, streamed.text
        small = await c.post(PAUSE, content=chunks(cap // 2), headers=AS_SUPERVISOR)
        assert small.status_code == 503  # read whole, past the guard: no seats here


async def test_a_chunked_body_past_the_cap_is_cut_off_on_the_wire() -> None:
    head = (
        f"POST {PAUSE} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        "Authorization: Bearer cc_test-supervisor\r\n\r\n".encode()
    )
    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
    async with guarded(app(), ConnectionLimits(max_connections=100)) as server:
        answer = await post_unread(port_of(server), head, chunk, 100 * MIB)
    assert answer.status == 413 and "connection: close" in answer.head
    assert answer.sent < 100 * MIB


async def test_the_import_has_its_own_documented_cap() -> None:
    limits = body_limits()
    assert limits.cap(IMPORT_URL) == 20 * MIB and limits.cap(PAUSE) == 64 * KIB
    as_scripts = {"Authorization": f"Bearer {INTEGRATION}", "Content-Type": "text/csv"}
    async with guarded(app(), ConnectionLimits(max_connections=100)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        head = "".join(f"{k}: {v}\r\n" for k, v in as_scripts.items())
        writer.write(
            f"POST {IMPORT_URL} HTTP/1.1\r\nHost: t\r\n{head}"
            f"Content-Length: {21 * MIB}\r\n\r\n".encode()
        )
        status, _, body = await asyncio.wait_for(read_head(reader), 5)  # no byte of it sent
        writer.close()
    assert status == 413 and b"20,971,520 bytes" in body
    async with client() as c:
        larger_than_json = await c.post(IMPORT_URL, content=b"x" * (MIB), headers=as_scripts)
        assert larger_than_json.status_code == 503  # past the guard: no directory here


async def test_the_csv_import_is_parsed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[threading.Thread] = []
    original = csvfile.read

    def read(data: bytes, encoding: str | None, *, queues: QueueCatalog) -> csvfile.ParsedFile:
        threads.append(threading.current_thread())
        return original(data, encoding, queues=queues)

    monkeypatch.setattr(api.legacy.csvfile, "read", read)
    as_scripts = {"Authorization": f"Bearer {INTEGRATION}", "Content-Type": "text/csv"}
    async with client(legacy=object()) as c:
        bad = await c.post(IMPORT_URL, content=b"no,such,header\n", headers=as_scripts)
    assert bad.status_code == 422, bad.text
    assert threads and threads[0] is not threading.main_thread()


async def test_a_small_refused_body_is_dropped_and_the_connection_serves_on() -> None:
    async with guarded(app(), ConnectionLimits(max_connections=10)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(
            f"POST {PAUSE} HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{{malformed"
            "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        )
        refused, _, _ = await asyncio.wait_for(read_head(reader), 5)
        health, _, _ = await asyncio.wait_for(read_head(reader), 5)
        writer.close()
    assert (refused, health) == (401, 200)
