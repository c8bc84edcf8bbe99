"""The live model, fed real Asterisk events, agrees with real Asterisk's QueueStatus.

Every QueueStatus reply in the transcripts is a checkpoint: the model built from the
events before it must list the same members (every field) and the same waiting callers
(position, channel, caller id, priority). The transcripts carry no event timestamps, so
time fields are checked against the recorder's clock: Wait within 2 s, LastCall within
the interval between the recorder's last action before the call ended and the checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ami.events import QueueEntry, QueueMember, QueueParams, parse_event
from ami.frames import parse_frame
from callcenter.live.audit import MEMBER_FIELDS
from callcenter.live.node_state import NodeState
from tests.pbxsim.transcript import ClientAction, ServerFrame, load_ami_log


class RecorderClock:
    """PBX time, from the recorder's time column and Ping's Timestamp."""

    def __init__(self) -> None:
        self.offset: float | None = None
        self.t = 0.0

    def __call__(self) -> float:
        return (self.offset or 0.0) + self.t


def typed(frame: ServerFrame):  # type: ignore[no-untyped-def]
    return parse_event(parse_frame(frame.to_bytes().removesuffix(b"\r\n\r\n")))


def checkpoints(path: Path) -> list[tuple[str, int]]:
    out = []
    for scenario in load_ami_log(path):
        for step in scenario.steps:
            if isinstance(step, ClientAction) and step.action == "QueueStatus":
                out.append((scenario.title, step.line_no))
    return out


def run_until_checkpoints(
    path: Path, snapshot_first: bool
) -> list[tuple[NodeState, list[object], float]]:
    """Feed the log; at each QueueStatus reply, copy out (model, reply items, clock).

    `snapshot_first`: the recorder connected to a PBX that already had state (static
    members in queues.conf) and sent no QueueStatus at login, as our resync does; its
    first QueueStatus then serves as the resync snapshot instead of as a check."""
    import copy

    clock = RecorderClock()
    state = NodeState("pbx1", clock)
    results = []
    pending: dict[str, list[object]] = {}
    for scenario in load_ami_log(path):
        for step in scenario.steps:
            if isinstance(step, ClientAction):
                clock.t = step.time
                if step.action == "QueueStatus" and step.action_id:
                    pending[step.action_id] = []
                continue
            if step.kind == "response" and step.get("Ping") == "Pong" and clock.offset is None:
                clock.offset = float(step.get("Timestamp") or 0) - clock.t
            if step.kind != "event":
                continue
            if clock.offset is None and step.name == "QueueMemberAdded":
                clock.offset = float(step.get("LoginTime") or 0) - clock.t + 0.5
            if clock.offset is None and step.name == "Newchannel":  # Uniqueid = time.seq
                clock.offset = float((step.get("Uniqueid") or "0").split(".")[0]) - clock.t
            if step.action_id in pending:
                items = pending[step.action_id]
                if step.name == "QueueStatusComplete":
                    del pending[step.action_id]
                    if snapshot_first:
                        snapshot_first = False
                        # connected after the PBX had state (static members, callers):
                        # the first QueueStatus is the resync snapshot, not a check
                        state.load_snapshot(
                            [i for i in items if isinstance(i, QueueParams)],
                            [i for i in items if isinstance(i, QueueMember)],
                            [i for i in items if isinstance(i, QueueEntry)],
                            [],
                            clock(),
                        )
                        continue
                    results.append((copy.deepcopy(state), items, clock()))
                else:
                    items.append(typed(step))
                continue
            if step.action_id is not None:
                continue  # other list items (DBGet...), not events
            state.apply(typed(step))
    return results


def member_fields(m: object) -> dict[str, object]:
    return {k: getattr(m, k) for k in ("queue", "interface", *MEMBER_FIELDS)}


@pytest.mark.parametrize(
    "log, snapshot_first", [("ami.log", False), ("ami-2.log", False), ("sip/ami-sip.log", True)]
)
def test_model_equals_queuestatus_at_every_checkpoint(
    transcripts_dir: Path, log: str, snapshot_first: bool
) -> None:
    results = run_until_checkpoints(transcripts_dir / log, snapshot_first)
    assert results, "no QueueStatus checkpoint found"
    for state, items, now in results:
        members = [i for i in items if isinstance(i, QueueMember)]
        entries = [i for i in items if isinstance(i, QueueEntry)]
        params = [i for i in items if isinstance(i, QueueParams)]
        for p in params:
            queue = state.queues.get(p.queue)
            waiting = len(queue.entries) if queue else 0
            assert waiting == p.calls, f"{log}: {p.queue}: {waiting} waiting, Asterisk {p.calls}"
        for m in members:
            ours = state.queues[m.queue].members.get(m.interface)
            assert ours is not None, f"{log}: {m.queue}/{m.interface} missing"
            assert member_fields(ours) == member_fields(m), f"{log}: {m.interface}"
            # the model stamps LastCall with the clock of the last action the recorder
            # sent before AgentComplete; Asterisk's value lies between that and now
            assert (ours.last_call == 0) == (m.last_call == 0)
            assert ours.last_call - 1 <= m.last_call <= now + 1, (ours.last_call, m.last_call)
        listed = {(m.queue, m.interface) for m in members}
        ours_all = {
            (q, i)
            for q, queue in state.queues.items()
            for i in queue.members
            if not params or q in {p.queue for p in params}
        }
        assert ours_all == listed, f"{log}: members differ"
        for e in entries:
            ours_e = state.queues[e.queue].entries[e.uniqueid]
            assert (ours_e.position, ours_e.channel, ours_e.priority) == (
                e.position,
                e.channel_name,
                e.priority,
            )
            assert (ours_e.caller_id_num, ours_e.caller_id_name) == (
                e.caller_id_num,
                e.caller_id_name,
            )
            assert abs((now - ours_e.joined_at) - e.wait) <= 2


@pytest.mark.parametrize("log", ["ami.log", "ami-2.log", "sip/ami-sip.log"])
def test_events_after_a_hangup_leave_no_ghost(transcripts_dir: Path, log: str) -> None:
    """Asterisk publishes a member's connected line after the Hangup of a ring that
    came to nothing (ami.log, ami-2.log): the model must not bring the channel back,
    which would keep its call open for ever (on /calls/active, in every count of calls
    in progress)."""
    state = NodeState("pbx1", lambda: 0.0)
    hung_up: set[str] = set()
    late = 0
    for scenario in load_ami_log(transcripts_dir / log):
        for step in scenario.steps:
            if isinstance(step, ClientAction) or step.kind != "event":
                continue
            uniqueid = step.get("Uniqueid")
            late += step.name == "NewConnectedLine" and uniqueid in hung_up
            if step.name == "Hangup":
                hung_up.add(uniqueid or "")
            event = typed(step)
            if event is not None:
                state.apply(event)
    assert late or log == "sip/ami-sip.log", "the transcript shows no late connected line"
    assert not hung_up & set(state.channels)
    assert state.calls == {}, f"{log}: calls left open: {list(state.calls)}"
