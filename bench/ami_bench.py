"""AMI read path: our framing + typed events + live-state update, against panoramisk's
own parser on the same bytes; and the memory of the live model at province scale."""

from __future__ import annotations

import asyncio
import re
import time
import tracemalloc
from pathlib import Path

from ami.events import AmiEvent
from ami.node import NodeConfig, PbxNode
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import NodeState

TRANSCRIPTS = (
    Path(__file__).resolve().parents[2] / "shared" / "asterisk-transcripts" / "asterisk-22.10.1"
)
LOGS = ("ami.log", "ami-2.log", "sip/ami-sip.log")
MIN_EVENTS = 200_000

_STAMP = re.compile(r"^ *\d+\.\d{3} (>>>|<<<|---) ")
_IDS = re.compile(
    rb"((?:Dest)?(?:Uniqueid|Linkedid|UniqueID|LocalOneUniqueid|"
    rb"LocalTwoUniqueid|LocalOneLinkedid|LocalTwoLinkedid): )(\d+)\.(\d+)"
)


def transcript_events() -> bytes:
    """Every event frame real Asterisk sent in the transcripts (list replies excluded)."""
    out = bytearray()
    for name in LOGS:
        block: list[str] = []
        skipping = False
        for line in (TRANSCRIPTS / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("#####") or line.startswith("Asterisk Call Manager/"):
                continue
            if _STAMP.match(line):
                skipping = ">>>" in line
                continue
            if line == "":
                if (
                    block
                    and not skipping
                    and block[0].startswith("Event:")
                    and not any(b.startswith("ActionID:") for b in block)
                ):
                    out += ("\r\n".join(block) + "\r\n\r\n").encode()
                block, skipping = [], False
                continue
            if not skipping:
                block.append(line)
    return bytes(out)


def event_stream(min_events: int = MIN_EVENTS) -> tuple[bytes, int]:
    """The transcripts' event mix repeated, each copy with fresh channel ids (new calls)."""
    base = transcript_events()
    per_copy = base.count(b"\r\n\r\n")
    copies = -(-min_events // per_copy)
    parts = []
    for k in range(copies):
        shift = 1000 * (k + 1)

        def fresh(m: re.Match[bytes], shift: int = shift) -> bytes:
            return m.group(1) + m.group(2) + b"." + str(int(m.group(3)) + shift).encode()

        parts.append(_IDS.sub(fresh, base))
    return b"".join(parts), per_copy * copies


async def _serve_stream(stream: bytes) -> tuple[asyncio.Server, int]:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        while True:
            try:
                block = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            action_id = re.search(rb"ActionID: (\S+)", block)
            aid = action_id.group(1) if action_id else b""
            if b"Action: Login" in block:
                writer.write(
                    b"Response: Success\r\nActionID: "
                    + aid
                    + b"\r\nMessage: Authentication accepted\r\n\r\n"
                )
            elif b"Action: CoreShowChannels" in block or b"Action: QueueStatus" in block:
                done = (
                    b"CoreShowChannelsComplete"
                    if b"CoreShowChannels" in block
                    else b"QueueStatusComplete"
                )
                writer.write(
                    b"Response: Success\r\nActionID: " + aid + b"\r\nEventList: start"
                    b"\r\nMessage: will follow\r\n\r\nEvent: "
                    + done
                    + b"\r\nActionID: "
                    + aid
                    + b"\r\nEventList: Complete\r\n"
                    b"ListItems: 0\r\n\r\n"
                )
                if b"QueueStatus" in block:
                    writer.write(stream)
            await writer.drain()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def _ours(stream: bytes, n_events: int) -> float:
    server, port = await _serve_stream(stream)
    done = asyncio.Event()

    class CountingLive(LiveState):
        def on_event(self, node: PbxNode, event: AmiEvent) -> None:
            super().on_event(node, event)
            if node.stats.events >= n_events:
                done.set()

    live = CountingLive(time.time)
    node = PbxNode(NodeConfig("bench", "127.0.0.1", port, "u", "s", ping_interval=3600), live)
    t0 = time.perf_counter()
    node.start()
    await done.wait()
    elapsed = time.perf_counter() - t0
    await node.stop()
    server.close()
    assert live.nodes["bench"].events_applied > 0
    return n_events / elapsed


def _panoramisk(stream: bytes, n_events: int) -> float:
    from panoramisk.ami_protocol import AMIProtocol

    class Factory:
        dispatched = 0

        def dispatch(self, message: object) -> None:
            Factory.dispatched += 1

    async def run() -> float:
        protocol = AMIProtocol()
        protocol.connection_made(_NullTransport())
        protocol.factory = Factory()
        protocol.encoding = "utf8"
        chunk = 65536
        t0 = time.perf_counter()
        protocol.data_received(b"Asterisk Call Manager/11.0.0\r\n")
        for i in range(0, len(stream), chunk):
            protocol.data_received(stream[i : i + chunk])
        elapsed = time.perf_counter() - t0
        assert Factory.dispatched >= n_events * 0.99, Factory.dispatched
        return n_events / elapsed

    return asyncio.run(run())


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def bench_ami_read_path() -> dict[str, float]:
    stream, n = event_stream()
    ours = asyncio.run(_ours(stream, n))
    theirs = _panoramisk(stream, n)
    return {
        "ami_events_per_s": round(ours),
        "panoramisk_parse_events_per_s": round(theirs),
        "ami_vs_panoramisk": round(ours / theirs, 3),
    }


def bench_live_state_memory() -> dict[str, float]:
    """1,500 seats in 15 queues (3 each), 500 calls in progress (2 channels, a bridge)."""
    from ami import events as ev

    def snap(name: str, uid: str, linked: str) -> ev.ChannelSnapshot:
        return ev.ChannelSnapshot(
            name,
            6,
            "Up",
            "13900000000",
            "张三",
            "12345",
            "",
            "en",
            "",
            "from-trunk",
            "12345",
            1,
            uid,
            linked,
        )

    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    state = NodeState("pbx1", time.time)
    for seat in range(1500):
        for k in range(3):
            queue = f"hotline-q{(seat + k * 5) % 15:02d}"
            state.apply(
                ev.QueueMemberAdded(
                    "QueueMemberAdded",
                    {},
                    queue=queue,
                    member_name=f"seat-{1001 + seat}",
                    interface=f"PJSIP/{1001 + seat}",
                    state_interface=f"PJSIP/{1001 + seat}",
                    membership="dynamic",
                    login_time=1_795_000_000,
                    status=1,
                )
            )
    for call in range(500):
        caller = f"1795000000.{call * 2}"
        agent = f"1795000000.{call * 2 + 1}"
        state.apply(
            ev.Newchannel("Newchannel", {}, channel=snap(f"PJSIP/trunk-{call:08x}", caller, caller))
        )
        state.apply(
            ev.Newchannel(
                "Newchannel", {}, channel=snap(f"PJSIP/{1001 + call}-{call:08x}", agent, caller)
            )
        )
        state.apply(
            ev.BridgeEnter(
                "BridgeEnter",
                {},
                channel=snap(f"PJSIP/trunk-{call:08x}", caller, caller),
                bridge_uniqueid=f"b{call}",
            )
        )
        if call % 5 == 0:
            state.apply(
                ev.QueueCallerJoin(
                    "QueueCallerJoin",
                    {},
                    channel=snap(f"PJSIP/trunk-{call:08x}", caller, caller),
                    queue="hotline-q00",
                    position=1,
                    count=1,
                )
            )
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert sum(len(q.members) for q in state.queues.values()) == 4500
    return {"live_state_mb": round(used / 1e6, 2)}
