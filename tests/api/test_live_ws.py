"""WS /api/v1/live over a real server and pbxsim: snapshot, numbered deltas, resume,
authentication, and what happens to a client that cannot keep up."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import ClientConnection, connect

import api.live_ws as live_ws
from ami.node import PbxNode
from api.app import create_app
from api.live_ws import RESNAPSHOT, LiveStream
from api.services import ApiServices
from callcenter.live.changes import SeatChanged
from callcenter.live.live_state import LiveState
from callcenter.tokens import Role
from tests.api.server import serving, sqlite_tokens
from tests.live.sim import start_sim
from tests.live.test_faults import add_members, call, wait_until


async def recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def recv_until(ws: ClientConnection, predicate, timeout: float = 10.0) -> list[dict]:  # type: ignore[no-untyped-def]
    """Messages up to and including the first that satisfies `predicate`."""
    got: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"no matching message in {timeout} s; got {got[-3:]}")
        got.append(await recv(ws, left))
        if predicate(got[-1]):
            return got


def seat(message: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in message.get("seats", []) if s["name"] == name), None)


def queue(message: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((q for q in message.get("queues", []) if q["name"] == name), None)


async def test_snapshot_deltas_and_resume_without_a_gap(tmp_path: Path) -> None:
    sim = await start_sim(speed=20.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    tokens, engine = await sqlite_tokens(tmp_path)
    _, token = await tokens.create("floor", Role.SUPERVISOR)
    services = ApiServices.from_systems(tokens=tokens, live=live)
    stream = services.stream
    assert stream is not None
    app = create_app(services, CollectorRegistry(), "t")
    auth = {"Authorization": f"Bearer {token}"}
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        async with serving(app) as host:
            async with connect(f"ws://{host}/api/v1/live", additional_headers=auth) as ws:
                snap = await recv(ws)
                assert snap["type"] == "snapshot" and snap["epoch"]
                general = queue(snap, "general")
                assert general is not None and general["waiting"] == 0
                # named as the REST API names it: the directory's name, display, Asterisk's
                assert general["key"] == "pbx1|general"
                assert general["asterisk"] == "hotline-general"
                assert general["display"] == {"zh": "综合", "en": "General"}
                await add_members(node, ["1001"])
                got = await recv_until(ws, lambda m: seat(m, "seat-1001") is not None)
                assert all(m["type"] == "delta" for m in got)
                seqs = [m["seq"] for m in got]
                assert seqs == list(range(snap["seq"] + 1, snap["seq"] + 1 + len(got)))
                assert seat(got[-1], "seat-1001")["state"] == "available"  # type: ignore[index]
                (membership,) = seat(got[-1], "seat-1001")["queues"]  # type: ignore[index]
                assert (membership["queue"], membership["asterisk"]) == (
                    "general",
                    "hotline-general",
                )
                assert any(c["kind"] == "seat" for m in got for c in m["changes"])
                last, epoch = got[-1]["seq"], snap["epoch"]

            # while nobody listens, a caller waits (the seat is paused so it keeps waiting)
            await node.send(
                {
                    "Action": "QueuePause",
                    "Interface": "Local/1001@sim-agent/n",
                    "Paused": "true",
                    "Reason": "meal",
                }
            )
            await call(node, 1)
            await wait_until(lambda: live.nodes["pbx1"].queues["hotline-general"].entries, 5)
            await wait_until(lambda: queue_waiting(stream) == 1, 5)

            url = f"ws://{host}/api/v1/live?since={last}&epoch={epoch}"
            async with connect(url, additional_headers=auth) as ws:
                resumed = await recv(ws)
                assert resumed["type"] == "resumed" and resumed["seq"] >= last + 1
                missed = [await recv(ws) for _ in range(resumed["seq"] - last)]
                assert [m["seq"] for m in missed] == list(range(last + 1, resumed["seq"] + 1))
                states = [seat(m, "seat-1001") for m in missed]
                assert any(s and s["state"] == "paused" for s in states)
                waiting = [queue(m, "general") for m in missed]
                assert any(q and q["waiting"] == 1 for q in waiting)

            # the same numbers as the REST API
            async with httpx.AsyncClient(base_url=f"http://{host}", headers=auth) as http:
                rest = (await http.get("/api/v1/queues")).json()
                metrics = (await http.get("/metrics")).text
            assert f"callcenter_live_stream_seq {float(stream.seq)}" in metrics
            assert "callcenter_live_stream_clients 0.0" in metrics  # both screens gone
            rest_general = next(q for q in rest if q["name"] == "general")
            async with connect(f"ws://{host}/api/v1/live", additional_headers=auth) as ws:
                snap = await recv(ws)
            ws_general = queue(snap, "general")
            assert ws_general is not None
            for field in ("waiting", "members", "paused", "available", "on_call"):
                got_ws = ws_general.get(field, ws_general["seats"].get(field))
                assert got_ws == rest_general[field], field

            # a seq from another process (epoch) or from the future: a fresh snapshot
            for query in (f"since={last}&epoch=other", f"since={last + 10_000}&epoch={epoch}"):
                url = f"ws://{host}/api/v1/live?{query}"
                async with connect(url, additional_headers=auth) as ws:
                    assert (await recv(ws))["type"] == "snapshot"
    finally:
        await stream.stop()
        await engine.dispose()
        await node.stop()
        await sim.stop()


def queue_waiting(stream: LiveStream) -> int:
    snap = json.loads(stream.snapshot_message())
    general = queue(snap, "general")
    return general["waiting"] if general else -1


async def close_code(url: str, headers: dict[str, str] | None = None, first: str = "") -> int:
    async with connect(url, additional_headers=headers) as ws:
        if first:
            await ws.send(first)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_authentication_and_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_ws, "AUTH_TIMEOUT_S", 0.3)
    tokens, engine = await sqlite_tokens(tmp_path)
    _, integration = await tokens.create("script", Role.INTEGRATION)
    _, agent = await tokens.create("agent 1001", Role.AGENT, seat="1001")
    revoked_id, revoked = await tokens.create("old", Role.SUPERVISOR)
    await tokens.revoke(revoked_id)
    services = ApiServices.from_systems(tokens=tokens, live=LiveState(lambda: 0.0))
    stream = services.stream
    assert stream is not None
    app = create_app(services, CollectorRegistry(), "t")
    try:
        async with serving(app) as host:
            url = f"ws://{host}/api/v1/live"
            assert await close_code(url) == live_ws.CLOSE_UNAUTHENTICATED  # silence
            assert await close_code(url, first="not json") == live_ws.CLOSE_BAD_FRAME
            assert await close_code(url, first="{}") == live_ws.CLOSE_UNAUTHENTICATED
            bearer = {"Authorization": f"Bearer {revoked}"}
            assert await close_code(url, bearer) == live_ws.CLOSE_UNAUTHENTICATED
            bearer = {"Authorization": f"Bearer {integration}"}
            assert await close_code(url, bearer) == live_ws.CLOSE_FORBIDDEN
            # browsers cannot set headers: the token as the first frame
            async with connect(url) as ws:
                await ws.send(json.dumps({"token": agent}))
                assert (await recv(ws))["type"] == "snapshot"
        bare = create_app(ApiServices(tokens=tokens), CollectorRegistry(), "t")
        async with serving(bare) as host:
            url = f"ws://{host}/api/v1/live"
            bearer = {"Authorization": f"Bearer {agent}"}
            assert await close_code(url, bearer) == live_ws.CLOSE_UNAVAILABLE
    finally:
        await stream.stop()
        await engine.dispose()


def change(seq: int) -> SeatChanged:
    return SeatChanged(
        seq,
        "pbx1",
        0.0,
        interface=f"Local/{seq}@x/n",
        queue="hotline-general",
        member_name=str(seq),
        status=1,
        paused=False,
        paused_reason="",
        in_call=False,
        ringing=False,
        calls_taken=0,
    )


class RecordingSocket:
    """Stands in for the server side of a WebSocket: records frames, or never finishes
    sending (a client whose TCP window is full)."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: int | None = None
        self.stuck = stuck

    async def send_text(self, text: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str = "") -> None:
        self.closed = code


async def test_a_slow_client_is_resnapshotted_then_cut_and_never_slows_the_others() -> None:
    stream = LiveStream(LiveState(lambda: 0.0), None, client_queue=3)
    fast, fast_first = stream.attach(None, None)
    slow, _ = stream.attach(None, None)
    received: list[int] = []
    for n in range(1, 8):
        stream.emit([change(n)])
        while not fast.queue.empty():
            text = fast.queue.get_nowait()
            assert text is not None
            received.append(json.loads(text)["seq"])
    assert received == list(range(1, 8))  # every delta, in order, none lost to the slow one
    assert json.loads(fast_first[0])["type"] == "snapshot"
    # the slow one overflowed once: its backlog is gone, a snapshot is due, nothing queued
    assert slow.waiting_for_snapshot and slow.queue.qsize() == 1
    assert slow.queue.get_nowait() is RESNAPSHOT
    slow.queue.put_nowait(RESNAPSHOT)

    socket = RecordingSocket()
    serving_slow = asyncio.create_task(stream.serve(socket, slow, []))  # type: ignore[arg-type]
    await wait_until(lambda: socket.sent, 2)
    assert socket.sent[0]["type"] == "snapshot" and socket.sent[0]["seq"] == 7
    stream.emit([change(8)])
    await wait_until(lambda: len(socket.sent) == 2, 2)
    assert socket.sent[1]["seq"] == 8  # continues from the snapshot
    # falling behind again and again: cut off
    for _ in range(live_ws.MAX_RESNAPSHOTS):
        slow.fall_behind()
        await asyncio.sleep(0.01)
    slow.fall_behind()
    await asyncio.wait_for(serving_slow, 2)
    assert socket.closed == live_ws.CLOSE_TOO_SLOW
    assert stream.clients == 1  # detached
    assert (stream.resnapshots, stream.cut) == (live_ws.MAX_RESNAPSHOTS, 1)


async def test_a_client_that_stops_reading_is_cut_after_the_send_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_ws, "SEND_TIMEOUT_S", 0.05)
    stream = LiveStream(LiveState(lambda: 0.0), None)
    client, first = stream.attach(None, None)
    socket = RecordingSocket(stuck=True)
    await asyncio.wait_for(stream.serve(socket, client, first), 2)  # type: ignore[arg-type]
    assert stream.clients == 0


async def test_resume_is_refused_once_the_seq_left_the_buffer() -> None:
    stream = LiveStream(LiveState(lambda: 0.0), None, buffer_size=3)
    for n in range(1, 6):
        stream.emit([change(n)])
    _, first = stream.attach(1, stream.epoch)  # seqs 2..5 needed, 3..5 buffered
    assert [json.loads(t)["type"] for t in first] == ["snapshot"]
    _, first = stream.attach(2, stream.epoch)  # 3..5 needed and buffered
    assert [json.loads(t)["seq"] for t in first] == [5, 3, 4, 5]
    assert json.loads(first[0])["type"] == "resumed"
    _, first = stream.attach(5, stream.epoch)  # up to date: nothing missed
    assert [json.loads(t)["type"] for t in first] == ["resumed"]


async def test_a_quiet_stream_sends_heartbeats_and_deltas_still_come_in_order() -> None:
    """A screen hears something at least every `heartbeat_s`, so its silence means a
    dead connection (tests/browser/test_wallboard_wall.py: the page gives it up)."""
    stream = LiveStream(LiveState(lambda: 0.0), None)
    stream.heartbeat_s = 0.05
    client, first = stream.attach(None, None)
    socket = RecordingSocket()
    serving = asyncio.create_task(stream.serve(socket, client, first))  # type: ignore[arg-type]
    try:
        await wait_until(lambda: len(socket.sent) >= 3, 2)
        assert socket.sent[0]["type"] == "snapshot"
        assert {m["type"] for m in socket.sent[1:3]} == {"heartbeat"}
        stream.heartbeat_s = 60.0
        stream.emit([change(1)])
        await wait_until(lambda: socket.sent[-1]["type"] == "delta", 2)
        beats = len(socket.sent)
        assert socket.sent[-1]["seq"] == 1
        await asyncio.sleep(0.2)
        assert len(socket.sent) == beats, "a heartbeat within the interval"
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
