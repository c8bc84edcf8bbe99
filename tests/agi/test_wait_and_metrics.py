"""The callback-offer wait estimate, and the AGI metrics as Prometheus exposes them."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest

from agi.ivr.lookups import DEFAULT_AHT_S, LiveWaitEstimator
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, ServerConfig
from agi.protocol.session import AgiSession
from tests.agi.helpers import env_block, read_command, wait_closed


@dataclass
class Member:
    paused: bool = False
    status: int = 1
    in_call: bool = False


@dataclass
class Queue:
    talk_time: int = 0
    members: dict[str, Member] = field(default_factory=dict)
    entries: dict[str, object] = field(default_factory=dict)


@dataclass
class Node:
    queues: dict[str, Queue]


@dataclass
class Live:
    nodes: dict[str, Node]


def test_wait_estimate() -> None:
    busy = {f"m{i}": Member(in_call=True) for i in range(3)}
    busy["paused"] = Member(paused=True)
    busy["gone"] = Member(status=5)
    queue = Queue(talk_time=200, members=busy, entries={f"c{i}": object() for i in range(5)})
    live = Live({"pbx1": Node({"hotline-general": queue})})
    estimator = LiveWaitEstimator(live)
    # 5 waiting + this caller, no idle seat, 3 serving seats, 200 s each
    assert estimator.estimated_wait_s("hotline-general") == 6 * 200 / 3
    assert estimator.estimated_wait_s("hotline-unknown") is None
    queue.members["idle"] = Member()
    queue.entries.clear()
    assert estimator.estimated_wait_s("hotline-general") == 0.0  # an idle seat answers
    queue.talk_time = 0
    queue.entries = {"c": object()}
    assert estimator.estimated_wait_s("hotline-general") == DEFAULT_AHT_S * 1 / 4
    nobody = Live({"pbx1": Node({"hotline-x": Queue()})})
    assert math.isinf(LiveWaitEstimator(nobody).estimated_wait_s("hotline-x") or 0)


async def test_metrics_exposed_after_a_session() -> None:
    async def flow(session: AgiSession) -> None:
        await session.answer()
        await session.set_variable("HOTLINE_ROUTED", "1")

    registry = CollectorRegistry()
    server = FastAgiServer({"incoming": flow}, ServerConfig(port=0), AgiMetrics(registry))
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(env_block())
        assert await read_command(reader) == ["ANSWER"]
        writer.write(b"200 result=0\n")
        assert await read_command(reader) == ["SET", "VARIABLE", "HOTLINE_ROUTED", "1"]
        writer.write(b"200 result=1\n")
        assert await wait_closed(reader) == b""
        writer.close()
    finally:
        await server.stop()
    text = generate_latest(registry).decode()
    assert 'callcenter_agi_command_seconds_count{command="ANSWER"} 1.0' in text
    assert 'callcenter_agi_command_seconds_bucket{command="SET VARIABLE",le="+Inf"} 1.0' in text
    assert 'callcenter_agi_sessions_total{outcome="ok",route="incoming"} 1.0' in text
    assert "callcenter_agi_sessions_active 0.0" in text
