"""The queue engine without channels: strategies, penalties, wrap-up, ringinuse,
joinempty, priorities, abandon, timeouts and the per-path event/variable order."""

from __future__ import annotations

import random

import pytest

from pbxsim.app_queue.config import QueueConfig, QueuesConf
from pbxsim.app_queue.engine import QueueEngine, QueueEntry, RingAttempt
from pbxsim.clock import VirtualScheduler
from pbxsim.events import AmiEvent, EventBus, Fields

T0 = 1_795_000_000.0


class Host:
    """Records what the engine asks of the channel side; answers when told to."""

    def __init__(self, rig: Rig, name: str) -> None:
        self.rig = rig
        self.name = name
        self.vars: dict[str, str] = {}
        self.log: list[str] = []
        self.ringing: list[RingAttempt] = []
        self.status: str | bool | None = False  # False: Queue() has not returned
        self.refuse: set[str] = set()

    def caller_block(self) -> Fields:
        return [("Channel", self.name), ("Uniqueid", f"u-{self.name}")]

    def dest_block(self, attempt: RingAttempt) -> Fields:
        return [("DestChannel", attempt.member.interface)]

    def set_var(self, name: str, value: str) -> None:
        self.vars[name] = value
        self.log.append(f"var {name}={value}")

    def set_member_var(self, attempt: RingAttempt, name: str, value: str) -> None:
        self.log.append(f"member var {name}={value}")

    def hold_start(self, musicclass: str) -> None:
        self.log.append(f"moh start {musicclass}")

    def hold_stop(self) -> None:
        self.log.append("moh stop")

    def ring(self, attempt: RingAttempt) -> bool:
        if attempt.member.interface in self.refuse:
            return False
        self.log.append(f"ring {attempt.member.interface}")
        return True

    def dial_begin(self, attempt: RingAttempt) -> None:
        self.ringing.append(attempt)
        self.rig.order.append(attempt.member.interface)

    def end_ring(self, attempt: RingAttempt, status: str) -> None:
        self.log.append(f"end {attempt.member.interface} {status}")
        self.ringing.remove(attempt)

    def connect(self, attempt: RingAttempt) -> None:
        self.log.append(f"connect {attempt.member.interface}")
        self.ringing.remove(attempt)

    def finished(self, status: str | None) -> None:
        self.status = status
        self.log.append(f"finished {status}")

    def answer(self, interface: str) -> None:
        attempt = next(a for a in self.ringing if a.member.interface == interface)
        self.rig.engine.answered(attempt)


class Rig:
    def __init__(self, **queue: object) -> None:
        self.scheduler = VirtualScheduler(start=T0)
        self.bus = EventBus()
        self.events: list[AmiEvent] = []
        self.bus.subscribe(self.events.append)
        config = QueueConfig(name="q", **queue)  # type: ignore[arg-type]
        self.engine = QueueEngine(
            self.scheduler, self.bus, random.Random(7), QueuesConf(queues=(config,))
        )
        self.order: list[str] = []

    def add(self, *interfaces: str, **kwargs: object) -> None:
        for interface in interfaces:
            self.engine.device_state_changed(interface, "NOT_INUSE")
            assert self.engine.add_member("q", interface, **kwargs) == "ok"  # type: ignore[arg-type]

    def join(self, name: str = "caller", **kwargs: object) -> tuple[Host, QueueEntry]:
        host = Host(self, name)
        entry = self.engine.join("q", host, **kwargs)  # type: ignore[arg-type]
        assert isinstance(entry, QueueEntry), entry
        return host, entry

    def call(self, member_answers: str | None = None, talk: float = 10.0) -> str:
        """One caller, answered by whoever rings first (or `member_answers`)."""
        host, entry = self.join()
        self.scheduler.run(until=self.scheduler.now())
        assert host.ringing, "nobody rang"
        interface = member_answers or host.ringing[0].member.interface
        host.answer(interface)
        self.scheduler.run(until=self.scheduler.now() + talk)
        self.engine.call_ended(entry, "agent")
        return interface

    def names(self, *wanted: str) -> list[str]:
        return [e.name for e in self.events if not wanted or e.name in wanted]


def test_ringall_rings_everyone_in_reverse_listing_order_and_cancels_losers() -> None:
    rig = Rig(strategy="ringall", timeout=5)
    rig.add("Local/3001@a/n", "Local/3002@a/n", "Local/2001@a/n")
    host, _ = rig.join()
    # ami-2.log: listed 3001, 3002, 2001; rung 2001, 3002, 3001
    assert rig.order == ["Local/2001@a/n", "Local/3002@a/n", "Local/3001@a/n"]
    rig.scheduler.run(until=T0 + 1)
    host.answer("Local/2001@a/n")
    assert host.log[-7:] == [
        "end Local/3002@a/n CANCEL",
        "end Local/3001@a/n CANCEL",
        "moh stop",
        "var QUEUEPOSITION=1",
        "var QUEUEWAIT=1",
        "var QUEUEWAIT_MS=1000",
        "connect Local/2001@a/n",
    ]
    assert "AgentRingNoAnswer" not in rig.names()
    assert rig.names("AgentCalled", "QueueCallerLeave", "AgentConnect") == [
        "AgentCalled",
        "AgentCalled",
        "AgentCalled",
        "QueueCallerLeave",
        "AgentConnect",
    ]
    connect = rig.events[-1]
    assert connect.get("HoldTime") == "1" and connect.get("RingTime") == "1"


def test_penalty_tiers_skip_to_next_tier_only_when_lower_is_unavailable() -> None:
    rig = Rig(strategy="ringall")
    rig.add("PJSIP/p0", penalty=0)
    rig.add("PJSIP/p1", penalty=1)
    host, _ = rig.join()
    assert rig.order == ["PJSIP/p0"]
    host.answer("PJSIP/p0")
    rig.engine.set_paused("PJSIP/p0", True, "q", "meal")
    rig.order.clear()
    rig.join("second")
    assert rig.order == ["PJSIP/p1"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("rrmemory", ["PJSIP/a", "PJSIP/b", "PJSIP/c", "PJSIP/a", "PJSIP/b"]),
        ("rrordered", ["PJSIP/a", "PJSIP/b", "PJSIP/c", "PJSIP/a", "PJSIP/b"]),
        ("linear", ["PJSIP/a", "PJSIP/a", "PJSIP/a", "PJSIP/a", "PJSIP/a"]),
    ],
)
def test_sequential_strategies(strategy: str, expected: list[str]) -> None:
    rig = Rig(strategy=strategy)
    rig.add("PJSIP/a", "PJSIP/b", "PJSIP/c")
    assert [rig.call() for _ in expected] == expected


def _listing(rig: Rig) -> list[str]:
    queue = rig.engine.queue("q")
    assert queue is not None
    return [m.interface for m in queue.members]


def test_fewestcalls_ties_go_to_the_member_listed_last() -> None:
    rig = Rig(strategy="fewestcalls")
    rig.add("PJSIP/a", "PJSIP/b", "PJSIP/c")
    backwards = _listing(rig)[::-1]
    assert [rig.call() for _ in range(6)] == backwards * 2


def test_leastrecent_prefers_the_member_idle_longest() -> None:
    rig = Rig(strategy="leastrecent")
    rig.add("PJSIP/a", "PJSIP/b", "PJSIP/c")
    first = [rig.call(talk=5) for _ in range(3)]
    assert sorted(first) == ["PJSIP/a", "PJSIP/b", "PJSIP/c"]
    assert [rig.call(talk=5) for _ in range(3)] == first  # oldest lastcall first


def test_random_uses_the_injected_rng_and_reaches_everyone() -> None:
    rig = Rig(strategy="random")
    rig.add("PJSIP/a", "PJSIP/b", "PJSIP/c")
    picks = [rig.call(talk=1) for _ in range(30)]
    assert set(picks) == {"PJSIP/a", "PJSIP/b", "PJSIP/c"}
    again = Rig(strategy="random")
    again.add("PJSIP/a", "PJSIP/b", "PJSIP/c")
    assert [again.call(talk=1) for _ in range(30)] == picks


def test_ringinuse_no_skips_a_busy_device_but_ringinuse_yes_rings_it() -> None:
    for ringinuse in (False, True):
        rig = Rig(strategy="ringall", ringinuse=ringinuse)
        rig.add("PJSIP/a", "PJSIP/b")
        rig.engine.device_state_changed("PJSIP/a", "INUSE")
        rig.join()
        everyone = _listing(rig)[::-1]
        assert rig.order == (everyone if ringinuse else ["PJSIP/b"])


def test_wrapup_blocks_the_member_until_it_ends() -> None:
    rig = Rig(strategy="rrmemory", wrapuptime=3, retry=1)
    rig.add("PJSIP/a")
    rig.call(talk=2)
    done_at = rig.scheduler.now()
    host, _ = rig.join("next")
    assert host.ringing == []
    rig.scheduler.run(until=done_at + 2.5)
    assert host.ringing == []
    rig.scheduler.run(until=done_at + 3.0)
    assert [a.member.interface for a in host.ringing] == ["PJSIP/a"]


def test_ring_no_answer_then_retry() -> None:
    rig = Rig(strategy="rrmemory", timeout=4, retry=1)
    rig.add("PJSIP/a")
    host, _ = rig.join()
    rig.scheduler.run(until=T0 + 4)
    rna = [e for e in rig.events if e.name == "AgentRingNoAnswer"]
    assert [e.get("RingTime") for e in rna] == ["4000"]
    assert host.log[-1] == "end PJSIP/a NOANSWER"
    rig.scheduler.run(until=T0 + 4.9)
    assert rig.names("AgentCalled") == ["AgentCalled"]
    rig.scheduler.run(until=T0 + 5)
    assert rig.names("AgentCalled") == ["AgentCalled", "AgentCalled"]


def test_busy_member_hands_over_to_the_next_in_the_same_round() -> None:
    rig = Rig(strategy="linear")
    rig.add("PJSIP/a", "PJSIP/b")
    host, _ = rig.join()
    rig.engine.ring_failed(host.ringing[0], "BUSY")
    assert rig.order == ["PJSIP/a", "PJSIP/b"]
    assert host.log[-2:] == ["end PJSIP/a BUSY", "ring PJSIP/b"]


def test_joinempty_refuses_without_a_join_event() -> None:
    rig = Rig(joinempty=frozenset({"paused", "unavailable", "invalid", "unknown"}))
    host = Host(rig, "c")
    assert rig.engine.join("q", host) == "JOINEMPTY"
    assert host.vars["QUEUESTATUS"] == "JOINEMPTY"
    assert "QueueCallerJoin" not in rig.names()
    assert host.status is False  # the application returns on its own, not via finished()


def test_maxlen_and_unknown_queue() -> None:
    rig = Rig(maxlen=1)
    rig.join()
    host = Host(rig, "c2")
    assert rig.engine.join("q", host) == "FULL"
    assert rig.engine.join("nope", Host(rig, "c3")) == "UNKNOWN"


def test_caller_priority_jumps_ahead() -> None:
    rig = Rig()
    rig.add("PJSIP/a")
    rig.engine.set_paused("PJSIP/a", True)
    _, e1 = rig.join("first")
    _, e2 = rig.join("second", prio=10)
    joins = [e for e in rig.events if e.name == "QueueCallerJoin"]
    assert [(e.get("Position"), e.get("Count")) for e in joins] == [("1", "1"), ("1", "2")]
    assert (e2.pos, e1.pos) == (1, 2)


def test_abandon_path_order_and_statistics() -> None:
    rig = Rig(servicelevel=15)
    rig.add("PJSIP/a")
    rig.engine.set_paused("PJSIP/a", True)
    host, entry = rig.join()
    rig.scheduler.run(until=T0 + 5)
    rig.engine.abandon(entry)
    assert host.log[-10:] == [
        "moh stop",
        "var QUEUEWAIT=5",
        "var QUEUEWAIT_MS=5000",
        "var DIALEDTIME=5",
        "var DIALEDTIME_MS=5000",
        "var ANSWEREDTIME=0",
        "var ANSWEREDTIME_MS=0",
        "var ABANDONED=TRUE",
        "var QUEUEPOSITION=1",
        "finished None",
    ]
    assert rig.names("QueueCallerAbandon", "QueueCallerLeave", "DeviceStateChange")[-3:] == [
        "QueueCallerAbandon",
        "DeviceStateChange",
        "QueueCallerLeave",
    ]
    abandon = next(e for e in rig.events if e.name == "QueueCallerAbandon")
    assert [(k, v) for k, v in abandon.fields][2:] == [
        ("Queue", "q"),
        ("Position", "1"),
        ("OriginalPosition", "1"),
        ("HoldTime", "5"),
    ]
    queue = rig.engine.queue("q")
    assert queue is not None
    assert (queue.abandoned, queue.abandoned_in_sl, queue.service_level_perf()) == (
        1,
        1,
        (0.0, 100.0),
    )


def test_timeout_exits_with_status_after_the_app_timeout() -> None:
    rig = Rig(retry=1)
    rig.add("PJSIP/a")
    rig.engine.set_paused("PJSIP/a", True)
    host, _ = rig.join(timeout=4)
    rig.scheduler.run(until=T0 + 3.9)
    assert "finished TIMEOUT" not in host.log
    rig.scheduler.run(until=T0 + 4)
    assert host.status == "TIMEOUT"
    order = [line for line in host.log if not line.startswith(("var DIALED", "var ANSWERED"))]
    assert order[-7:] == [
        "var ABANDONED=TRUE",
        "var QUEUEWAIT=4",
        "var QUEUEWAIT_MS=4000",
        "moh stop",
        "var QUEUEPOSITION=1",
        "var QUEUESTATUS=TIMEOUT",
        "finished TIMEOUT",
    ]


def test_leavewhenempty_leaves_with_leaveempty() -> None:
    rig = Rig(leavewhenempty=frozenset({"paused"}))
    rig.add("PJSIP/a")
    host, _ = rig.join()
    rig.engine.set_paused("PJSIP/a", True)
    rig.engine.ring_failed(host.ringing[0], "BUSY")
    assert host.status == "LEAVEEMPTY"


def test_completion_updates_member_and_queue_counters() -> None:
    rig = Rig(strategy="ringall", servicelevel=15)
    rig.add("Local/2001@a/n")
    host, entry = rig.join()
    rig.scheduler.run(until=T0 + 1)
    host.answer("Local/2001@a/n")
    rig.engine.device_state_changed("Local/2001@a", "INUSE")
    status = [e for e in rig.events if e.name == "QueueMemberStatus"][-1]
    assert (status.get("InCall"), status.get("Status"), status.get("CallsTaken")) == ("1", "2", "0")
    rig.scheduler.run(until=T0 + 5)
    rig.engine.call_ended(entry, "agent")
    rig.engine.device_state_changed("Local/2001@a", "NOT_INUSE")
    complete = next(e for e in rig.events if e.name == "AgentComplete")
    assert [(k, v) for k, v in complete.fields][-3:] == [
        ("HoldTime", "1"),
        ("TalkTime", "4"),
        ("Reason", "agent"),
    ]
    status = [e for e in rig.events if e.name == "QueueMemberStatus"][-1]
    assert (status.get("InCall"), status.get("Status"), status.get("CallsTaken")) == ("0", "1", "1")
    assert status.get("LastCall") == str(int(T0 + 5))
    queue = rig.engine.queue("q")
    assert queue is not None
    assert (queue.completed, queue.holdtime, queue.talktime) == (1, 1, 4)
    assert host.status is None  # no `c` option: the caller is hung up


def test_continue_option_sets_queuestatus_continue() -> None:
    rig = Rig()
    rig.add("PJSIP/a")
    host, entry = rig.join(continue_on_hangup=True)
    host.answer("PJSIP/a")
    rig.engine.call_ended(entry, "agent")
    assert host.status == "CONTINUE" and host.vars["QUEUESTATUS"] == "CONTINUE"


def test_member_status_avail_and_pause_devices() -> None:
    rig = Rig(ringinuse=False)
    rig.add("Local/2102@a/n", state_interface="Custom:2102")
    rig.events.clear()
    rig.engine.device_state_changed("Custom:2102", "INUSE")
    assert [(e.name, e.get("Device"), e.get("State"), e.get("Status")) for e in rig.events] == [
        ("QueueMemberStatus", None, None, "2"),
        ("DeviceStateChange", "Queue:q_avail", "INUSE", None),
    ]
    rig.events.clear()
    rig.engine.set_paused("Local/2102@a/n", True, reason="meeting")
    assert [(e.name, e.get("Device")) for e in rig.events] == [
        ("DeviceStateChange", "Queue:q_pause_Local/2102@a/n"),
        ("QueueMemberPause", None),
    ]


@pytest.mark.parametrize("strategy", ["rrmemory", "rrordered"])
def test_round_robin_fast_path_orders_exactly_like_calc_metric(strategy: str) -> None:
    """The lazy rotation used when all penalties are equal must give the members and
    metrics the full calc_metric + sort gives, for every stored position."""
    from pbxsim.app_queue import strategies
    from pbxsim.app_queue.members import Member

    rng = random.Random(3)
    for size in (1, 2, 5, 37, 60):
        by_qpos = [Member(f"PJSIP/{i}", penalty=2) for i in range(size)]
        for i, m in enumerate(by_qpos):
            m.queuepos = i
        listed = by_qpos[:]
        rng.shuffle(listed)
        for rrpos in range(size + 1):
            fast_state = strategies_state(rrpos)
            slow_state = strategies_state(rrpos)
            fast = strategies.rank(strategy, listed, fast_state, fast_state, T0, rng, by_qpos, 2)
            slow = strategies.rank(strategy, listed, slow_state, slow_state, T0, rng)
            assert [(c[0], c[2]) for c in fast] == [(c[0], c[2]) for c in slow]
            assert fast_state.wrapped == slow_state.wrapped


def strategies_state(rrpos: int) -> _State:
    state = _State()
    state.rrpos = rrpos
    return state


class _State:
    rrpos = 0
    wrapped = False


@pytest.mark.parametrize(("autofill", "rung_at_once"), [(True, 2), (False, 1)])
def test_autofill_lets_callers_behind_the_head_ring_free_members(
    autofill: bool, rung_at_once: int
) -> None:
    rig = Rig(strategy="rrmemory", autofill=autofill, ringinuse=False)
    rig.add("PJSIP/a", "PJSIP/b")
    first, _ = rig.join("first")
    second, _ = rig.join("second")
    rig.scheduler.run(until=T0 + 0.5)
    assert len(first.ringing) + len(second.ringing) == rung_at_once
    assert len(set(rig.order)) == rung_at_once  # ringinuse=no: never the same member
    if not autofill:
        # the head caller connects; only then is the second one at the head
        first.answer(first.ringing[0].member.interface)
        rig.engine.device_state_changed(first.log[-1].split()[-1], "INUSE")
        rig.scheduler.run(until=T0 + 1.0)
        assert len(second.ringing) == 1


def test_requested_position_yields_to_higher_priority() -> None:
    rig = Rig()
    rig.add("PJSIP/a")
    rig.engine.set_paused("PJSIP/a", True)
    _, vip = rig.join("vip", prio=5)
    _, a = rig.join("a")
    _, b = rig.join("b")
    _, asks_first = rig.join("asks-first", position=1)
    _, asks_third = rig.join("asks-third", position=3)
    queue = rig.engine.queue("q")
    assert queue is not None
    assert [e.host.name for e in queue.entries] == [  # type: ignore[attr-defined]
        "vip",
        "asks-first",
        "asks-third",
        "a",
        "b",
    ]
    assert (vip.pos, asks_first.pos, asks_third.pos, a.pos, b.pos) == (1, 2, 3, 4, 5)


def test_caller_penalty_range_limits_who_rings_and_who_counts_for_joinempty() -> None:
    rig = Rig(strategy="ringall", joinempty=frozenset({"penalty"}))
    rig.add("PJSIP/p0", penalty=0)
    rig.add("PJSIP/p2", penalty=2)
    rig.join("only-low", max_penalty=1)
    assert rig.order == ["PJSIP/p0"]
    rig.order.clear()
    rig.join("only-high", min_penalty=1)
    assert rig.order == ["PJSIP/p2"]
    refused = Host(rig, "none")
    assert rig.engine.join("q", refused, min_penalty=3) == "JOINEMPTY"


@pytest.mark.parametrize(("strategy", "rung_first_round"), [("ringall", 2), ("rrmemory", 1)])
def test_option_n_gives_up_after_one_pass_over_the_members(
    strategy: str, rung_first_round: int
) -> None:
    """ringall rings everyone in one round; rrmemory needs a round per member."""
    rig = Rig(strategy=strategy, timeout=2, retry=1)
    rig.add("PJSIP/a", "PJSIP/b")
    host, _ = rig.join(no_retry=True)
    rig.scheduler.run(until=T0 + 1)
    assert len(rig.order) == rung_first_round
    rig.scheduler.run(until=T0 + 30)
    assert host.status == "TIMEOUT"
    assert sorted(rig.order) == ["PJSIP/a", "PJSIP/b"]  # each member exactly once
    assert len(rig.names("AgentRingNoAnswer")) == 2


def test_interface_entry_and_queue_variables_on_both_channels() -> None:
    rig = Rig(setinterfacevar=True, setqueueentryvar=True, setqueuevar=True, servicelevel=20)
    rig.add("PJSIP/a", membername="Alice", penalty=2)
    host, _ = rig.join()
    rig.scheduler.run(until=T0 + 3)
    host.answer("PJSIP/a")
    start = host.log.index("moh stop") + 1
    caller = [line for line in host.log[start:] if line.startswith("var ")]
    member = [line for line in host.log[start:] if line.startswith("member var ")]
    assert caller[:9] == [
        "var MEMBERINTERFACE=PJSIP/a",
        "var MEMBERNAME=Alice",
        "var MEMBERCALLS=0",
        "var MEMBERLASTCALL=0",
        "var MEMBERPENALTY=2",
        "var MEMBERDYNAMIC=1",
        "var MEMBERREALTIME=0",
        "var QEHOLDTIME=3",
        "var QEORIGINALPOS=1",
    ]
    assert caller[9:12] == ["var QUEUENAME=q", "var QUEUEMAX=0", "var QUEUESTRATEGY=ringall"]
    assert caller[-3:] == ["var QUEUEPOSITION=1", "var QUEUEWAIT=3", "var QUEUEWAIT_MS=3000"]
    assert [line.removeprefix("member ") for line in member] == caller[:-3]


def _pauses(rig: Rig) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (e.get("Queue"), e.get("Paused"), e.get("PausedReason"))
        for e in rig.events
        if e.name == "QueueMemberPause"
    ]


def test_autopause_pauses_a_member_that_lets_a_call_ring_out() -> None:
    rig = Rig(strategy="linear", timeout=4, retry=1, autopause="yes")
    rig.add("PJSIP/a", "PJSIP/b")
    host, _ = rig.join()
    rig.scheduler.run(until=T0 + 4)
    # rna(): AgentRingNoAnswer, then the pause, then the dial ends
    names = rig.names("AgentRingNoAnswer", "QueueMemberPause", "DialEnd")
    assert names[:2] == ["AgentRingNoAnswer", "QueueMemberPause"]
    assert _pauses(rig) == [("q", "1", "Auto-Pause")]
    member = rig.engine.queues["q"].find("PJSIP/a")
    assert member is not None and member.paused and member.reason_paused == "Auto-Pause"
    assert host.log[-1] == "end PJSIP/a NOANSWER"
    rig.scheduler.run(until=T0 + 5)
    assert rig.order == ["PJSIP/a", "PJSIP/b"]  # the next round skips the paused member


def test_autopause_off_by_default_and_busy_only_with_autopausebusy() -> None:
    rig = Rig(strategy="linear", timeout=4)
    rig.add("PJSIP/a")
    rig.join()
    rig.scheduler.run(until=T0 + 4)
    assert _pauses(rig) == []
    rig = Rig(strategy="linear", autopause="yes")
    rig.add("PJSIP/a", "PJSIP/b")
    host, _ = rig.join()
    rig.engine.ring_failed(host.ringing[0], "BUSY")
    assert _pauses(rig) == []
    rig.engine.ring_failed(host.ringing[0], "NOANSWER")  # b's phone hung up on the ring
    assert _pauses(rig) == [("q", "1", "Auto-Pause")]
    rig = Rig(strategy="linear", autopause="yes", autopausebusy=True)
    rig.add("PJSIP/a")
    host, _ = rig.join()
    rig.engine.ring_failed(host.ringing[0], "BUSY")
    assert _pauses(rig) == [("q", "1", "Auto-Pause")]


def test_autopausedelay_spares_a_member_whose_last_call_just_ended() -> None:
    rig = Rig(strategy="linear", timeout=4, autopause="yes", autopausedelay=30)
    rig.add("PJSIP/a")
    rig.call("PJSIP/a", talk=10.0)
    rig.join()
    rig.scheduler.run(until=rig.scheduler.now() + 4)
    assert rig.names("AgentRingNoAnswer") and _pauses(rig) == []
    rig.scheduler.run(until=rig.scheduler.now() + 30)
    assert _pauses(rig) == [("q", "1", "Auto-Pause")]


def test_autopause_all_pauses_the_member_in_every_queue() -> None:
    scheduler = VirtualScheduler(start=T0)
    bus = EventBus()
    events: list[AmiEvent] = []
    bus.subscribe(events.append)
    conf = QueuesConf(
        queues=(
            QueueConfig(name="q1", strategy="linear", timeout=4, autopause="all"),
            QueueConfig(name="q2", strategy="linear", timeout=4, autopause="all"),
            QueueConfig(name="q3", strategy="linear", timeout=4),
        )
    )
    engine = QueueEngine(scheduler, bus, random.Random(7), conf)
    engine.device_state_changed("PJSIP/a", "NOT_INUSE")
    for name in ("q1", "q2", "q3"):
        assert engine.add_member(name, "PJSIP/a") == "ok"
    rig = Rig()
    assert isinstance(engine.join("q1", Host(rig, "c")), QueueEntry)
    scheduler.run(until=T0 + 4)
    paused = sorted(
        (e.get("Queue") or "", e.get("PausedReason") or "")
        for e in events
        if e.name == "QueueMemberPause"
    )
    # set_member_paused("", ...) pauses it wherever it is, autopause or not there
    assert paused == [("q1", "Auto-Pause"), ("q2", "Auto-Pause"), ("q3", "Auto-Pause")]
