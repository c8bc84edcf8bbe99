"""A real uvicorn server on a free port (WebSockets need one; ASGITransport has none)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.tokens import TokenStore


@asynccontextmanager
async def serving(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """Yields the base URL `127.0.0.1:port` while the app is served; `port` 0: a free
    one (a given port serves the app again where a page already points)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def sqlite_tokens(tmp_path: Path) -> tuple[TokenStore, AsyncEngine]:
    """Tokens in a fresh SQLite file (auth is not what differs between databases here;
    tests/test_auth.py runs the store on both)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}")
    await migrate.upgrade(engine)
    return TokenStore(session_factory(engine), lambda: datetime.now(UTC)), engine
