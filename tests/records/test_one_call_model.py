"""One truth of a call in progress: fed real Asterisk's event streams, the live model's
call (what `/calls/active` shows) and the record being written say the same about it
after every event (caller, number dialed, seat, answered, confidential; the queue a
caller joins), and a resync keeps what the snapshot cannot list."""

from __future__ import annotations

from pathlib import Path

import pytest

from ami import events as ev
from callcenter.live.node_state import NodeState
from callcenter.records.builder import FinishedCall, RecordBuilder
from tests.records.feed import StepClock, transcript_events

LOGS = ["ami.log", "ami-2.log", "sip/ami-sip.log"]


@pytest.mark.parametrize("log", LOGS)
def test_the_live_call_and_its_record_agree_after_every_event(
    transcripts_dir: Path, log: str
) -> None:
    clock = StepClock()
    state = NodeState("pbx1", clock)
    finished: list[FinishedCall] = []
    builder = RecordBuilder(clock, finished.append)
    compared = answered = joined = 0
    for _, t, event in transcript_events(transcripts_dir / log):
        clock.t = 1_795_000_000.0 + t
        state.apply(event)
        builder.apply("pbx1", event)
        for linkedid, call in state.calls.items():
            draft = builder.open.get(("pbx1", linkedid))
            if draft is None:
                continue
            compared += 1
            answered += call.answered_at is not None
            seen = (call.caller_id_num, call.dialed, call.seat, call.confidential)
            written = (draft.caller, draft.dialed, draft.seat, draft.confidential)
            assert seen == written, (log, event.name, linkedid)
            if isinstance(event, ev.QueueCallerJoin) and call.queue is not None:
                assert draft.in_queue == call.queue, (log, linkedid)
                joined += 1
            assert (call.answered_at is None) == (draft.answered_at is None), linkedid
    assert compared > 50 and answered > 0 and joined > 0


def test_a_confidential_mark_and_the_answering_seat_survive_a_resync(
    transcripts_dir: Path,
) -> None:
    clock = StepClock()
    state = NodeState("pbx1", clock)
    talking = None
    for _, t, event in transcript_events(transcripts_dir / "ami-2.log"):
        clock.t = 1_795_000_000.0 + t
        state.apply(event)
        if isinstance(event, ev.AgentConnect) and event.channel is not None:
            talking = event.channel.linkedid
            break
    assert talking is not None
    call = state.calls[talking]
    assert call.seat and call.answered_at is not None
    assert state.mark_confidential(talking) and not state.mark_confidential("no.such.call")

    listed = [  # what CoreShowChannels lists now
        ev.CoreShowChannel(
            "CoreShowChannel",
            {},
            ev.ChannelSnapshot(
                chan.name,
                chan.state,
                chan.state_desc,
                chan.caller_id_num,
                chan.caller_id_name,
                chan.connected_line_num,
                chan.connected_line_name,
                "",
                "",
                chan.context,
                chan.exten,
                chan.priority,
                chan.uniqueid,
                chan.linkedid,
            ),
            bridge_id=chan.bridge or "",
        )
        for chan in state.channels.values()
    ]
    state.load_snapshot([], [], [], listed, clock())
    again = state.calls[talking]
    assert again is not call  # rebuilt from the snapshot
    assert (again.seat, again.answered_at, again.confidential, again.dialed) == (
        call.seat,
        call.answered_at,
        True,
        call.dialed,
    )
