"""Queue AMI actions against real Asterisk 22.10.1 replies (ami.log, ami-2.log).

The members-join scenario of ami.log is replayed action by action: every reply (ack,
list items, Complete) and every member event must equal the transcript byte for byte,
field order included. Texts the transcripts lack are checked against app_queue.c's.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from pbxsim.app_queue.config import load_queues_conf
from pbxsim.app_queue.engine import QueueEngine
from pbxsim.app_queue.manager import QueueManager, register
from pbxsim.clock import VirtualScheduler
from pbxsim.events import AmiEvent, EventBus
from pbxsim.manager_api import ActionRegistry, CliRegistry, Request
from tests.pbxsim.transcript import Scenario, ServerFrame, find_scenario, load_ami_log

#: ami.log's members joined at LoginTime 1795691892 (2.306 s into the recording)
T0 = 1795691892.3


class Rig:
    def __init__(
        self, transcripts_dir: Path, start: float = T0, only: tuple[str, ...] = ()
    ) -> None:
        self.scheduler = VirtualScheduler(start=start)
        self.bus = EventBus()
        self.events: list[AmiEvent] = []
        self.bus.subscribe(self.events.append)
        conf = load_queues_conf(transcripts_dir / "config" / "queues.conf")
        if only:
            conf = replace(conf, queues=tuple(q for q in conf.queues if q.name in only))
        self.engine = QueueEngine(self.scheduler, self.bus, random.Random(1), conf)
        self.engine.device_query = lambda device: (
            "NOT_INUSE" if device.startswith("Local/") else "UNKNOWN"
        )
        self.actions = ActionRegistry()
        self.cli = CliRegistry()
        self.manager = register(self.engine, self.actions, self.cli)

    def send(self, headers: tuple[tuple[str, str], ...]) -> list[tuple[tuple[str, str], ...]]:
        request = Request(headers)
        action = self.actions.lookup(request.action)
        assert action is not None, request.action
        messages = action.handler(request)
        assert isinstance(messages, list)  # the queue actions answer synchronously
        return [tuple(message) for message in messages]


def _event_frame(event: AmiEvent) -> tuple[tuple[str, str], ...]:
    return (("Event", event.name), ("Privilege", f"{event.privilege},all"), *event.fields)


@pytest.fixture(scope="module")
def ami_log(transcripts_dir: Path) -> list[Scenario]:
    return load_ami_log(transcripts_dir / "ami.log")


@pytest.fixture(scope="module")
def ami2_log(transcripts_dir: Path) -> list[Scenario]:
    return load_ami_log(transcripts_dir / "ami-2.log")


def test_members_join_scenario_replays_exactly(
    transcripts_dir: Path, ami_log: list[Scenario]
) -> None:
    scenario = find_scenario(ami_log, "members join")
    # ami.log was recorded before the q-* queues were added to queues.conf
    rig = Rig(transcripts_dir, only=("hotline-general",))
    for action in scenario.actions:
        if action.action == "QueueStatus":
            rig.scheduler.run(until=T0 + 0.5)
        expected = [f.fields for f in scenario.replies_to(action)]
        assert rig.send(action.headers) == expected, action.action
        rig.scheduler.run(until=rig.scheduler.now())
    member_events = [
        f.fields
        for f in scenario.frames
        if f.kind == "event" and f.name in ("QueueMemberAdded", "DeviceStateChange")
    ]
    assert [_event_frame(e) for e in rig.events] == member_events


def test_member_events_follow_the_response(transcripts_dir: Path) -> None:
    """Asterisk publishes QueueMemberAdded asynchronously: the ack is written first."""
    rig = Rig(transcripts_dir)
    reply = rig.send((("Action", "QueueAdd"), ("Queue", "q-ringall"), ("Interface", "PJSIP/7")))
    assert reply == [(("Response", "Success"), ("Message", "Added interface to queue"))]
    assert rig.events == []
    rig.scheduler.run()
    assert [e.name for e in rig.events] == [
        "DeviceStateChange",
        "QueueMemberAdded",
        "DeviceStateChange",
    ]


def test_ringall_members_get_status_from_local_device_state(
    transcripts_dir: Path, ami2_log: list[Scenario]
) -> None:
    """ami-2.log: Local members whose state interface is the Local device start at
    Status 1 (NOT_INUSE); the third QueueAdd does not re-announce Queue:..._avail."""
    scenario = find_scenario(ami2_log, "ringall")
    adds = [a for a in scenario.actions if a.action == "QueueAdd"]
    login = int(scenario.events("QueueMemberAdded")[0].get("LoginTime") or 0)
    rig = Rig(transcripts_dir, start=login + 0.2)
    for action in adds:
        assert rig.send(action.headers) == [f.fields for f in scenario.replies_to(action)]
    rig.scheduler.run()
    expected: list[ServerFrame] = []
    for frame in scenario.frames:
        if frame.kind == "event" and frame.name in ("QueueMemberAdded", "DeviceStateChange"):
            if frame.name == "DeviceStateChange" and not (frame.get("Device") or "").startswith(
                "Queue:"
            ):
                break
            expected.append(frame)
    assert [_event_frame(e) for e in rig.events] == [f.fields for f in expected]


def test_penalty_and_pause_replies_match_transcript(
    transcripts_dir: Path, ami2_log: list[Scenario]
) -> None:
    rig = Rig(transcripts_dir)
    rig.send(
        (
            ("Action", "QueueAdd"),
            ("Queue", "q-penalty"),
            ("Interface", "Local/2102@sim-agent/n"),
            ("MemberName", "seat-2102"),
            ("Penalty", "1"),
        )
    )
    for title, action_name in (("QueuePenalty", "QueuePenalty"), ("caller priority", "QueuePause")):
        scenario = find_scenario(ami2_log, title)
        action = next(a for a in scenario.actions if a.action == action_name)
        assert rig.send(action.headers) == [f.fields for f in scenario.replies_to(action)]
    rig.scheduler.run()
    penalty = next(e for e in rig.events if e.name == "QueueMemberPenalty")
    assert penalty.get("Penalty") == "2"
    pause = next(e for e in rig.events if e.name == "QueueMemberPause")
    assert (pause.get("Paused"), pause.get("PausedReason")) == ("1", "meeting")
    assert [k for k, _ in pause.fields] == [
        k
        for k, _ in find_scenario(ami2_log, "caller priority").events("QueueMemberPause")[0].fields
    ][2:]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ((("Action", "QueueAdd"), ("Interface", "PJSIP/1")), "'Queue' not specified."),
        ((("Action", "QueueAdd"), ("Queue", "q-ringall")), "'Interface' not specified."),
        (
            (("Action", "QueueAdd"), ("Queue", "nope"), ("Interface", "PJSIP/1")),
            "Unable to add interface to queue: No such queue",
        ),
        (
            (("Action", "QueueRemove"), ("Queue", "q-ringall")),
            "Need 'Queue' and 'Interface' parameters.",
        ),
        (
            (("Action", "QueueRemove"), ("Queue", "q-ringall"), ("Interface", "PJSIP/404")),
            "Unable to remove interface: Not there",
        ),
        (
            (("Action", "QueueRemove"), ("Queue", "nope"), ("Interface", "PJSIP/1")),
            "Unable to remove interface from queue: No such queue",
        ),
        (
            (("Action", "QueuePause"), ("Interface", "PJSIP/1")),
            "Need 'Interface' and 'Paused' parameters.",
        ),
        (
            (("Action", "QueuePause"), ("Interface", "PJSIP/404"), ("Paused", "true")),
            "Interface not found",
        ),
        (
            (("Action", "QueuePenalty"), ("Interface", "PJSIP/1")),
            "Need 'Interface' and 'Penalty' parameters.",
        ),
        (
            (("Action", "QueueMemberRingInUse"), ("Interface", "PJSIP/1")),
            "Need 'Interface' and 'RingInUse' parameters.",
        ),
        (
            (("Action", "QueueMemberRingInUse"), ("Interface", "PJSIP/1"), ("RingInUse", "maybe")),
            "'RingInUse' parameter must be a truth value (yes/no, on/off, 0/1, etc)",
        ),
        (
            (("Action", "QueueMemberRingInUse"), ("Interface", "PJSIP/404"), ("RingInUse", "no")),
            "Invalid interface, queuename, or ringinuse value\n",
        ),
        (
            (("Action", "QueuePenalty"), ("Interface", "PJSIP/404"), ("Penalty", "3")),
            "Invalid interface, queuename or penalty",
        ),
    ],
)
def test_error_texts(
    transcripts_dir: Path, headers: tuple[tuple[str, str], ...], message: str
) -> None:
    rig = Rig(transcripts_dir)
    request = (*headers, ("ActionID", "e1"))
    assert rig.send(request) == [(("Response", "Error"), ("ActionID", "e1"), ("Message", message))]


def test_add_twice_and_remove_static_member(transcripts_dir: Path) -> None:
    rig = Rig(transcripts_dir)
    add = (("Action", "QueueAdd"), ("Queue", "q-ringall"), ("Interface", "PJSIP/1"))
    assert rig.send(add)[0][-1] == ("Message", "Added interface to queue")
    assert rig.send(add)[0][-1] == ("Message", "Unable to add interface: Already there")
    sip_conf = (transcripts_dir / "sip" / "queues.conf").read_text()
    from pbxsim.app_queue.config import parse_queues_conf

    rig.engine.load(parse_queues_conf(sip_conf.replace("[hotline-general]", "[sip-q]")))
    remove = (("Action", "QueueRemove"), ("Queue", "sip-q"), ("Interface", "PJSIP/1001"))
    assert rig.send(remove)[0][-1] == ("Message", "Member not dynamic")


def test_queue_show_matches_transcript_shape(
    transcripts_dir: Path, ami_log: list[Scenario]
) -> None:
    """Rebuild the state behind ami.log's `queue show hotline-general` (3 completed calls,
    1 abandoned, one paused member) and compare the CLI text line by line."""
    scenario = find_scenario(ami_log, "CoreShowChannels")
    action = next(a for a in scenario.actions if a.action == "Command")
    expected = (scenario.response_to(action) or pytest.fail("no reply")).get_all("Output")
    rig = Rig(transcripts_dir)
    q = rig.engine.queue("hotline-general")
    assert q is not None
    add = (("Action", "QueueAdd"), ("Queue", "hotline-general"))
    rig.send(
        (*add, ("Interface", "Local/1001@sim-agent/n"), ("MemberName", "seat-1001"),
         ("StateInterface", "Custom:1001"))
    )  # fmt: skip
    rig.send(
        (*add, ("Interface", "Local/1002@sim-agent/n"), ("MemberName", "seat-1002"),
         ("StateInterface", "Custom:1002"), ("Penalty", "1"), ("Paused", "true"),
         ("Reason", "training"))
    )  # fmt: skip
    m1 = q.find("Local/1001@sim-agent/n")
    assert m1 is not None
    q.holdtime, q.talktime = 3, 3
    q.completed, q.completed_in_sl, q.abandoned, q.abandoned_in_sl = 3, 2, 1, 1
    m1.calls = 3
    m1.lastcall = T0 + 56
    rig.scheduler.run(until=T0 + 63)
    assert rig.cli.run("queue show hotline-general") == expected
    assert rig.cli.run("queue show nope") == ["No such queue: nope."]


def test_queue_status_filters_and_summary(transcripts_dir: Path) -> None:
    rig = Rig(transcripts_dir)
    for iface in ("PJSIP/1", "PJSIP/2"):
        rig.send((("Action", "QueueAdd"), ("Queue", "q-ringall"), ("Interface", iface)))
    reply = rig.send(
        (
            ("Action", "QueueStatus"),
            ("Queue", "Q-RINGALL"),
            ("Member", "PJSIP/2"),
            ("ActionID", "7"),
        )
    )
    names = [dict(m).get("Event") for m in reply[1:]]
    assert names == ["QueueParams", "QueueMember", "QueueStatusComplete"]
    assert dict(reply[2])["Location"] == "PJSIP/2"
    assert reply[-1] == (
        ("Event", "QueueStatusComplete"),
        ("ActionID", "7"),
        ("EventList", "Complete"),
        ("ListItems", "2"),
    )
    summary = rig.send((("Action", "QueueSummary"), ("Queue", "q-ringall")))
    assert dict(summary[1])["LoggedIn"] == "2"
    assert dict(summary[1])["Available"] == "2"


def test_queue_status_lists_queues_in_asterisk_hash_order(
    transcripts_dir: Path, ami2_log: list[Scenario]
) -> None:
    scenario = find_scenario(ami2_log, "Originate failures")
    expected = [f.get("Queue") for f in scenario.frames if f.name == "QueueParams"]
    rig = Rig(transcripts_dir)
    reply = rig.send((("Action", "QueueStatus"),))
    assert [dict(m)["Queue"] for m in reply[1:-1]] == expected


def test_actions_register_with_app_queue_privileges(transcripts_dir: Path) -> None:
    rig = Rig(transcripts_dir)
    privileges = {
        name: (rig.actions.lookup(name) or pytest.fail(name)).privilege
        for name in ("QueueAdd", "QueueRemove", "QueuePause", "QueuePenalty", "QueueStatus")
    }
    assert privileges["QueueStatus"] == ""
    assert {privileges[n] for n in ("QueueAdd", "QueueRemove", "QueuePause", "QueuePenalty")} == {
        "agent"
    }
    assert isinstance(rig.manager, QueueManager)


def test_penalty_is_parsed_like_atoi_and_negative_is_refused(transcripts_dir: Path) -> None:
    rig = Rig(transcripts_dir)
    rig.send(
        (("Action", "QueueAdd"), ("Queue", "q-ringall"), ("Interface", "PJSIP/1"), ("Penalty", "4"))
    )
    member = (rig.engine.queue("q-ringall") or pytest.fail("queue")).find("PJSIP/1")
    assert member is not None and member.penalty == 4
    penalty = (("Action", "QueuePenalty"), ("Interface", "PJSIP/1"))
    ok = ("Message", "Interface penalty set successfully")
    assert rig.send((*penalty, ("Penalty", "7 seats")))[0][-1] == ok
    assert member.penalty == 7
    assert rig.send((*penalty, ("Penalty", "-1")))[0] == (
        ("Response", "Error"),
        ("Message", "Invalid interface, queuename or penalty"),
    )
    assert rig.send((*penalty, ("Penalty", "x")))[0][-1] == ok  # atoi("x") == 0
    assert member.penalty == 0


def test_ringinuse_and_reset(transcripts_dir: Path) -> None:
    rig = Rig(transcripts_dir)
    rig.send((("Action", "QueueAdd"), ("Queue", "q-ringall"), ("Interface", "PJSIP/1")))
    queue = rig.engine.queue("q-ringall")
    assert queue is not None
    member = queue.find("PJSIP/1")
    assert member is not None and member.ringinuse is False
    reply = rig.send(
        (("Action", "QueueMemberRingInUse"), ("Interface", "PJSIP/1"), ("RingInUse", "yes"))
    )
    assert reply[0][-1] == ("Message", "Interface ringinuse set successfully")
    rig.scheduler.run()
    event = rig.events[-1]
    assert (event.name, event.get("Ringinuse")) == ("QueueMemberRinginuse", "1")
    queue.completed, queue.abandoned, queue.holdtime = 5, 2, 30
    member.calls, member.lastcall = 5, T0
    assert rig.send((("Action", "QueueReset"), ("Queue", "q-ringall")))[0][-1] == (
        "Message",
        "Queue stats reset successfully",
    )
    assert (queue.completed, queue.abandoned, queue.holdtime, member.calls) == (0, 0, 0, 0)
