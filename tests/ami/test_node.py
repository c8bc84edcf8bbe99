"""The AMI link under faults: refused logins, silent peers, drops, bad frames."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from ami.errors import ConnectionLostDuringAction, NotConnected
from ami.events import AmiEvent, FullyBooted
from ami.node import LinkState, NodeConfig, PbxNode
from tests.ami.fake_asterisk import FakeAsterisk


class Recorder:
    def __init__(self) -> None:
        self.connected = 0
        self.events: list[AmiEvent] = []
        self.disconnects: list[str] = []
        self.connected_event = asyncio.Event()

    async def on_connected(self, node: PbxNode) -> None:
        self.connected += 1
        self.connected_event.set()

    def on_event(self, node: PbxNode, event: AmiEvent) -> None:
        self.events.append(event)

    def on_disconnected(self, node: PbxNode, reason: str) -> None:
        self.disconnects.append(reason)

    def on_response(self, node: PbxNode, action_id: str) -> None:
        pass


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    peer = FakeAsterisk()
    yield peer
    await peer.stop()


def config(port: int, **kw: object) -> NodeConfig:
    args: dict[str, object] = dict(
        name="pbx1",
        host="127.0.0.1",
        port=port,
        username="callcenter",
        secret="s3cret",
        action_timeout=1.0,
        ping_interval=5.0,
        backoff_initial=0.05,
        backoff_max=0.4,
    )
    args.update(kw)
    return NodeConfig(**args)  # type: ignore[arg-type]


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_refused_login_is_reported_and_retried_with_backoff(fake: FakeAsterisk) -> None:
    port = await fake.start()
    node = PbxNode(config(port, secret="wrong"), Recorder())
    node.start()
    await wait_for(lambda: node.stats.login_failures >= 6)
    assert node.state is LinkState.LOGIN_FAILED
    assert "refused" in node.detail and "Authentication failed" in node.detail
    await node.stop()
    gaps = [b - a for a, b in zip(fake.login_times, fake.login_times[1:], strict=False)]
    # exponential (0.05 s doubling, jitter 20 %), capped at 0.4 s: never a tight loop
    assert gaps[3] > 2 * gaps[0]
    assert max(gaps) < 0.4 * 1.2 + 0.3
    assert fake.logins == node.stats.login_failures


async def test_a_silent_peer_is_detected_by_the_ping_watchdog(fake: FakeAsterisk) -> None:
    fake.silent_after_login = True
    port = await fake.start()
    recorder = Recorder()
    interval = 0.2
    node = PbxNode(config(port, ping_interval=interval), recorder)
    node.start()
    await wait_for(lambda: node.state is LinkState.CONNECTED)
    connected_at = time.monotonic()
    await wait_for(lambda: node.state is not LinkState.CONNECTED)
    detected_after = time.monotonic() - connected_at
    assert detected_after <= 3 * interval  # specified: within two intervals (+ slack)
    assert recorder.disconnects == ["no reply to Ping within 0.2 s"]
    await wait_for(lambda: fake.logins >= 2)  # and it reconnects
    await node.stop()


async def test_actions_are_never_resent_after_a_reconnect(fake: FakeAsterisk) -> None:
    fake.answer_actions = False
    port = await fake.start()
    recorder = Recorder()
    node = PbxNode(config(port, action_timeout=5.0), recorder)
    node.start()
    await recorder.connected_event.wait()
    originate = asyncio.create_task(
        node.send(
            {
                "Action": "Originate",
                "Channel": "PJSIP/1001",
                "Async": "true",
                "Context": "x",
                "Exten": "1",
                "Priority": "1",
            }
        )
    )
    await wait_for(lambda: any(r.get("Action") == "Originate" for r in fake.received))
    fake.drop_all()
    with pytest.raises(ConnectionLostDuringAction):
        await originate
    await wait_for(lambda: fake.logins >= 2 and recorder.connected >= 2)
    await asyncio.sleep(0.2)
    assert sum(1 for r in fake.received if r.get("Action") == "Originate") == 1
    await node.stop()


async def test_not_connected_fails_fast_without_sending() -> None:
    node = PbxNode(config(1), Recorder())
    with pytest.raises(NotConnected, match="Ping not sent"):
        await node.send({"Action": "Ping"})


async def test_malformed_frames_are_skipped_not_fatal(fake: FakeAsterisk) -> None:
    port = await fake.start()
    recorder = Recorder()
    node = PbxNode(config(port), recorder)
    node.start()
    await recorder.connected_event.wait()
    fake.send_raw(
        b"this is not AMI\r\n\r\n"
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: x\r\n\r\n"
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n"
        b"Uptime: 12\r\nLastReload: 3\r\n\r\n"
    )
    await wait_for(lambda: any(isinstance(e, FullyBooted) for e in recorder.events))
    assert node.stats.malformed_frames == 2  # the garbage and the non-numeric Uptime
    booted = [e for e in recorder.events if isinstance(e, FullyBooted)]
    assert booted[0].uptime == 12
    assert node.state is LinkState.CONNECTED
    await node.stop()


async def test_event_lag_from_timestamps_corrected_by_the_ping_clock_offset(
    fake: FakeAsterisk,
) -> None:
    """The fake PBX's clock says 1.0 at every Ping while ours says 1001.0: a 1000 s
    offset that must not show as lag. An event stamped 0.75 PBX time arrives 0.25 s
    old; one stamped 0.5, 0.5 s old (the worst of the ping interval)."""
    port = await fake.start()
    recorder = Recorder()
    node = PbxNode(config(port, ping_interval=0.05), recorder, wall_clock=lambda: 1001.0)
    node.start()
    await recorder.connected_event.wait()
    await wait_for(lambda: node.stats.clock_offset_s is not None)
    assert node.stats.clock_offset_s == -1000.0
    for stamp in ("0.500000", "0.750000"):
        fake.send_raw(
            f"Event: FullyBooted\r\nPrivilege: system,all\r\nTimestamp: {stamp}\r\n"
            "Status: Fully Booted\r\n\r\n".encode()
        )
    await wait_for(lambda: node.stats.event_lag_s == 0.25)
    await wait_for(lambda: node.stats.event_lag_max_s == 0.5)  # after the next ping
    # a garbage Timestamp is ignored, the event is still delivered
    before = len(recorder.events)
    fake.send_raw(
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nTimestamp: nan\r\n"
        b"Status: Fully Booted\r\n\r\n"
    )
    await wait_for(lambda: len(recorder.events) == before + 1)
    assert node.stats.event_lag_s == 0.25
    await node.stop()
