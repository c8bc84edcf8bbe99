"""Debian's chromium, headless, driven over the DevTools protocol (no Playwright
download: the browser is the distribution's, installed by `make browser-deps`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import tempfile
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless chromium process with one page."""

    def __init__(self, process: asyncio.subprocess.Process, page: ClientConnection, profile: str):
        self.process = process
        self.page = page
        self.profile = profile
        self._ids = itertools.count(1)

    @classmethod
    async def launch(cls, binary: str, url: str, width: int = 1600, height: int = 1000) -> Browser:
        profile = tempfile.mkdtemp(prefix="cc-chromium-")
        process = await asyncio.create_subprocess_exec(
            binary,
            "--headless=new",
            "--no-sandbox",  # CI runs as root in a container
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            f"--window-size={width},{height}",
            url,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        port = None
        while port is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            if not line:
                raise RuntimeError("chromium exited before its DevTools endpoint came up")
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                port = int(match.group(1))
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                pages = [
                    t
                    for t in (await http.get(f"http://127.0.0.1:{port}/json")).json()
                    if t["type"] == "page"
                ]
                if pages:
                    break
                await asyncio.sleep(0.1)
        page = await connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 2**20)
        return cls(process, page, profile)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        my_id = next(self._ids)
        await self.page.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.page.recv(), 30))
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def close(self) -> None:
        await self.page.close()
        self.process.terminate()
        await self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
