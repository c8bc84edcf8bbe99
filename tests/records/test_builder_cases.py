"""Builder cases the transcripts do not show, on hand-made events: a transfer Dial that
is not answered, a confidential call, and late or duplicated events of a closed call."""

from __future__ import annotations

from ami import events as ev
from callcenter.records.builder import FinishedCall, RecordBuilder

CALLER = "1.1"


def snap(
    uniqueid: str = CALLER, context: str = "from-trunk", exten: str = "12345"
) -> ev.ChannelSnapshot:
    return ev.ChannelSnapshot(
        channel=f"PJSIP/trunk-{uniqueid}",
        state=6,
        state_desc="Up",
        caller_id_num="13912341111",
        caller_id_name="",
        connected_line_num="",
        connected_line_name="",
        language="zh",
        account_code="",
        context=context,
        exten=exten,
        priority=1,
        uniqueid=uniqueid,
        linkedid=CALLER,
    )


def run(*events: ev.AmiEvent) -> tuple[list[FinishedCall], RecordBuilder]:
    done: list[FinishedCall] = []
    builder = RecordBuilder(lambda: 100.0, done.append)
    for event in events:
        builder.apply("pbx1", event)
    return done, builder


def new(uniqueid: str = CALLER) -> ev.Newchannel:
    return ev.Newchannel("Newchannel", {}, channel=snap(uniqueid))


def hangup(uniqueid: str = CALLER) -> ev.Hangup:
    return ev.Hangup("Hangup", {}, channel=snap(uniqueid), cause=16)


def test_unanswered_transfer_dial_is_not_a_transfer() -> None:
    far = snap("1.2", context="trunk", exten="119")
    done, _ = run(
        new(),
        ev.VarSet("VarSet", {}, channel=snap(), variable="HOTLINE_TRANSFER_TO", value="119"),
        ev.DialBegin("DialBegin", {}, channel=snap(), dest=far, dial_string="119@trunk"),
        ev.DialEnd("DialEnd", {}, channel=snap(), dest=far, dial_status="NOANSWER"),
        hangup(),
    )
    (record,) = done
    assert record.transfers == [
        {"kind": "dial", "from_queue": "", "to": "119", "status": "NOANSWER"}
    ]
    assert record.disposition == "ivr_only"


def test_confidential_report_and_late_events_make_no_second_record() -> None:
    done, builder = run(
        new(),
        ev.VarSet("VarSet", {}, channel=snap(), variable="HOTLINE_CATEGORY", value="举报"),
        hangup(),
        hangup(),  # duplicated
        ev.VarSet("VarSet", {}, channel=snap(), variable="QUEUESTATUS", value="TIMEOUT"),  # late
    )
    (record,) = done
    assert record.confidential and record.caller == "13912341111"
    assert not builder.open


def agi_status(value: str) -> ev.VarSet:
    return ev.VarSet("VarSet", {}, channel=snap(), variable="AGISTATUS", value=value)


def test_only_a_failed_routing_agi_is_a_fallback() -> None:
    """`fallback` says the IVR did not route the call. A caller who hangs up during the
    post-call survey (AGISTATUS=HANGUP), or a survey AGI that fails after the answer,
    routed nothing (pbxsim's simulated day had every rated call marked fallback)."""
    seat = snap("1.2", context="from-seats", exten="s")
    connect = ev.AgentConnect(
        "AgentConnect", {}, channel=snap(), dest=seat, queue="hotline-general",
        interface="PJSIP/1001", member_name="seat-1001", hold_time=3,
    )  # fmt: skip
    done, _ = run(new(), agi_status("SUCCESS"), connect, agi_status("HANGUP"), hangup())
    assert not done[0].fallback and done[0].disposition == "answered"
    done, _ = run(new(), agi_status("SUCCESS"), connect, agi_status("FAILURE"), hangup())
    assert not done[0].fallback
    done, _ = run(new(), agi_status("HANGUP"), hangup())  # hung up in the IVR
    assert not done[0].fallback and done[0].disposition == "ivr_only"
    done, _ = run(new(), agi_status("FAILURE"), connect, hangup())  # IVR down: fallback
    assert done[0].fallback and done[0].disposition == "answered"


def test_who_hung_up_a_caller_nobody_answered() -> None:
    """A queue timeout ends with the dialplan's Hangup() (SoftHangupRequest, cause 16):
    the PBX hung up, not the caller; a caller's BYE is a HangupRequest first (the
    simulated day's timeouts were all 'caller' before)."""
    join = ev.QueueCallerJoin("QueueCallerJoin", {}, channel=snap(), queue="hotline-general")
    abandon = ev.QueueCallerAbandon(
        "QueueCallerAbandon", {}, channel=snap(), queue="hotline-general", hold_time=90
    )
    timeout = ev.VarSet("VarSet", {}, channel=snap(), variable="QUEUESTATUS", value="TIMEOUT")
    soft = ev.SoftHangupRequest("SoftHangupRequest", {}, channel=snap(), cause=16)
    request = ev.HangupRequest("HangupRequest", {}, channel=snap())
    done, _ = run(new(), join, abandon, timeout, soft, hangup())
    assert done[0].disposition == "fallback_routed" and done[0].hangup_by == "pbx"
    done, _ = run(new(), request, soft, hangup())  # hung up in the IVR: BYE first
    assert done[0].hangup_by == "caller"
    done, _ = run(new(), join, request, abandon, soft, hangup())  # gave up waiting
    assert done[0].disposition == "abandoned" and done[0].hangup_by == "caller"


def test_the_survey_rating_travels_with_the_record() -> None:
    """The IVR sets SURVEY_RESULT on the caller's channel; the record carries it (and
    through the spool), whatever happened to the IVR's own database write. A garbage
    value or a second survey does not change the first rating."""

    def survey(value: str) -> ev.VarSet:
        return ev.VarSet("VarSet", {}, channel=snap(), variable="SURVEY_RESULT", value=value)

    done, _ = run(new(), survey("9"), survey("2"), survey("3"), hangup())
    (record,) = done
    assert record.rating == 2
    done, _ = run(new(), survey(""), hangup())
    assert done[0].rating is None


def test_a_caller_who_hangs_up_in_the_greeting() -> None:
    """A caller's BYE during the IVR's greeting (an AGI) is a `HangupRequest` without a
    cause, and the channel then ends with cause 0 (real Asterisk: CEL hangupcause 0,
    hangupsource the caller's own channel): the caller hung up, not 'cause 0'."""
    request = ev.HangupRequest("HangupRequest", {}, channel=snap())
    soft = ev.SoftHangupRequest("SoftHangupRequest", {}, channel=snap(), cause=0)
    ended = ev.Hangup("Hangup", {}, channel=snap(), cause=0)
    done, _ = run(new(), request, ended)
    assert done[0].hangup_by == "caller" and done[0].disposition == "ivr_only"
    done, _ = run(new(), soft, ended)  # the PBX ended it (AMI Hangup, dialplan Hangup())
    assert done[0].hangup_by == "pbx"
    done, _ = run(new(), ended)  # nobody seen asking: only the cause is known
    assert done[0].hangup_by == "cause 0"


SEAT = "1.2"


def connect(hold_time: int = 1) -> ev.AgentConnect:
    return ev.AgentConnect(
        "AgentConnect", {}, channel=snap(), dest=snap(SEAT, context="from-seats", exten="s"),
        queue="hotline-general", interface="PJSIP/1001", member_name="1001",
        hold_time=hold_time,
    )  # fmt: skip


def complete(talk_time: int, reason: str = "caller") -> ev.AgentComplete:
    return ev.AgentComplete(
        "AgentComplete", {}, channel=snap(), dest=snap(SEAT, context="from-seats", exten="s"),
        queue="hotline-general", interface="PJSIP/1001", member_name="1001",
        talk_time=talk_time, reason=reason,
    )  # fmt: skip


def test_agent_complete_after_the_callers_hangup_still_counts_the_talk() -> None:
    """Under load the caller's `Hangup` can reach us before app_queue's `AgentComplete`
    (two answered calls were stored with talk_s 0 where queue_log said COMPLETECALLER
    13 s and 22 s): the talk time and who ended the bridge are still app_queue's."""
    request = ev.HangupRequest("HangupRequest", {}, channel=snap())
    done, _ = run(new(), new(SEAT), connect(), request, hangup(), complete(13), hangup(SEAT))
    (record,) = done
    assert record.disposition == "answered" and record.talk_s == 13
    assert record.hangup_by == "caller"
    done, _ = run(new(), new(SEAT), connect(), hangup(), complete(22, "agent"), hangup(SEAT))
    assert done[0].talk_s == 22 and done[0].hangup_by == "agent"


def test_a_duplicated_agent_complete_counts_once() -> None:
    done, _ = run(new(), new(SEAT), connect(), complete(13), complete(13), hangup(), hangup(SEAT))
    assert done[0].talk_s == 13


def test_an_answered_call_whose_agent_complete_never_came_talked_until_it_ended() -> None:
    """Every channel gone and no `AgentComplete` yet: the talk is estimated on our clock
    from the answer to the end, and the timeline says so; the late event changes nothing
    and opens no second record."""
    now = [100.0]
    done: list[FinishedCall] = []
    builder = RecordBuilder(lambda: now[0], done.append, lambda node, queue, iface: 10.0)
    join = ev.QueueCallerJoin("QueueCallerJoin", {}, channel=snap(), queue="hotline-general")
    for at, event in (
        (100.0, new()),
        (100.0, join),
        (101.0, new(SEAT)),
        (102.0, connect()),
        (124.4, hangup()),
        (124.5, hangup(SEAT)),
        (125.0, complete(22)),
    ):
        now[0] = at
        builder.apply("pbx1", event)
    (record,) = done
    assert record.talk_s == 22 and record.wrapup_s == 10.0
    estimated = [row for row in record.timeline if row[1] == "talk_estimated"]
    assert estimated == [[24.5, "talk_estimated", "22"]]
    assert not builder.open


def callback_run(status: str, called_cause: int | None, seat_dials: bool = True) -> FinishedCall:
    """A callback: the seat's originated leg (the Linkedid), carrying the worklist's
    variables, dials the caller's leg, which ends with `called_cause`."""
    seat = snap(exten="s")
    called = snap("1.2", context="from-seats", exten="13900000003")

    def var(name: str, value: str) -> ev.VarSet:
        return ev.VarSet("VarSet", {}, channel=seat, variable=name, value=value)

    events: list[ev.AmiEvent] = [
        new(),
        var("HOTLINE_CALLBACK_OF", "0.9"),
        var("HOTLINE_CALLBACK_NUMBER", "13900000003"),
        var("HOTLINE_CALLBACK_SEAT", "1001"),
    ]
    if seat_dials:
        events.append(ev.DialBegin("DialBegin", {}, channel=seat, dest=called, dial_string="x"))
        if called_cause is not None:
            events.append(ev.Hangup("Hangup", {}, channel=called, cause=called_cause))
        events.append(ev.DialEnd("DialEnd", {}, channel=seat, dest=called, dial_status=status))
    events.append(ev.Hangup("Hangup", {}, channel=seat, cause=16))
    done, _ = run(*events)
    (record,) = done
    assert (record.kind, record.direction, record.callback_of) == ("callback", "outbound", "0.9")
    assert (record.dialed, record.caller, record.seat) == ("13900000003",) * 2 + ("1001",)
    assert record.queues == [] and record.transfers == []
    return record


def test_callback_outcomes_busy_no_answer_failed_with_cause_and_seat_missed() -> None:
    busy = callback_run("BUSY", 17)
    assert (busy.disposition, busy.hangup_by) == ("busy", "called")
    no_answer = callback_run("NOANSWER", 19)
    assert (no_answer.disposition, no_answer.hangup_by) == ("no_answer", "pbx")
    failed = callback_run("CHANUNAVAIL", 34)
    assert (failed.disposition, failed.hangup_by) == ("failed", "cause 34")
    missed = callback_run("", None, seat_dials=False)
    assert (missed.disposition, missed.hangup_by) == ("failed", "seat_missed")
