"""Dial() on a virtual clock: the events of each channel in app_dial's order, the
variables it sets, every DIALSTATUS, option g, several destinations at once, and the
callback path (an originated seat running Dial as its application)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pbxsim.channel import Channel
from pbxsim.clock import VirtualScheduler
from pbxsim.events import AmiEvent, EventBus
from pbxsim.telephony.dial import FarEndResponse, parse_options, parse_timeout
from pbxsim.telephony.originate import OriginateRequest, Originator
from pbxsim.telephony.pbx import PbxSystem, build_pbx
from pbxsim.telephony.softphone import FixedResponse, Softphone

START = 1_795_000_000.0
NEVER = FarEndResponse(answers=False)

DIALPLAN = """
[general]
static = yes

[from-trunk]
exten => out,1,Answer()
 same => n,Wait(2)
 same => n,Dial(PJSIP/110@trunk,20)
 same => n,NoOp(after ${DIALSTATUS})
exten => outg,1,Answer()
 same => n,Dial(PJSIP/110@trunk,20,tTg)
 same => n,NoOp(after ${DIALSTATUS})
exten => two,1,Answer()
 same => n,Dial(PJSIP/110@trunk&PJSIP/119@trunk,20)
 same => n,NoOp(after ${DIALSTATUS})
exten => mixed,1,Answer()
 same => n,Dial(PJSIP/2001&Local/ring@phone/n&PJSIP/2002&Foo/bar,10,g)
 same => n,NoOp(after ${DIALSTATUS})
exten => bad,1,Answer()
 same => n,Dial(Foo/bar&PJSIP/nosuch&PJSIP/2002&PJSIP/x@nowhere&Local/x@nowhere/n,10)
 same => n,NoOp(after ${DIALSTATUS})
exten => ringing,1,Dial(PJSIP/2001,30)
 same => n,NoOp(after ${DIALSTATUS})

[phone]
exten => ring,1,Wait(60)
exten => busy,1,Hangup(17)

[from-seats]
exten => _X.,1,NoOp()
"""

PJSIP = """
[trunk]
type = endpoint
context = from-trunk

[seat](!)
type = endpoint
context = from-seats

[2001](seat)
aors = 2001
[2001]
type = aor
contact = sip:2001@127.0.0.1:5070

[2002](seat)
aors = 2002
"""


class World:
    def __init__(self, tmp_path: Path, far_ends: dict[str, FarEndResponse] | None = None) -> None:
        (tmp_path / "extensions.conf").write_text(DIALPLAN)
        (tmp_path / "pjsip.conf").write_text(PJSIP)
        self.scheduler = VirtualScheduler(START)
        self.bus = EventBus()
        self.events: list[AmiEvent] = []
        self.bus.subscribe(self.events.append)
        self.far_ends = far_ends or {}
        self.seat = FixedResponse(answers=True, answer_delay=1.0)
        self.system: PbxSystem = build_pbx(
            self.scheduler,
            self.bus,
            random.Random(7),
            extensions_conf=tmp_path / "extensions.conf",
            pjsip_conf=tmp_path / "pjsip.conf",
            ring_policy=lambda _name: lambda: self.seat,
            far_end=lambda _ep, number: self.far_ends.get(number, FarEndResponse(answer_delay=3)),
        )
        self.pbx = self.system.pbx
        self.trunk = self.system.endpoints["trunk"]

    def call(self, exten: str) -> Channel:
        return self.trunk.incoming(exten, "13900000001", "")

    def run(self, seconds: float) -> None:
        self.scheduler.run(until=self.scheduler.now() + seconds)

    def of(self, name: str) -> list[AmiEvent]:
        return [e for e in self.events if e.get("Channel") == name and e.name != "Cdr"]

    def names(self, name: str) -> list[str]:
        return [e.name for e in self.of(name) if e.name != "DeviceStateChange"]

    def named(self, event: str) -> list[AmiEvent]:
        return [e for e in self.events if e.name == event]

    def varsets(self, name: str) -> list[tuple[str | None, str | None]]:
        return [(e.get("Variable"), e.get("Value")) for e in self.of(name) if e.name == "VarSet"]

    def var(self, name: str, variable: str) -> str | None:
        values = [v for k, v in self.varsets(name) if k == variable]
        return values[-1] if values else None

    def apps(self, name: str) -> list[tuple[str | None, str | None]]:
        return [(e.get("Application"), e.get("AppData")) for e in self.named("Newexten")
                if e.get("Channel") == name]  # fmt: skip

    def dial_ends(self) -> list[tuple[str | None, str | None]]:
        return [(e.get("DestChannel"), e.get("DialStatus")) for e in self.named("DialEnd")]

    def hangups(self) -> dict[str, str]:
        return {str(e.get("Channel")): str(e.get("Cause")) for e in self.named("Hangup")}


CALLER = "PJSIP/trunk-00000000"
CALLEE = "PJSIP/trunk-00000001"


def test_answered_trunk_call_events_and_variables(tmp_path: Path) -> None:
    world = World(tmp_path, {"110": FarEndResponse(answer_delay=3, talk_time=10)})
    world.call("out")
    world.run(60)
    assert world.names(CALLEE) == [
        "Newchannel", "Newexten", "NewCallerid", "VarSet",  # request + AppDial copies
        "Newstate", "Newexten", "NewConnectedLine",  # 180 Ringing
        "Newstate",  # 200 OK
        "BridgeEnter", "VarSet", "VarSet",  # BRIDGEPEER, BRIDGEPVTCALLID
        "HangupRequest", "VarSet", "VarSet", "BridgeLeave", "Hangup",  # BYE after 10 s
    ]  # fmt: skip
    assert world.apps(CALLEE) == [("AppDial", "(Outgoing Line)")] * 2
    assert world.var(CALLEE, "DIALEDPEERNUMBER") == "110@trunk"
    # the caller: DialBegin ... DialEnd ANSWER, its variables, the bridge, then (no g)
    # the variables of the bridge's end and its own hangup
    caller = [e for e in world.of(CALLER) if e.name != "VarSet" or e.get("Variable") not in
              ("SIPDOMAIN", "BRIDGEPVTCALLID")]  # fmt: skip
    sequence = [e.name if e.name != "VarSet" else f"{e.get('Variable')}={e.get('Value')}"
                for e in caller]  # fmt: skip
    assert sequence == [
        "Newchannel", "Newexten", "Newstate", "Newexten", "Newexten",  # Answer, Wait, Dial
        "DialBegin", "NewConnectedLine", "DialState",
        "DialEnd", "DIALSTATUS=ANSWER", f"DIALEDPEERNAME={CALLEE}", "DIALEDPEERNUMBER=110@trunk",
        "BridgeEnter", f"BRIDGEPEER={CALLEE}", "BRIDGEPEER=", "BridgeLeave",
        "ANSWEREDTIME=15", "ANSWEREDTIME_MS=15000", "DIALEDTIME=15", "DIALEDTIME_MS=15000",
        "DIALSTATUS=ANSWER", "SoftHangupRequest", "Hangup",
    ]  # fmt: skip
    begin = world.named("DialBegin")[0]
    assert begin.get("DestChannel") == CALLEE and begin.get("DialString") == "110@trunk"
    assert [f for f, _ in begin.fields][-1] == "DialString"
    assert world.named("DialState")[0].get("DialStatus") == "RINGING"
    assert world.dial_ends() == [(CALLEE, "ANSWER")]
    # the bridge: created, callee enters first, destroyed after both left
    order = [e.name for e in world.events if e.name.startswith("Bridge")]
    assert order == ["BridgeCreate", "BridgeEnter", "BridgeEnter", "BridgeLeave",
                     "BridgeLeave", "BridgeDestroy"]  # fmt: skip
    cdr = [(c.get("Channel"), c.get("DestinationChannel"), c.get("Disposition"),
            c.get("LastApplication")) for c in world.named("Cdr")]  # fmt: skip
    assert cdr == [(CALLER, CALLEE, "ANSWERED", "Dial")]
    assert world.hangups() == {CALLEE: "16", CALLER: "16"}
    assert ("NoOp", "after ANSWER") not in world.apps(CALLER)


def test_option_g_continues_after_the_callee_hangs_up(tmp_path: Path) -> None:
    world = World(tmp_path, {"110": FarEndResponse(answer_delay=2, talk_time=5)})
    world.call("outg")
    world.run(20)
    assert world.apps(CALLER)[-1] == ("NoOp", "after ANSWER")
    assert world.var(CALLER, "ANSWEREDTIME_MS") == "7000"
    assert world.var(CALLER, "DIALEDTIME") == "7"
    # the answered dial's record ends with the bridge; NoOp opens a new one
    cdr = world.named("Cdr")
    assert [(c.get("DestinationChannel"), c.get("LastApplication")) for c in cdr] == [
        (CALLEE, "Dial"),
        ("", "NoOp"),
    ]


def test_caller_hangs_up_while_bridged_takes_the_callee_with_it(tmp_path: Path) -> None:
    world = World(tmp_path)  # default far end: answers after 3 s, talks until we hang up
    caller = world.call("out")
    world.run(30)
    assert world.pbx.find_channel(CALLEE) is not None
    world.trunk.bye(caller)
    world.run(1)
    names = world.names(CALLER)
    tail = names[names.index("HangupRequest") :]
    assert tail == [
        "HangupRequest", "VarSet", "VarSet",  # BRIDGEPEER/BRIDGEPVTCALLID cleared
        "BridgeLeave", "VarSet", "VarSet", "VarSet", "VarSet", "VarSet",  # times, DIALSTATUS
        "SoftHangupRequest", "Hangup",
    ]  # fmt: skip
    assert world.var(CALLER, "ANSWEREDTIME") == "30"  # from the caller's own Answer()
    assert world.var(CALLER, "DIALEDTIME_MS") == "30000"
    hangups = [e.get("Channel") for e in world.named("Hangup")]
    assert hangups == [CALLER, CALLEE]
    assert world.named("BridgeDestroy")


def test_ami_hangup_of_a_bridged_caller(tmp_path: Path) -> None:
    world = World(tmp_path)
    caller = world.call("out")
    world.run(10)
    world.pbx.soft_hangup(caller, 16, post=False)
    world.run(1)
    assert caller.hungup and world.pbx.find_channel(CALLEE) is None
    assert world.var(CALLER, "DIALSTATUS") == "ANSWER"
    assert world.var(CALLER, "ANSWEREDTIME") == "10"


def test_timeout_is_noanswer_and_the_dialplan_continues(tmp_path: Path) -> None:
    world = World(tmp_path, {"110": NEVER})
    world.call("out")
    world.run(30)
    assert world.dial_ends() == [(CALLEE, "NOANSWER")]
    assert world.hangups()[CALLEE] == "0"
    assert world.var(CALLER, "DIALSTATUS") == "NOANSWER"
    assert world.var(CALLER, "ANSWEREDTIME") is None  # only set when a bridge ended
    assert world.apps(CALLER)[-1] == ("NoOp", "after NOANSWER")
    # the DialEnd comes 20 s after the DialBegin
    begin = world.events.index(world.named("DialBegin")[0])
    end = world.events.index(world.named("DialEnd")[0])
    assert begin < end
    assert world.named("Cdr")[0].get("Disposition") == "NO ANSWER"


def test_caller_hangs_up_while_ringing_is_cancel(tmp_path: Path) -> None:
    world = World(tmp_path, {"110": NEVER})
    caller = world.call("out")
    world.run(5)
    world.trunk.bye(caller)
    world.run(1)
    assert world.dial_ends() == [(CALLEE, "CANCEL")]
    assert world.var(CALLER, "DIALSTATUS") == "CANCEL"
    names = world.names(CALLER)
    assert names[names.index("HangupRequest"):] == [
        "HangupRequest", "DialEnd", "VarSet", "SoftHangupRequest", "Hangup",
    ]  # fmt: skip
    assert [e.get("Channel") for e in world.named("Hangup")] == [CALLEE, CALLER]
    assert not any(a == "NoOp" for a, _ in world.apps(CALLER))


@pytest.mark.parametrize(
    ("cause", "status"), [(17, "BUSY"), (34, "CONGESTION"), (3, "CHANUNAVAIL")]
)
def test_far_end_refusal_sets_its_status(tmp_path: Path, cause: int, status: str) -> None:
    world = World(tmp_path, {"110": FarEndResponse(answer_delay=1, reject_cause=cause)})
    world.call("out")
    world.run(10)
    assert world.names(CALLEE) == [
        "Newchannel", "Newexten", "NewCallerid", "VarSet", "HangupRequest", "Hangup",
        "NewConnectedLine",  # the dialer's copy, published with its last snapshot
    ]  # fmt: skip
    assert world.named("HangupRequest")[0].get("Cause") == str(cause)
    assert world.dial_ends() == [(CALLEE, status)]
    assert world.hangups()[CALLEE] == str(cause)
    assert world.var(CALLER, "DIALSTATUS") == status
    assert world.apps(CALLER)[-1] == ("NoOp", f"after {status}")


def test_nothing_to_call_is_chanunavail_without_dial_events(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.call("bad")
    world.run(5)
    assert world.named("DialBegin") == [] and world.named("DialEnd") == []
    assert world.var(CALLER, "DIALSTATUS") == "CHANUNAVAIL"
    assert world.apps(CALLER)[-1] == ("NoOp", "after CHANUNAVAIL")
    # the Local pair to a missing extension was created and hung up, nothing else
    created = [e.get("Channel") for e in world.named("Newchannel")]
    assert created == [CALLER, "Local/x@nowhere-00000000;1", "Local/x@nowhere-00000000;2"]


def test_first_answer_wins_the_others_are_cancelled(tmp_path: Path) -> None:
    world = World(tmp_path, {"110": FarEndResponse(answer_delay=5),
                             "119": FarEndResponse(answer_delay=2, talk_time=4)})  # fmt: skip
    world.call("two")
    world.run(30)
    first, second = "PJSIP/trunk-00000001", "PJSIP/trunk-00000002"
    assert [e.get("DialString") for e in world.named("DialBegin")] == ["110@trunk", "119@trunk"]
    assert world.dial_ends() == [(second, "ANSWER"), (first, "CANCEL")]
    assert world.hangups()[first] == "26"  # answered elsewhere
    assert world.var(CALLER, "DIALEDPEERNAME") == second
    assert world.var(CALLER, "DIALEDPEERNUMBER") == "119@trunk"
    # the loser's DialEnd CANCEL comes before its Hangup, both before the bridge
    idx = {(e.name, e.get("Channel") or e.get("DestChannel")): i for i, e in
           enumerate(world.events)}  # fmt: skip
    loser_end = next(i for i, e in enumerate(world.events)
                     if e.name == "DialEnd" and e.get("DestChannel") == first)  # fmt: skip
    assert loser_end < idx[("Hangup", first)] < idx[("BridgeCreate", None)]


def test_seat_local_and_unavailable_destinations_together(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.call("mixed")
    world.run(5)
    seat, local_one = "PJSIP/2001-00000001", "Local/ring@phone-00000000;1"
    # PJSIP/2002 has no contact and Foo is no technology: no channel, no dial events
    assert [e.get("DestChannel") for e in world.named("DialBegin")] == [seat, local_one]
    assert [e.get("DialString") for e in world.named("DialBegin")] == ["2001", "ring@phone/n"]
    assert world.dial_ends() == [(seat, "ANSWER"), (local_one, "CANCEL")]
    assert world.hangups()[local_one] == "26"
    assert world.var(local_one, "DIALEDPEERNUMBER") == "ring@phone/n"
    assert world.var(CALLER, "BRIDGEPEER") == seat
    # the seat hangs up; option g: the caller goes on
    world.pbx.remote_hangup(world.pbx.find_channel(seat))  # type: ignore[arg-type]
    world.run(1)
    assert world.apps(CALLER)[-1] == ("NoOp", "after ANSWER")


def test_every_destination_busy_is_busy(tmp_path: Path) -> None:
    world = World(tmp_path, {n: FarEndResponse(answer_delay=1, reject_cause=17)
                             for n in ("110", "119")})  # fmt: skip
    world.call("two")
    world.run(5)
    assert [s for _, s in world.dial_ends()] == ["BUSY", "BUSY"]
    assert world.var(CALLER, "DIALSTATUS") == "BUSY"


def test_one_busy_one_unanswered_is_noanswer(tmp_path: Path) -> None:
    world = World(tmp_path, {"110": FarEndResponse(answer_delay=1, reject_cause=17),
                             "119": NEVER})  # fmt: skip
    world.call("two")
    world.run(30)
    assert [s for _, s in world.dial_ends()] == ["BUSY", "NOANSWER"]
    assert world.var(CALLER, "DIALSTATUS") == "NOANSWER"


def test_unanswered_caller_is_answered_when_the_callee_answers(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.call("ringing")
    world.run(5)
    names = world.names(CALLER)
    # Dial answers the caller itself (pre-bridge), after its ANSWER variables
    assert names.index("DialEnd") < names.index("Newstate") < names.index("BridgeEnter")
    assert world.of(CALLER)[names.index("Newstate")].get("ChannelStateDesc") == "Up"


def test_callback_originate_runs_dial_as_application(tmp_path: Path) -> None:
    """queues/callbacks.py: Originate the seat with Application=Dial, Data=PJSIP/<n>,30."""
    world = World(tmp_path)
    phone = Softphone(world.pbx, "13900000002", "from-seats")
    phone.policy = lambda: FixedResponse(answers=True, answer_delay=2.0, talk_time=5.0)
    req = OriginateRequest(channel="PJSIP/2001", application="Dial",
                           data="PJSIP/13900000002,30", callerid_num="13900000002",
                           callerid_name="callback q")  # fmt: skip
    Originator(world.pbx).originate(req)
    world.run(20)
    seat, customer = "PJSIP/2001-00000000", "PJSIP/13900000002-00000001"
    assert world.named("OriginateResponse")[0].get("Response") == "Success"
    # the originate's own dial (no caller) and then the seat's Dial to the customer
    assert world.dial_ends() == [(seat, "ANSWER"), (customer, "ANSWER")]
    assert world.named("DialBegin")[1].get("Channel") == seat
    assert world.var(seat, "DIALEDPEERNAME") == customer
    bridge_enters = [e.get("Channel") for e in world.named("BridgeEnter")]
    assert bridge_enters == [customer, seat]
    # the customer hangs up after 5 s: the seat's Dial returns -1 and the seat hangs up
    assert set(world.hangups()) == {seat, customer}


def test_redirect_of_a_bridged_caller_ends_the_bridge(tmp_path: Path) -> None:
    world = World(tmp_path)
    caller = world.call("out")
    world.run(10)
    world.pbx.redirect(caller, "phone", "ring", 1)
    world.run(1)
    assert world.pbx.find_channel(CALLEE) is None
    assert not caller.hungup and (caller.context, caller.exten) == ("phone", "ring")
    assert world.named("BridgeDestroy")
    # end_bridge_callback's variables, then the new location (shown with Dial)
    assert [n for n in world.names(CALLER)][-3:] == ["VarSet", "VarSet", "Newexten"]
    assert world.var(CALLER, "ANSWEREDTIME") == "10"


def test_argument_parsing() -> None:
    assert parse_options("tTg") == {"t", "T", "g"}
    assert parse_options("L(60000:30000)gm(default)") == {"L", "g", "m"}
    assert parse_timeout("60") == 60.0
    assert parse_timeout("") is None and parse_timeout("0") is None
    assert parse_timeout("x") is None and parse_timeout("20^5") == 20.0


def test_dial_without_destinations_returns_minus_one(tmp_path: Path) -> None:
    world = World(tmp_path)
    caller = world.call("out")
    world.run(1)
    app = world.pbx.find_app("Dial")
    assert app is not None
    results: list[int] = []
    app(world.pbx, caller, [], results.append)
    assert results == [-1]


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("answers", [True, False])
def test_repo_dialplan_transfer_out_through_the_trunk(answers: bool) -> None:
    """asterisk-conf's [hotline-transfer]: Dial(PJSIP/${HOTLINE_TRANSFER_TO}@trunk,60);
    unanswered, the caller is queued instead of dropped."""
    scheduler = VirtualScheduler(START)
    bus = EventBus()
    events: list[AmiEvent] = []
    bus.subscribe(events.append)
    response = FarEndResponse(answer_delay=4, talk_time=20) if answers else NEVER
    system = build_pbx(
        scheduler,
        bus,
        random.Random(1),
        extensions_conf=REPO / "asterisk-conf" / "extensions.conf",
        queues_conf=REPO / "asterisk-conf" / "queues.conf",
        far_end=lambda _endpoint, _number: response,
    )
    system.pbx.globals["HOTLINE_TRANSFER_TO"] = "110"
    trunk = Softphone(system.pbx, "trunk", "hotline-transfer")
    caller = trunk.incoming("s", "13900000001", "")
    scheduler.run(until=START + 70)
    begins = [e for e in events if e.name == "DialBegin"]
    assert [e.get("DialString") for e in begins] == ["110@trunk"]
    apps = [e.get("Application") for e in events
            if e.name == "Newexten" and e.get("Channel") == caller.name]  # fmt: skip
    if answers:
        assert caller.hungup and "Queue" not in apps  # the far end hung up: so does Dial
        assert [e.get("Value") for e in events if e.get("Variable") == "DIALSTATUS"] == [
            "ANSWER",
            "ANSWER",
        ]
    else:
        assert apps[-1] == "Queue" and not caller.hungup
        assert [e.get("DialStatus") for e in events if e.name == "DialEnd"] == ["NOANSWER"]
        trunk.bye(caller)
        scheduler.run(until=START + 75)
