"""Ring attempts end with what became of them (never `ringing` in a finished record),
the prompts the caller heard are listed in order, and the time from the answer to the
first queue entry is kept: on hand-made event sequences shaped like the transcripts'."""

from __future__ import annotations

import dataclasses

import pytest

from ami import events as ev
from callcenter.records.builder import FinishedCall, RecordBuilder, RecordDraft, finish
from callcenter.records.prompts import agi_prompts, app_prompts, tokens
from tests.records.test_builder_cases import CALLER, snap

QUEUE = "hotline-general"
START = 1_000.0


class Clock:
    def __init__(self) -> None:
        self.t = START

    def __call__(self) -> float:
        return self.t


def play(*steps: tuple[float, ev.AmiEvent]) -> list[FinishedCall]:
    """Apply each event at its second since the call started."""
    clock = Clock()
    done: list[FinishedCall] = []
    builder = RecordBuilder(clock, done.append)
    for at, event in steps:
        clock.t = START + at
        builder.apply("pbx1", event)
    return done


def ringing_state() -> ev.ChannelSnapshot:
    return dataclasses.replace(snap(), state=4, state_desc="Ring")


def member(ext: str) -> ev.ChannelSnapshot:
    return dataclasses.replace(snap(f"1.{ext}"), channel=f"PJSIP/{ext}-0000001", context="seats")


def new() -> ev.Newchannel:
    return ev.Newchannel("Newchannel", {}, channel=ringing_state())


def join() -> ev.QueueCallerJoin:
    return ev.QueueCallerJoin("QueueCallerJoin", {}, channel=snap(), queue=QUEUE, position=1)


def called(ext: str) -> ev.AgentCalled:
    return ev.AgentCalled(
        "AgentCalled",
        {},
        channel=snap(),
        dest=member(ext),
        queue=QUEUE,
        interface=f"PJSIP/{ext}",
        member_name=ext,
    )


def connect(ext: str, ring_time: int) -> ev.AgentConnect:
    return ev.AgentConnect(
        "AgentConnect",
        {},
        channel=snap(),
        dest=member(ext),
        queue=QUEUE,
        interface=f"PJSIP/{ext}",
        member_name=ext,
        hold_time=ring_time + 1,
        ring_time=ring_time,
    )


def abandon(hold: int) -> ev.QueueCallerAbandon:
    return ev.QueueCallerAbandon(
        "QueueCallerAbandon", {}, channel=snap(), queue=QUEUE, hold_time=hold
    )


def leave() -> ev.QueueCallerLeave:
    return ev.QueueCallerLeave("QueueCallerLeave", {}, channel=snap(), queue=QUEUE)


def hangup(uniqueid: str = CALLER) -> ev.Hangup:
    return ev.Hangup("Hangup", {}, channel=snap(uniqueid), cause=16)


def outcomes(record: FinishedCall) -> list[tuple[str, str, float | None]]:
    return [(r["seat"], r["outcome"], r["ring_s"]) for r in record.rings]


def test_ringall_the_fastest_answers_and_the_others_are_cancelled() -> None:
    """ami-2.log scenario 1: three AgentCalled, one AgentConnect, nothing for the rest."""
    (record,) = play(
        (0, new()),
        (1, join()),
        (2, called("1001")),
        (2, called("1002")),
        (2, called("1003")),
        (5, connect("1002", 3)),
        (40, hangup()),
    )
    assert outcomes(record) == [
        ("1001", "cancelled", 3.0),
        ("1002", "answered", 3.0),
        ("1003", "cancelled", 3.0),
    ]
    assert record.disposition == "answered"


def test_a_seat_that_does_not_answer_then_another_that_does() -> None:
    no_answer = ev.AgentRingNoAnswer(
        "AgentRingNoAnswer",
        {},
        channel=snap(),
        dest=member("1001"),
        queue=QUEUE,
        interface="PJSIP/1001",
        member_name="1001",
        ring_time=4000,
    )
    (record,) = play(
        (0, new()),
        (1, join()),
        (2, called("1001")),
        (6, no_answer),
        (7, called("1002")),
        (9, connect("1002", 2)),
        (30, hangup()),
    )
    assert outcomes(record) == [("1001", "no_answer", 4.0), ("1002", "answered", 2.0)]


def test_a_caller_who_abandons_while_a_seat_rings() -> None:
    """app_queue ends the ring without an event: the abandon and the hangup tell it."""
    (record,) = play(
        (0, new()),
        (1, join()),
        (2, called("1001")),
        (6, abandon(5)),
        (6, leave()),
        (6, hangup()),
    )
    assert outcomes(record) == [("1001", "caller_hung_up", 4.0)]
    assert record.disposition == "abandoned"


def test_a_caller_who_times_out_while_a_seat_rings_cancels_the_ring() -> None:
    status = ev.VarSet("VarSet", {}, channel=snap(), variable="QUEUESTATUS", value="TIMEOUT")
    (record,) = play(
        (0, new()),
        (1, join()),
        (2, called("1001")),
        (31, abandon(30)),
        (31, leave()),
        (31, status),
        (32, hangup()),
    )
    assert outcomes(record) == [("1001", "cancelled", 29.0)]
    assert record.queue_exit == "timeout"


def test_a_caller_hanging_up_with_no_abandon_seen_ends_the_ring() -> None:
    (record,) = play((0, new()), (1, join()), (2, called("1001")), (5, hangup()))
    assert outcomes(record) == [("1001", "caller_hung_up", 3.0)]


@pytest.mark.parametrize(
    ("answered", "queue_exit", "outcome"),
    [(True, "answered", "cancelled"), (False, "abandoned", "caller_hung_up")],
)
def test_a_ring_no_event_closed_ends_the_way_the_call_did(
    answered: bool, queue_exit: str, outcome: str
) -> None:
    draft = RecordDraft("pbx1", CALLER, START, queues=[QUEUE], queue_exit=queue_exit)
    draft.answered_at = START + 9 if answered else None
    draft.rings = [{"queue": QUEUE, "interface": "PJSIP/1", "seat": "1", "at": 2.0}]
    draft.rings[0] |= {"ring_s": None, "outcome": "ringing"}
    record = finish(draft, START + 10)
    assert outcomes(record) == [("1", outcome, 8.0)]
    assert draft.rings[0]["outcome"] == "ringing"  # finish() leaves the draft alone


def agi(command: str, uniqueid: str = CALLER) -> ev.AGIExecStart:
    return ev.AGIExecStart(
        "AGIExecStart", {}, channel=snap(uniqueid), command_id=1, command=command
    )


def exten(application: str, data: str) -> ev.Newexten:
    return ev.Newexten("Newexten", {}, channel=snap(), application=application, app_data=data)


def test_the_prompts_the_caller_heard_in_order() -> None:
    (record,) = play(
        (0, new()),
        (0, exten("AGI", "agi://127.0.0.1:4573/incoming,12345,13912341111")),
        (0, agi("ANSWER")),
        (0, agi('STREAM FILE hotline/welcome "0"')),
        (3, agi("GET DATA hotline/menu 5000 1")),
        (5, agi('SET VARIABLE HOTLINE_ACTION "hangup"')),
        (5, agi('STREAM FILE "other channel" ""', uniqueid="1.9")),  # not the caller's
        (6, exten("Playback", "goodbye")),
        (8, hangup()),
    )
    assert record.prompts == ["hotline/welcome", "hotline/menu", "goodbye"]
    assert [step[1:] for step in record.timeline if step[1] == "prompt"] == [
        ["prompt", "hotline/welcome"],
        ["prompt", "hotline/menu"],
        ["prompt", "goodbye"],
    ]


def test_agi_command_lines_are_split_as_res_agi_does() -> None:
    assert tokens('STREAM FILE "a b" "" 0') == ["STREAM", "FILE", "a b", "", "0"]
    assert tokens(r"SET VARIABLE X a\"b") == ["SET", "VARIABLE", "X", 'a"b']
    assert agi_prompts('stream file hotline/welcome "1234567890*#"') == ["hotline/welcome"]
    assert agi_prompts("CONTROL STREAM FILE hotline/notice 0") == ["hotline/notice"]
    assert agi_prompts("EXEC Playback hotline/a&hotline/b") == ["hotline/a", "hotline/b"]
    assert agi_prompts("STREAM FILE") == []  # 520 usage: nothing played
    assert agi_prompts("GET VARIABLE CALLERID(num)") == []
    assert app_prompts("BackGround", "hotline/menu&beep,n") == ["hotline/menu", "beep"]
    assert app_prompts("Read", "KEY,hotline/ask,1") == ["hotline/ask"]
    assert app_prompts("Queue", "hotline-general,tc") == []


def stamped(event: ev.AmiEvent, timestamp: str) -> ev.AmiEvent:
    return dataclasses.replace(event, headers={"timestamp": timestamp})


def test_time_to_queue_is_pbx_time_from_the_answer_to_the_first_queue() -> None:
    up = ev.Newstate("Newstate", {}, channel=snap())
    (record,) = play(
        (0, stamped(new(), "1795000000.100000")),
        (1, stamped(up, "1795000000.500000")),
        (30, stamped(join(), "1795000012.750000")),  # reached us late: PBX time counts
        (31, leave()),
        (40, stamped(join(), "1795000040.000000")),  # a second queue: still the first
        (50, hangup()),
    )
    assert record.queued_after_s == 12.25


def test_time_to_queue_from_the_agi_when_no_answer_is_seen() -> None:
    (record,) = play(
        (0, new()),
        (2, dataclasses.replace(exten("AGI", "agi://x/incoming"), channel=ringing_state())),
        (9, join()),
        (20, hangup()),
    )
    assert record.queued_after_s == 7.0


def test_no_time_to_queue_without_a_queue_or_an_answer_seen() -> None:
    up = ev.Newstate("Newstate", {}, channel=snap())
    (never_queued,) = play((0, new()), (1, up), (5, hangup()))
    assert never_queued.queued_after_s is None
    (met_late,) = play((0, up), (3, join()), (9, hangup()))  # its answer came before us
    assert met_late.queued_after_s is None
