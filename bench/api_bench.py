"""HTTP API and live stream under load, the server in its own process (a load generator
sharing its event loop would measure itself).

`api_queues_p99_ms`: `GET /api/v1/queues` at a steady 200 requests/s for 10 s against a
model of 1,500 seats (3 queues each) and 500 waiting callers; p99 of the latency seen by
the client, requests sent on schedule (not after the previous answer, which would hide
queueing).

`ws_fanout_lag_ms`: 200 WebSocket clients on `WS /api/v1/live` while the server changes
a seat 50 times a second, on schedule (pause toggled, as the AMI reader would apply it,
then published on the hub); p99 over every client and change of (delta received -
change published), both on this machine's clock. It includes the stream's coalescing
window on purpose: that is what a screen sees. Frames are stamped on arrival and parsed
after the run (one process stands in for 200 screens' CPUs). When each change was
published comes from the server (by the change's `seq`, in a file it writes on exit):
the stream writes a change's `at` in city time to the second, too coarse for this.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ami.events import QueueMemberPause
from bench.queues_bench import _big_model
from callcenter.live.node_state import Member

RATE_PER_S = 200
DURATION_S = 10.0
WS_CLIENTS = 200
CHANGES_PER_S = 50
WS_DURATION_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _serve(port: int, db: str, changes_per_s: float, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import uvicorn
    from prometheus_client import CollectorRegistry

    from api.app import create_app
    from api.services import ApiServices
    from callcenter import migrate
    from callcenter.db import create_engine, session_factory
    from callcenter.heap import freeze_startup_heap
    from callcenter.live.live_state import LiveState
    from callcenter.tokens import Role, TokenStore

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await migrate.upgrade(engine)
    tokens = TokenStore(session_factory(engine), lambda: datetime.now(UTC))
    _, token = await tokens.create("bench", Role.SUPERVISOR)
    live = LiveState(time.time)

    app = create_app(
        ApiServices.from_systems(tokens=tokens, live=live), CollectorRegistry(), "bench"
    )
    freeze_startup_heap()  # as `callcenter serve` does once wired, before the model exists
    state, _today = _big_model()
    # what LiveState.node_state wires: the model's changes, as sent
    state.notify = live.hub.notifier("pbx1", time.time)
    live.nodes["pbx1"] = state
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_max_queue=64)
    )
    queue = next(iter(state.queues.values()))
    members = list(queue.members.values())
    # "<seq> <when published>" lines, as it goes: uvicorn ends the process on SIGTERM
    published = _published_file(db).open("a", buffering=1)

    async def churn() -> None:
        # on schedule, not `sleep(1/rate)` after each: a busy server would otherwise
        # slow its own load down (it did: 30-36 changes/s instead of 50)
        start = time.perf_counter()
        n = 0
        while True:
            delay = start + n / changes_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            before = live.hub.last_seq
            state.apply(_pause_toggled(members[n % len(members)]))
            stamp = time.time()
            published.writelines(
                f"{seq} {stamp}\n" for seq in range(before + 1, live.hub.last_seq + 1)
            )
            n += 1

    task = asyncio.create_task(churn()) if changes_per_s else None
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # failed to start: raise why
        await asyncio.sleep(0.05)
    ready.put(token)
    await serving
    if task is not None:
        task.cancel()


def _published_file(db: str) -> Path:
    return Path(db).with_name("published.txt")


def _published(db: str) -> dict[int, float]:
    """The hub's seq -> when the server published that change (this machine's clock)."""
    lines = _published_file(db).read_text().splitlines()
    return {int(seq): float(at) for seq, at in (line.split() for line in lines if line)}


def _pause_toggled(member: Member) -> QueueMemberPause:
    """The QueueMemberPause Asterisk would send for this member paused/unpaused: the
    live model applies it and publishes the change (with its data) as in production."""
    fields: dict[str, Any] = {
        f.name: getattr(member, f.name)
        for f in dataclasses.fields(QueueMemberPause)
        if f.name not in ("name", "headers")
    }
    fields.update(
        name="QueueMemberPause",
        headers={},
        paused=not member.paused,
        paused_reason="" if member.paused else "break",
    )
    return QueueMemberPause(**fields)


def _server_main(port: int, db: str, changes_per_s: float, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    asyncio.run(_serve(port, db, changes_per_s, ready))


def _start(changes_per_s: float) -> tuple[multiprocessing.process.BaseProcess, int, str, str]:
    ctx = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    port = _free_port()
    db = str(Path(tempfile.mkdtemp(prefix="cc-api-bench-")) / "bench.db")
    proc = ctx.Process(target=_server_main, args=(port, db, changes_per_s, ready), daemon=True)
    proc.start()
    token: str = ready.get(timeout=120)
    return proc, port, token, db


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)


async def _queues_load(port: int, token: str) -> float:
    """The supervisor token on every request: the queues list needs one (a 401 would
    measure the auth check, not the view)."""
    latencies: list[float] = []
    # 16 keep-alive connections: enough for 200/s at a few ms each; httpx's pool costs
    # the *client* CPU per connection, and with 64 the load generator became the queue
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, headers=auth
    ) as http:
        (await http.get("/api/v1/queues")).raise_for_status()  # warm-up, and a 401 fails fast

        async def one() -> None:
            t0 = time.perf_counter()
            response = await http.get("/api/v1/queues")
            response.raise_for_status()
            latencies.append((time.perf_counter() - t0) * 1000)

        tasks = []
        start = time.perf_counter()
        for i in range(int(RATE_PER_S * DURATION_S)):
            delay = start + i / RATE_PER_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return _p99(latencies)


Frames = list[tuple[float, str | bytes]]


async def _fanout(port: int, token: str) -> tuple[Frames, int]:
    """The frames received, each with when it arrived, and the clients cut. Each frame
    is stamped when it arrives and parsed after the run: 200 screens have 200 CPUs to
    parse on, this load generator has one, and parsing in line made each client's stamp
    wait for the others' parsing."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosedError

    received: Frames = []
    measuring = False
    cut = 0

    async def client(ws: ClientConnection) -> None:
        nonlocal cut
        try:
            async for raw in ws:  # ends when this side closes (1000)
                if measuring:
                    received.append((time.time(), raw))
        except ConnectionClosedError:
            cut += 1  # the server judged this client too slow (1013)

    connections, clients = [], []
    for _ in range(WS_CLIENTS):  # one after another: SQLite serialises the token checks
        ws = await connect(
            f"ws://127.0.0.1:{port}/api/v1/live",
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=64 * 2**20,
        )
        connections.append(ws)
        clients.append(asyncio.create_task(client(ws)))
    await asyncio.sleep(2.0)  # everyone connected and snapshotted
    measuring = True
    await asyncio.sleep(WS_DURATION_S)
    measuring = False
    await asyncio.gather(*(ws.close() for ws in connections))
    await asyncio.gather(*clients)
    return received, cut


def _lags_ms(received: Frames, published: dict[int, float]) -> list[float]:
    """(arrival - publication) of every change in every delta a client received."""
    lags: list[float] = []
    for arrived, raw in received:
        message = json.loads(raw)
        if message["type"] == "delta":
            lags.extend((arrived - published[c["seq"]]) * 1000 for c in message["changes"])
    return lags


def _stop(proc: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL: a server still closing its
    connections after 10 s must not keep the bench (or the next run's port) waiting."""
    proc.terminate()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join(10)


def bench_api() -> dict[str, float]:
    proc, port, token, _db = _start(changes_per_s=0)
    try:
        queues_p99 = asyncio.run(_queues_load(port, token))
    finally:
        _stop(proc)
    proc, port, token, db = _start(changes_per_s=CHANGES_PER_S)
    try:
        received, cut = asyncio.run(_fanout(port, token))
    finally:
        _stop(proc)
    lag_p99 = _p99(_lags_ms(received, _published(db)))
    return {"api_queues_p99_ms": queues_p99, "ws_fanout_lag_ms": lag_p99, "ws_clients_cut": cut}


if __name__ == "__main__":
    print(bench_api())
