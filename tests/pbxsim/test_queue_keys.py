"""A waiting caller's keys and the queue's periodic announcements, on pbxsim running the
repo's dialplan and queues (no FastAGI answers: every AGI() fails at once, so a key
sends the caller back into its queue, as the dialplan does when the service is down).

What app_queue does (apps/app_queue.c, 22.10.1): `periodic-announce` sounds play in
turn, the first `periodic-announce-startdelay` seconds after joining, then every
`periodic-announce-frequency` seconds; a key that is an extension of the queue's
`context` ends the wait (valid_exit), queue_log `EXITWITHKEY|key|position|origposition|
waittime`, QUEUEPOSITION set, no QueueCallerAbandon, no QUEUESTATUS; Queue()'s
`position` argument puts a caller back at that place."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pbxsim.app_queue.config import parse_queues_conf
from pbxsim.asterisk_ledger import AsteriskLedger, LedgerRow, QueueLogRow, pbx_apps
from pbxsim.channel import Channel
from pbxsim.clock import VirtualScheduler
from pbxsim.events import AmiEvent, EventBus
from pbxsim.telephony.pbx import PbxSystem, build_pbx
from pbxsim.telephony.softphone import Softphone

CONF = Path(__file__).resolve().parents[2] / "asterisk-conf"
START = 1_796_168_700.0
SOUNDS = {"hotline/queue-emergency": 7.0, "hotline/queue-callback": 8.0}


@dataclass
class Floor:
    scheduler: VirtualScheduler
    system: PbxSystem
    trunk: Softphone
    rows: list[LedgerRow] = field(default_factory=list)
    events: list[tuple[float, AmiEvent]] = field(default_factory=list)

    def call(self, caller: str) -> Channel:
        return self.trunk.incoming("12345", caller, "caller")

    def run_until(self, when: float) -> None:
        self.scheduler.run(until=START + when)

    def of(self, channel: Channel, *names: str) -> list[tuple[float, AmiEvent]]:
        return [
            (t - START, e)
            for t, e in self.events
            if e.get("Uniqueid") == channel.uniqueid and e.name in names
        ]

    def queue_log(self, channel: Channel) -> list[tuple[str, ...]]:
        return [
            (r.event, r.data1, r.data2, r.data3, r.data4)
            for r in self.rows
            if isinstance(r, QueueLogRow) and r.callid == channel.uniqueid
        ]

    def waiting(self) -> list[str]:
        queue = self.system.queues.queue("hotline-general")
        assert queue is not None
        return [e.host.channel.caller_num for e in queue.entries]


def floor() -> Floor:
    scheduler = VirtualScheduler(START)
    bus = EventBus()
    system = build_pbx(
        scheduler,
        bus,
        random.Random(5),
        extensions_conf=CONF / "extensions.conf",
        queues_conf=CONF / "queues.conf",
    )
    system.pbx.sound_lengths.update(SOUNDS)
    f = Floor(scheduler, system, Softphone(system.pbx, "trunk", "from-trunk"))
    AsteriskLedger(scheduler.now, f.rows.append, pbx_apps(system.pbx)).attach(bus)
    bus.subscribe(lambda event: f.events.append((scheduler.now(), event)))
    return f


def test_queues_conf_context_and_periodic_announcements_are_read() -> None:
    conf = parse_queues_conf(
        "[q]\ncontext = keys\nperiodic-announce = a,b|c\n"
        "periodic-announce-startdelay = 2\nperiodic-announce-frequency = 15\n"
        "relative-periodic-announce = yes\n[r]\nperiodic-announce = only|one\n"
    )
    q, r = conf.queue("q"), conf.queue("r")
    assert q is not None and r is not None
    assert (q.context, q.periodic_announce) == ("keys", ("a", "b", "c"))
    assert (q.periodic_announce_startdelay, q.periodic_announce_frequency) == (2, 15)
    assert q.relative_periodic_announce
    # without a comma app_queue keeps the value whole
    assert r.periodic_announce == ("only|one",)
    assert r.periodic_announce_startdelay == -1 and r.context == ""


def test_periodic_announcements_start_after_the_delay_and_take_turns() -> None:
    f = floor()
    caller = f.call("13900000001")
    f.run_until(40)
    [(joined, _)] = f.of(caller, "QueueCallerJoin")
    moh = [
        (round(t - joined), e.name) for t, e in f.of(caller, "MusicOnHoldStart", "MusicOnHoldStop")
    ]
    # music on joining; the emergency notice (7 s) at +2, the callback offer (8 s) at
    # +17 (frequency 15, counted from the start of the previous one), the notice again
    assert moh[:6] == [
        (0, "MusicOnHoldStart"),
        (2, "MusicOnHoldStop"),
        (9, "MusicOnHoldStart"),
        (17, "MusicOnHoldStop"),
        (25, "MusicOnHoldStart"),
        (32, "MusicOnHoldStop"),
    ]


def test_a_key_of_the_context_leaves_the_queue_and_the_caller_comes_back_to_its_place() -> None:
    f = floor()
    first, second, third = (f.call(f"1390000000{i}") for i in (1, 2, 3))
    f.run_until(20)
    assert f.waiting() == ["13900000001", "13900000002", "13900000003"]
    f.trunk.press(second, "1")
    f.run_until(21)
    assert f.waiting() == ["13900000001", "13900000002", "13900000003"]
    log = f.queue_log(second)
    assert [row[0] for row in log] == ["ENTERQUEUE", "EXITWITHKEY", "ENTERQUEUE"]
    # EXITWITHKEY|key|position|origposition|waittime; back in at position 2
    assert log[1][:4] == ("EXITWITHKEY", "1", "2", "2")
    assert int(log[1][4]) in (19, 20)
    assert log[2][3] == "2"
    leave = [e for _t, e in f.of(second, "QueueCallerLeave")]
    assert [(e.get("Position"), e.get("Count")) for e in leave] == [("2", "2")]
    assert not f.of(second, "QueueCallerAbandon")
    variables = {e.get("Variable"): e.get("Value") for _t, e in f.of(second, "VarSet")}
    assert variables["QUEUEPOSITION"] == "2"
    assert "ABANDONED" not in variables and "QUEUESTATUS" not in variables
    # the dialplan ran the key's extension, then came back into the same queue
    contexts = [e.get("Context") for _t, e in f.of(second, "Newexten")]
    assert "hotline-queue-keys" in contexts
    assert not first.hungup and not third.hungup and not second.hungup


def test_a_key_ends_an_announcement_and_other_keys_do_nothing() -> None:
    f = floor()
    caller = f.call("13900000001")
    f.run_until(3)  # the emergency notice plays from +2 s
    f.trunk.press(caller, "5")  # not an extension of hotline-queue-keys
    f.run_until(4)
    assert [row[0] for row in f.queue_log(caller)] == ["ENTERQUEUE"]
    f.trunk.press(caller, "9")
    f.run_until(5)
    log = f.queue_log(caller)
    assert [row[:2] for row in log] == [
        ("ENTERQUEUE", ""),
        ("EXITWITHKEY", "9"),
        ("ENTERQUEUE", ""),
    ]
    assert f.waiting() == ["13900000001"]
