"""The PBX core on a virtual clock: ids, dialplan execution, hangup propagation, CDRs,
Originate outcomes, Redirect, DTMF through bridges and the channel AMI actions.

The golden replays (test_golden_calls.py) check whole transcript scenarios; these tests
pin the individual rules those scenarios rely on, with small dialplans of their own.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pbxsim.channel import RINGING, UP, Channel
from pbxsim.clock import VirtualScheduler
from pbxsim.dialplan import parse_dialplan
from pbxsim.events import AmiEvent, EventBus
from pbxsim.manager_api import Request
from pbxsim.telephony.cdr import CdrEngine
from pbxsim.telephony.manager import ChannelActions
from pbxsim.telephony.originate import OriginateRequest, Originator, parse_callerid
from pbxsim.telephony.pbx import Done, Pbx, PbxSystem, build_pbx
from pbxsim.telephony.softphone import FixedResponse
from pbxsim.traffic import SeatResponse

START = 1_795_000_000.0

DIALPLAN = """
[general]
static = yes

[t]
exten => s,1,Set(X=1)
 same => n,GotoIf($[${X} = 1]?yes:no)
 same => n(no),NoOp(wrong branch)
 same => n(yes),NoOp(yes ${X})
 same => n,Goto(busy,1)
exten => busy,1,Hangup(17)
exten => h,1,NoOp(h ran)

[phone]
exten => wait,1,Answer()
 same => n,Wait(60)
exten => hangup,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()
exten => press,1,Answer()
 same => n,Wait(1)
 same => n,SendDTMF(5)
 same => n,Wait(60)
exten => quoted,1,Set(V="a,b")
 same => n,Wait(60)
exten => noanswer,1,Wait(60)
exten => hold,1,Answer()
 same => n,Hold()

[moved]
exten => s,1,Answer()
 same => n,Wait(5)

[media]
exten => s,1,Answer()
 same => n,Playback(hello&world)
 same => n,MixMonitor(${UNIQUEID}.wav,b)
 same => n,MixMonitor(/rec/x.wav)
 same => n,Wait(60)

[agent]
exten => _X.,1,Answer()
 same => n,Wait(60)
"""

PJSIP = """
[trunk]
type = endpoint
context = phone

[seat](!)
type = endpoint
context = phone

[aor-seat](!)
type = aor

[2001](seat)
aors = 2001
[2001](aor-seat)
contact = sip:2001@127.0.0.1:5070

[2002](seat)
aors = 2002
"""


class World:
    def __init__(self, tmp_path: Path, ring_response: object | None = None) -> None:
        (tmp_path / "extensions.conf").write_text(DIALPLAN)
        (tmp_path / "pjsip.conf").write_text(PJSIP)
        self.scheduler = VirtualScheduler(START)
        self.bus = EventBus()
        self.events: list[AmiEvent] = []
        self.bus.subscribe(self.events.append)
        policy = None if ring_response is None else (lambda _name: lambda: ring_response)
        self.system: PbxSystem = build_pbx(
            self.scheduler,
            self.bus,
            random.Random(7),
            extensions_conf=tmp_path / "extensions.conf",
            pjsip_conf=tmp_path / "pjsip.conf",
            ring_policy=policy,  # type: ignore[arg-type]
        )
        self.pbx = self.system.pbx
        self.actions = ChannelActions(self.pbx)

    def run(self, seconds: float) -> None:
        self.scheduler.run(until=self.scheduler.now() + seconds)

    def originate(self, channel: str, context: str, exten: str, **kw: object) -> None:
        req = OriginateRequest(channel=channel, context=context, exten=exten, action_id="a1")
        for key, value in kw.items():
            setattr(req, key, value)
        Originator(self.pbx).originate(req)

    def of(self, channel_name: str) -> list[AmiEvent]:
        """The channel's own events (those carrying its snapshot block)."""
        return [
            e
            for e in self.events
            if e.get("Channel") == channel_name and e.name not in ("Cdr", "OriginateResponse")
        ]

    def names(self, channel_name: str) -> list[str]:
        return [e.name for e in self.of(channel_name)]

    def named(self, name: str) -> list[AmiEvent]:
        return [e for e in self.events if e.name == name]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def request(*headers: tuple[str, str]) -> Request:
    return Request((("ActionID", "x"), *headers))


# ---------------------------------------------------------------------------- ids


def test_ids_follow_asterisk_counters(world: World) -> None:
    world.originate("Local/wait@phone/n", "moved", "s")
    world.run(1)
    world.originate("Local/wait@phone/n", "moved", "s")
    world.run(1)
    created = [(e.get("Channel"), e.get("Uniqueid")) for e in world.named("Newchannel")]
    assert created == [
        ("Local/wait@phone-00000000;1", f"{int(START)}.0"),
        ("Local/wait@phone-00000000;2", f"{int(START)}.1"),
        ("Local/wait@phone-00000001;1", f"{int(START) + 1}.2"),
        ("Local/wait@phone-00000001;2", f"{int(START) + 1}.3"),
    ]
    linked = {e.get("Channel"): e.get("Linkedid") for e in world.named("Newchannel")}
    assert linked["Local/wait@phone-00000001;2"] == f"{int(START) + 1}.2"


def test_pjsip_names_share_one_counter(world: World) -> None:
    trunk = world.system.endpoints["trunk"].incoming("s", "100", "A")
    seat = world.pbx.request_channel("PJSIP/2001", trunk)
    assert trunk.name == "PJSIP/trunk-00000000"
    assert seat is not None and seat.name == "PJSIP/2001-00000001"


# ---------------------------------------------------------------------------- dialplan


def test_gotoif_labels_goto_and_h_extension(world: World) -> None:
    world.originate("Local/wait@phone/n", "t", "s")
    world.run(5)
    one = "Local/wait@phone-00000000;1"
    apps = [(e.get("Application"), e.get("AppData")) for e in world.of(one) if e.name == "Newexten"]
    assert apps == [
        ("AppDial2", "(Outgoing Line)"),
        ("Set", "X=1"),
        ("GotoIf", "1?yes:no"),
        ("NoOp", "yes 1"),
        ("Goto", "busy,1"),
        ("Hangup", "17"),
        ("NoOp", "h ran"),
    ]
    soft = [e for e in world.of(one) if e.name == "SoftHangupRequest"]
    assert [e.get("Cause") for e in soft] == ["17"]
    hangup = world.of(one)[-1]
    assert (hangup.name, hangup.get("Cause"), hangup.get("Cause-txt")) == (
        "Hangup",
        "17",
        "User busy",
    )


def test_agi_without_an_event_loop_takes_the_fallback_path(world: World) -> None:
    """On a VirtualScheduler nothing can connect: AGISTATUS=FAILURE and the dialplan
    goes on (the transcripts' fallback path)."""
    world.pbx.dialplan = parse_dialplan(
        "[a]\nexten => s,1,AGI(agi://127.0.0.1:4573/incoming)\n same => n,NoOp(${AGISTATUS})\n"
    )
    world.originate("Local/s@a/n", "a", "s")  # ;2 runs s@a
    world.run(1)
    noops = [e.get("AppData") for e in world.of("Local/s@a-00000000;2") if e.name == "Newexten"]
    assert noops[-2:] == ["agi://127.0.0.1:4573/incoming", "FAILURE"]


def test_playback_and_mixmonitor(world: World) -> None:
    world.pbx.sound_lengths.update(hello=1.5, world=2.0)
    world.originate("Local/wait@phone/n", "media", "s")
    world.run(3.0)
    one = "Local/wait@phone-00000000;1"
    assert not [e for e in world.of(one) if e.get("Variable") == "PLAYBACKSTATUS"]  # 3.5 s
    world.run(1.0)
    sets = [(e.get("Variable"), e.get("Value")) for e in world.of(one) if e.name == "VarSet"]
    uid = world.pbx.find_channel(one).uniqueid  # type: ignore[union-attr]
    assert sets == [
        ("PLAYBACKSTATUS", "SUCCESS"),
        ("MIXMONITOR_FILENAME", f"/var/spool/asterisk/monitor/{uid}.wav"),
        ("MIXMONITOR_FILENAME", "/rec/x.wav"),
    ]
    assert [e.name for e in world.of(one)].count("MixMonitorStart") == 2


def test_set_keeps_quotes_and_commas_of_the_value(world: World) -> None:
    world.originate("Local/quoted@phone/n", "moved", "s")
    world.run(1)
    two = "Local/quoted@phone-00000000;2"
    varset = [e for e in world.of(two) if e.name == "VarSet"]
    assert [(e.get("Variable"), e.get("Value")) for e in varset] == [("V", '"a,b"')]


def test_local_hangup_reaches_the_partner_in_the_transcripts_order(world: World) -> None:
    world.originate("Local/hangup@phone/n", "moved", "s")
    world.run(10)
    one, two = "Local/hangup@phone-00000000;1", "Local/hangup@phone-00000000;2"
    # ;2 runs Hangup(): it posts SoftHangupRequest itself, ;1 is told by HangupRequest
    assert world.names(two)[-3:] == ["Newexten", "SoftHangupRequest", "Hangup"]
    # ;1 sat in Wait(5) of [moved]: interrupted, then its run posts SoftHangupRequest
    assert world.names(one)[-3:] == ["HangupRequest", "SoftHangupRequest", "Hangup"]
    states = [e.get("State") for e in world.named("DeviceStateChange")]
    assert states == ["INUSE", "INUSE", "NOT_INUSE", "NOT_INUSE"]


def test_redirect_moves_a_waiting_channel_and_runs_the_target_priority(world: World) -> None:
    world.originate("Local/wait@phone/n", "moved", "s")
    world.run(1)
    one = "Local/wait@phone-00000000;1"
    replies = world.actions.redirect(
        request(("Channel", one), ("Context", "t"), ("Exten", "busy"), ("Priority", "1"))
    )
    assert replies == [
        [("Response", "Success"), ("ActionID", "x"), ("Message", "Redirect successful")]
    ]
    world.run(1)
    after = [e for e in world.of(one) if e.name == "Newexten"][-2:]
    # the new location is announced naming the interrupted application (ami-2.log);
    # Hangup(17) at busy,1 then runs without a Newexten of its own (same location)
    assert [(e.get("Context"), e.get("Exten"), e.get("Application")) for e in after] == [
        ("t", "busy", "Wait"),
        ("t", "h", "NoOp"),
    ]
    assert world.of(one)[-1].get("Cause") == "17"


# ---------------------------------------------------------------------------- CDR


def _channel(name: str, uid: str) -> Channel:
    return Channel(name, uid, uid, "ctx", "100", caller_num="555", caller_name="Bob")


def test_cdr_forks_per_dial_and_drops_unanswered_records() -> None:
    bus = EventBus()
    posted: list[AmiEvent] = []
    bus.subscribe(posted.append)
    cdr = CdrEngine(bus)
    caller = _channel("Local/c-1;1", "1.0")
    member_a, member_b = _channel("Local/a;1", "1.1"), _channel("Local/b;1", "1.2")
    never_answered = _channel("Local/x;2", "1.3")
    cdr.start(caller, 100.0)
    cdr.start(never_answered, 100.0)
    caller.answered_at = 100.0
    cdr.answered(caller, 100.0)
    cdr.dial_begin(caller, member_a, 101.0)
    cdr.dial_end(caller, member_a, "NOANSWER", 105.0, ("Queue", "q"))
    cdr.dial_begin(caller, member_b, 106.0)
    cdr.bridge_ended(caller, 110.0, ("Queue", "q"))
    cdr.app_started(caller, 110.0)
    cdr.hangup(caller, 111.0, ("Hangup", ""))
    cdr.hangup(never_answered, 111.0, ("Wait", "1"))
    rows = [(e.get("DestinationChannel"), e.get("Disposition"), e.get("LastApplication"),
             e.get("Duration")) for e in posted]  # fmt: skip
    assert rows == [
        ("Local/a;1", "NO ANSWER", "Queue", "5"),
        ("Local/b;1", "ANSWERED", "Queue", "4"),
        ("", "ANSWERED", "Hangup", "1"),
    ]
    assert posted[0].get("CallerID") == '"Bob" <555>'


# ---------------------------------------------------------------------------- Originate


def test_originate_to_an_unknown_technology_fails_without_channels(world: World) -> None:
    world.originate("Bogus/thing", "t", "s")
    world.run(1)
    assert [e.name for e in world.events] == ["OriginateResponse"]
    fields = dict(world.events[0].fields)
    assert fields["Response"] == "Failure" and fields["Reason"] == "0"
    assert fields["Uniqueid"] == "<unknown>" and fields["Channel"] == "Bogus/thing"


def test_originate_to_a_missing_local_extension_fails_like_ami2(world: World) -> None:
    world.originate("Local/x@no-such-context", "t", "s")
    world.run(1)
    summary = [(e.name, e.get("Channel"), e.get("Cause")) for e in world.events]
    assert summary == [
        ("Newchannel", "Local/x@no-such-context-00000000;1", None),
        ("Newchannel", "Local/x@no-such-context-00000000;2", None),
        ("Newexten", "Local/x@no-such-context-00000000;1", None),
        ("Hangup", "Local/x@no-such-context-00000000;2", "0"),
        ("OriginateResponse", "Local/x@no-such-context", None),
        ("Hangup", "Local/x@no-such-context-00000000;1", "0"),
        ("DeviceStateChange", None, None),
        ("DeviceStateChange", None, None),
    ]
    assert {e.get("State") for e in world.named("DeviceStateChange")} == {"INVALID"}


def test_originate_sets_variables_in_asterisk_order(world: World) -> None:
    world.originate(
        "Local/wait@phone/n", "moved", "s", variables=[("A", "1"), ("B", "2")],
        callerid_num="123", callerid_name="N",
    )  # fmt: skip
    world.run(1)
    one_vars = [e.get("Variable") for e in world.of("Local/wait@phone-00000000;1")
                if e.name == "VarSet"]  # fmt: skip
    two_vars = [e.get("Variable") for e in world.of("Local/wait@phone-00000000;2")
                if e.name == "VarSet"]  # fmt: skip
    assert one_vars == ["B", "A"] and two_vars == ["A", "B"]
    response = world.named("OriginateResponse")[0]
    assert (response.get("Response"), response.get("Reason")) == ("Success", "4")
    assert (response.get("CallerIDNum"), response.get("CallerIDName")) == ("123", "N")


def test_originate_that_is_not_answered_times_out(world: World) -> None:
    world.originate("Local/noanswer@phone/n", "t", "s", timeout=5.0)
    world.run(10)
    one = "Local/noanswer@phone-00000000;1"
    dial_end = [e for e in world.named("DialEnd") if e.get("DestChannel") == one]
    assert [e.get("DialStatus") for e in dial_end] == ["NOANSWER"]
    response = world.named("OriginateResponse")[0]
    # main/channel.c __ast_request_and_dial: "timeout, treat it like ringing" -> 3
    assert (response.get("Response"), response.get("Reason")) == ("Failure", "3")
    assert world.pbx.find_channel(one) is None
    assert world.pbx.find_channel("Local/noanswer@phone-00000000;2") is None


def test_originate_an_application(world: World) -> None:
    world.originate("Local/wait@phone/n", "", "", application="Wait", data="2")
    world.run(5)
    one = "Local/wait@phone-00000000;1"
    apps = [(e.get("Application"), e.get("AppData")) for e in world.of(one) if e.name == "Newexten"]
    # the application runs where the channel already is: no Newexten for it
    assert apps == [("AppDial2", "(Outgoing Line)")]
    cdr = [e for e in world.named("Cdr") if e.get("Channel") == one]
    assert [(e.get("LastApplication"), e.get("LastData")) for e in cdr] == [("Wait", "2")]
    response = dict(world.named("OriginateResponse")[0].fields)
    assert (response["Application"], response["Data"], response["Reason"]) == ("Wait", "2", "4")
    assert "Context" not in response
    assert world.of(one)[-1].name == "Hangup"  # the application returned: the call ends


async def test_synchronous_originate_answers_when_the_call_is_decided(tmp_path: Path) -> None:
    import asyncio

    from pbxsim.clock import AsyncioScheduler

    (tmp_path / "extensions.conf").write_text(DIALPLAN)
    scheduler = AsyncioScheduler(asyncio.get_running_loop(), speed=50.0)
    bus = EventBus()
    events: list[AmiEvent] = []
    bus.subscribe(events.append)
    system = build_pbx(
        scheduler, bus, random.Random(1), extensions_conf=tmp_path / "extensions.conf"
    )
    actions = ChannelActions(system.pbx)
    ok = actions.originate(request(("Channel", "Local/wait@phone/n"), ("Context", "moved"),
                                   ("Exten", "s"), ("Priority", "1")))  # fmt: skip
    assert not isinstance(ok, list)
    assert (await ok)[0][-1] == ("Message", "Originate successfully queued")
    failed = actions.originate(request(("Channel", "Bogus/x"), ("Context", "moved"),
                                       ("Exten", "s")))  # fmt: skip
    assert not isinstance(failed, list)
    assert (await failed)[0][1:] == [("ActionID", "x"), ("Message", "Originate failed")]
    assert not [e for e in events if e.name == "OriginateResponse"]  # only Async posts it


def test_dialed_channels_inherit_underscore_variables(world: World) -> None:
    world.originate(
        "Local/wait@phone/n", "moved", "s",
        variables=[("__TRACE", "t1"), ("_ONCE", "o1"), ("PLAIN", "p1")],
    )  # fmt: skip
    world.run(0.5)
    caller = world.pbx.find_channel("Local/wait@phone-00000000;1")
    assert caller is not None
    assert world.pbx.get_var(caller, "TRACE") == "t1"  # lookups skip the markers
    member = world.pbx.request_channel("Local/2001@agent/n", caller)
    assert member is not None
    assert member.variables == {"DIALEDPEERNUMBER": "2001@agent/n", "__TRACE": "t1", "ONCE": "o1"}
    world.run(0.5)
    two = [(e.get("Variable"), e.get("Value")) for e in world.of("Local/2001@agent-00000001;2")
           if e.name == "VarSet"]  # fmt: skip
    # ;2 gets ;1's whole list in order (core_local.c local_call), with VarSet for each
    assert two == [("DIALEDPEERNUMBER", "2001@agent/n"), ("__TRACE", "t1"), ("ONCE", "o1")]


def test_parse_callerid_forms() -> None:
    assert parse_callerid('"Caller" <13900001111>') == ("13900001111", "Caller")
    assert parse_callerid("13900001111") == ("13900001111", "")
    assert parse_callerid("Just a name") == ("", "Just a name")


# ---------------------------------------------------------------------------- DTMF


def test_dtmf_travels_from_local_two_through_the_bridge(world: World) -> None:
    world.originate("Local/press@phone/n", "moved", "s")
    world.run(0.1)
    caller_one = world.pbx.find_channel("Local/press@phone-00000000;1")
    assert caller_one is not None
    agent_one = world.pbx.request_channel("Local/2001@agent/n", caller_one)
    assert agent_one is not None
    world.run(0.1)
    world.pbx.bridge(caller_one, agent_one)
    world.run(2)
    begins = [(e.get("Channel"), e.get("Direction")) for e in world.named("DTMFBegin")]
    assert begins == [
        ("Local/press@phone-00000000;1", "Received"),
        ("Local/2001@agent-00000001;1", "Sent"),
        ("Local/2001@agent-00000001;2", "Received"),
    ]
    assert {e.get("DurationMs") for e in world.named("DTMFEnd")} == {"100"}


# ---------------------------------------------------------------------------- PJSIP


def test_seat_rings_answers_and_reports_device_states(tmp_path: Path) -> None:
    world = World(tmp_path, FixedResponse(True, 2.0, 5.0))
    trunk = world.system.endpoints["trunk"].incoming("wait", "1390001", "caller")
    world.run(0.5)
    seat = world.pbx.request_channel("PJSIP/2001", trunk)
    assert seat is not None and seat.exten == "s" and seat.context == "phone"
    world.pbx.dial_begin(trunk, seat, "PJSIP/2001")
    world.run(0.1)
    assert seat.state == RINGING and seat.exten == "wait"  # app_queue's copies, published
    dial_state = world.named("DialState")[0]
    assert dial_state.get("DialStatus") == "RINGING" and dial_state.get("Channel") == trunk.name
    world.run(2.5)
    assert seat.state == UP
    world.run(10)
    assert seat.hungup  # the agent hung up after 5 s of talk
    seat_states = [e.get("State") for e in world.named("DeviceStateChange")
                   if e.get("Device") == "PJSIP/2001"]  # fmt: skip
    assert seat_states == ["RINGING", "INUSE", "NOT_INUSE"]
    assert world.of(seat.name)[-2].name == "HangupRequest"  # the BYE: no cause
    assert world.of(seat.name)[-2].get("Cause") is None


def test_bridged_caller_hanging_up_follows_asterisks_order(world: World) -> None:
    """BYE from a bridged trunk caller: BRIDGEPEER cleared, the application's interrupt
    hook, BridgeLeave, the caller's on_exit, then SoftHangupRequest and Hangup."""
    order: list[str] = []
    trunk_phone = world.system.endpoints["trunk"]

    def hold(pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
        seat = pbx.request_channel("PJSIP/2001", channel)
        assert seat is not None

        def left(_caller: Channel) -> None:
            order.append("on_exit")
            done(-1)

        def connect(_seat: Channel) -> None:
            pbx.bridge(channel, seat).on_exit(channel, left)

        pbx.on_answer(seat, connect)
        pbx.set_app_interrupt(channel, lambda: order.append("interrupt"))

    world.pbx.register_app("Hold", hold)
    watched = ("BridgeLeave", "SoftHangupRequest", "Hangup", "HangupRequest")

    def watch(event: AmiEvent) -> None:
        if (event.get("Channel") or "").startswith("PJSIP/trunk") and event.name in watched:
            order.append(event.name)

    world.bus.subscribe(watch)
    trunk = trunk_phone.incoming("hold", "1390001", "caller")
    world.run(3)
    assert trunk.variables["BRIDGEPEER"].startswith("PJSIP/2001-")
    trunk_phone.bye(trunk)
    world.run(1)
    assert trunk.variables["BRIDGEPEER"] == ""
    assert order == [
        "HangupRequest", "interrupt", "BridgeLeave", "on_exit", "SoftHangupRequest", "Hangup",
    ]  # fmt: skip


def test_seat_without_contact_cannot_be_rung(world: World) -> None:
    trunk = world.system.endpoints["trunk"].incoming("wait", "1", "")
    assert world.pbx.request_channel("PJSIP/2002", trunk) is None
    assert world.pbx.device_state("PJSIP/2002") == "UNAVAILABLE"
    assert world.pbx.device_state("PJSIP/2001") == "NOT_INUSE"


def test_seat_registration_changes_its_device_state(world: World) -> None:
    seat = world.system.endpoints["2001"]
    seat.set_registered(False)
    seat.set_registered(False)  # no change, nothing posted
    seat.set_registered(True)
    states = [e.get("State") for e in world.named("DeviceStateChange")]
    assert states == ["UNAVAILABLE", "NOT_INUSE"]
    assert world.pbx.device_state("PJSIP/2001") == "NOT_INUSE"


def test_traffic_seat_response_drives_a_seat_that_never_answers(tmp_path: Path) -> None:
    world = World(tmp_path, SeatResponse(answers=False, answer_delay=1.0, talk_time=3.0))
    trunk = world.system.endpoints["trunk"].incoming("wait", "1", "")
    seat = world.pbx.request_channel("PJSIP/2001", trunk)
    assert seat is not None
    world.run(30)
    assert seat.state == RINGING and not seat.hungup


# ---------------------------------------------------------------------------- AMI actions


def test_getvar_setvar_and_globals(world: World) -> None:
    epoch = world.actions.getvar(request(("Variable", "EPOCH")))
    assert epoch == [[("Response", "Success"), ("ActionID", "x"), ("Variable", "EPOCH"),
                      ("Value", str(int(START)))]]  # fmt: skip
    world.actions.setvar(request(("Variable", "G"), ("Value", "v")))
    assert world.events[-1].fields[:2] == (("Channel", "none"), ("Uniqueid", "none"))
    assert world.actions.getvar(request(("Variable", "G")))[0][-1] == ("Value", "v")
    missing = world.actions.getvar(request(("Channel", "Nope/1"), ("Variable", "X")))
    assert missing == [[("Response", "Error"), ("ActionID", "x"), ("Message", "No such channel")]]
    nothing = world.actions.setvar(request(("Value", "1")))
    assert nothing[0][-1] == ("Message", "No variable specified")


def test_hangup_by_regex_lists_the_channels(world: World) -> None:
    world.originate("Local/wait@phone/n", "moved", "s")
    world.run(1)
    replies = world.actions.hangup(request(("Channel", "/wait@phone/")))
    assert replies[0] == [("Response", "Success"), ("ActionID", "x"), ("EventList", "start"),
                          ("Message", "Channels hung up will follow")]  # fmt: skip
    assert [r[0] for r in replies[1:3]] == [("Event", "ChannelHungup")] * 2
    assert replies[-1][:4] == [("Event", "ChannelsHungupListComplete"), ("ActionID", "x"),
                               ("EventList", "Complete"), ("ListItems", "2")]  # fmt: skip
    world.run(1)
    assert len(world.pbx.legs) == 0
    unknown = world.actions.hangup(request(("Channel", "Local/none-1;1")))
    assert unknown[0][-1] == ("Message", "No such channel")


def test_core_show_channels_lists_live_channels(world: World) -> None:
    world.originate("Local/wait@phone/n", "moved", "s")
    world.run(3)
    replies = world.actions.core_show_channels(request())
    assert replies[0][-1] == ("Message", "Channels will follow")
    items = replies[1:-1]
    assert [dict(i)["Channel"] for i in items] == [
        "Local/wait@phone-00000000;1",
        "Local/wait@phone-00000000;2",
    ]
    first = dict(items[0])
    assert (first["Application"], first["ApplicationData"], first["Duration"]) == (
        "Wait",
        "5",
        "00:00:03",
    )
    assert replies[-1][3] == ("ListItems", "2")
    lines = world.actions.cli_core_show_channels([])
    assert lines[-3:] == ["2 active channels", "2 active calls", "2 calls processed"]
    assert lines[1] == "Local/wait@phone-000 s@moved:2            Up      Wait(5)" + " " * 23


def test_redirect_errors(world: World) -> None:
    missing = world.actions.redirect(request(("Channel", "X/1"), ("Context", "t"),
                                             ("Exten", "s"), ("Priority", "1")))  # fmt: skip
    assert missing[0][-1] == ("Message", "Channel does not exist: X/1")
    bad = world.actions.redirect(request(("Channel", "X/1"), ("Context", "t"), ("Exten", "s"),
                                         ("Priority", "zero")))  # fmt: skip
    assert bad[0][-1] == ("Message", "Priority is invalid")
