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
