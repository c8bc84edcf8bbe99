"""The AMI reader against every frame real Asterisk sent in the transcripts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami.events import (
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    GenericEvent,
    Hangup,
    QueueCallerJoin,
    QueueEntry,
    QueueMember,
    QueueMemberAdded,
    parse_event,
)
from ami.frames import FrameReader, MalformedFrame, parse_frame
from tests.pbxsim.transcript import ami_log_paths, load_ami_log


def wire_bytes(path: Path) -> list[bytes]:
    """What Asterisk sent, per TCP connection, byte for byte."""
    connections: dict[int, bytearray] = {}
    for scenario in load_ami_log(path):
        buf = connections.setdefault(scenario.connection, bytearray())
        for frame in scenario.frames:
            buf += frame.to_bytes()
    return [bytes(b) for b in connections.values()]


def chunks(data: bytes, rng: random.Random) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 700)
        out.append(data[i : i + n])
        i += n
    return out


def test_every_transcript_frame_parses_into_a_typed_event(transcripts_dir: Path) -> None:
    rng = random.Random(7)
    seen: dict[str, int] = {}
    generic: set[str] = set()
    for path in ami_log_paths(transcripts_dir):
        expected = sum(
            1 for s in load_ami_log(path) for f in s.frames if f.kind in ("response", "event")
        )
        got = 0
        for stream in wire_bytes(path):
            reader = FrameReader()
            for piece in chunks(stream, rng):
                for raw in reader.feed(piece):
                    frame = parse_frame(raw)
                    got += 1
                    if frame.headers[0][0] == "Event":
                        ev = parse_event(frame)
                        seen[ev.name] = seen.get(ev.name, 0) + 1
                        if isinstance(ev, GenericEvent):
                            generic.add(ev.name)
            assert reader.banner == "Asterisk Call Manager/11.0.0"
        assert got == expected, path
    # everything the product acts on is typed; only noise may stay generic
    assert generic <= {
        "RTCPSent",
        "DBGetResponse",
        "DBGetComplete",
        "QueueStatusComplete",
        "QueueSummaryComplete",
        "CoreShowChannelsComplete",
    }, generic
    assert seen["QueueCallerJoin"] >= 12 and seen["AgentComplete"] >= 8


def first_event(path: Path, name: str) -> bytes:
    for scenario in load_ami_log(path):
        for frame in scenario.frames:
            if frame.kind == "event" and frame.name == name:
                return frame.to_bytes()
    raise AssertionError(name)


def typed(raw: bytes):  # type: ignore[no-untyped-def]
    return parse_event(parse_frame(raw.removesuffix(b"\r\n\r\n")))


def test_field_types_and_units(transcripts_dir: Path) -> None:
    log = transcripts_dir / "ami.log"
    join = typed(first_event(log, "QueueCallerJoin"))
    assert isinstance(join, QueueCallerJoin)
    assert join.channel is not None and join.channel.channel.startswith("Local/press1@")
    assert join.queue == "hotline-general" and join.position == 1 and join.count == 1
    rna = typed(first_event(log, "AgentRingNoAnswer"))
    assert isinstance(rna, AgentRingNoAnswer) and rna.ring_time >= 1000  # milliseconds
    connect = typed(first_event(log, "AgentConnect"))
    assert isinstance(connect, AgentConnect) and connect.ring_time < 60  # seconds
    assert connect.dest is not None and connect.dest.channel.startswith("Local/1001@")
    complete = typed(first_event(log, "AgentComplete"))
    assert isinstance(complete, AgentComplete) and complete.reason in ("caller", "agent")
    added = typed(first_event(log, "QueueMemberAdded"))
    assert isinstance(added, QueueMemberAdded) and added.member_name == "seat-1001"
    member = typed(first_event(log, "QueueMember"))
    assert isinstance(member, QueueMember)
    assert member.member_name == "seat-1001" and member.interface == "Local/1001@sim-agent/n"
    hangup = typed(first_event(log, "Hangup"))
    assert isinstance(hangup, Hangup) and hangup.cause_txt
    entry = typed(first_event(transcripts_dir / "ami-2.log", "QueueEntry"))
    assert isinstance(entry, QueueEntry) and entry.channel_name.startswith("Local/")


NAME = "张三丰".encode()


@given(st.integers(min_value=1, max_value=200))
def test_utf8_split_anywhere_is_kept(cut: int) -> None:
    frame = (
        b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
        b"CallerIDName: " + NAME + b"\r\nUniqueid: 1.1\r\n\r\n"
    )
    data = b"Asterisk Call Manager/11.0.0\r\n" + frame
    cut = min(cut, len(data) - 1)
    reader = FrameReader()
    raws = reader.feed(data[:cut]) + reader.feed(data[cut:])
    assert len(raws) == 1
    assert parse_frame(raws[0]).get("CallerIDName") == "张三丰"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"Event: X\r\nno colon here", "line without"),
        (b"Channel: a\r\nEvent: X", "not Event or Response"),
        (b"Event: X\r\nName: \xff\xfe", "invalid UTF-8"),
    ],
)
def test_malformed_frames_name_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason) as info:
        parse_frame(raw)
    assert info.value.raw == raw


def test_a_bad_frame_does_not_hide_the_next_one() -> None:
    reader = FrameReader()
    raws = reader.feed(
        b"Asterisk Call Manager/11.0.0\r\ngarbage\r\n\r\n"
        b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n"
    )
    assert len(raws) == 2
    with pytest.raises(MalformedFrame):
        parse_frame(raws[0])
    assert parse_frame(raws[1]).get("Status") == "Fully Booted"
