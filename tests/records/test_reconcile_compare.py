"""What counts as a disagreement between a record and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.records.ledger_calls import (
    CelRow,
    LedgerCall,
    QueueRow,
    build_calls,
    member_interface,
)
from callcenter.records.reconcile import compare
from callcenter.records.store import DialedUnit

T0 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def _answered() -> LedgerCall:
    return LedgerCall(
        linkedid="1.1",
        started_at=T0,
        ended_at=T0,
        inbound=True,
        channel="PJSIP/trunk-00000001",
        caller="13900000001",
        dialed="043266453987",
        queues=["hotline-social-security"],
        queue_exit="answered",
        wait_s=4.0,
        agent="PJSIP/1003",
        seat="1003",
        answered_at=T0,
        talk_s=13.0,
        hangup_by="caller",
    )


def _record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "dialed": "043266453987",
        "unit": "U001",
        "queue": "hotline-social-security",
        "queues": ["hotline-social-security"],
        "agent": "PJSIP/1003",
        "seat": "1003",
        "wait_s": 4.6,  # within 1 s
        "talk_s": 13.9,
        "hangup_by": "caller",
        "disposition": "answered",
    }
    return base | changes


def route(dialed: str) -> DialedUnit | None:
    return DialedUnit("U001", "市本级", "merge") if dialed == "043266453987" else None


def test_an_agreeing_record_within_a_second_is_left_alone() -> None:
    assert compare(_record(), _answered(), route) == ([], {})
    # the record knows of a dialplan transfer the queue_log cannot show
    assert (
        compare(_record(disposition="transferred", hangup_by="transfer"), _answered(), route)[0]
        == []
    )


def test_talk_lost_under_load_is_corrected_from_completecaller() -> None:
    corrections, values = compare(_record(talk_s=0.0), _answered(), route)
    assert [(c.field, c.record, c.ledger) for c in corrections] == [("talk_s", 0.0, 13.0)]
    assert values == {"talk_s": 13.0}


def test_a_unit_correction_brings_district_and_mode() -> None:
    corrections, values = compare(_record(unit=""), _answered(), route)
    assert [c.field for c in corrections] == ["unit"]
    assert values == {"unit": "U001", "district": "市本级", "mode": "merge"}


def test_an_unanswered_call_with_a_callback_request_keeps_its_disposition() -> None:
    call = _answered()
    call.answered_at, call.seat, call.agent, call.talk_s, call.queue_exit = None, "", "", None, ""
    call.queue_exit = "abandoned"
    record = _record(seat="", agent="", talk_s=0.0, disposition="callback_requested")
    assert compare(record, call, route) == ([], {})


def test_member_interfaces() -> None:
    assert member_interface("PJSIP/1005-00000020") == "PJSIP/1005"
    assert member_interface("Local/1005@agents-0000001a;1") == "Local/1005@agents"
    assert member_interface("") == ""


def _cel(eventtype: str, second: float, uniqueid: str = "1.1") -> CelRow:
    return CelRow(
        eventtype,
        datetime(2026, 12, 1, 23, 0, 0) + timedelta(seconds=second),
        "13900000001",
        "12345",
        "from-trunk",
        "PJSIP/trunk-00000001" if uniqueid == "1.1" else "PJSIP/1001-00000002",
        uniqueid,
        "1.1",
        "",
    )


def _enter(second: float, queue: str) -> QueueRow:
    at = datetime(2026, 12, 1, 23, 0, 0) + timedelta(seconds=second)
    return QueueRow(at, "1.1", queue, "NONE", "ENTERQUEUE", "", "13900000001", "1")


def test_time_to_queue_is_the_first_channels_answer_to_its_first_enterqueue() -> None:
    cel = [
        _cel("CHAN_START", 0.0),
        _cel("ANSWER", 0.25),
        _cel("ANSWER", 20.0, uniqueid="1.2"),  # the seat's leg: not the caller's answer
        _cel("LINKEDID_END", 60.0),
    ]
    queue = [_enter(17.5, "hotline-general"), _enter(40.0, "hotline-housing")]
    (call,) = build_calls(cel, queue)
    assert call.queued_after_s == 17.25
    (never_queued,) = build_calls(cel, [])
    assert never_queued.queued_after_s is None
    (unanswered,) = build_calls([cel[0], cel[3]], queue)  # no ANSWER in the ledger
    assert unanswered.queued_after_s is None
