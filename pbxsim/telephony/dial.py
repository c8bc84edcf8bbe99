"""`Dial(Tech/resource[&Tech2/resource2...][,timeout[,options]])`: apps/app_dial.c.

What the hotline needs of app_dial: transfers out through the carrier trunk
(`PJSIP/110@trunk`), callbacks (`Dial(PJSIP/<number>)` run by an originated seat) and
ringing seats or Local channels directly. The steps and their events follow
`dial_exec_full` / `wait_for_answer`, per channel:

* every destination is requested first (`Newchannel`, the dialer's copies: `Newexten
  AppDial (Outgoing Line)`, `NewCallerid`, `DIALEDPEERNUMBER`), then each is called and
  gets its `DialBegin` (`DialString` is the part after `Tech/`); a destination that
  cannot be requested (unknown technology, unknown or unreachable endpoint, Local to a
  missing extension) counts as "no channel" and gets no dial events;
* progress is `DialState` (RINGING), the end of each attempt one `DialEnd`: the first
  to answer gets `ANSWER`, every other one still ringing `CANCEL` and is then hung up
  with cause 26 (answered elsewhere); a callee that hangs up while ringing gets the
  status of its cause (`ast_hangup_cause_to_dial_status`: 17 BUSY, 34 CONGESTION,
  3/20 CHANUNAVAIL, else NOANSWER); the timeout posts `NOANSWER` for every callee
  still ringing, a caller hanging up `CANCEL`; those are hung up with cause 0
  (`hanguptree` leaves a never-answered channel's cause alone);
* on answer the caller gets DIALSTATUS=ANSWER, DIALEDPEERNAME, DIALEDPEERNUMBER, is
  answered if it was not, and is bridged with the callee (BridgeCreate/Enter,
  BRIDGEPEER). When the bridge ends, `end_bridge_callback` sets ANSWEREDTIME(_MS)
  and DIALEDTIME(_MS) on the caller -- measured from the *caller's* answer and
  creation, as Asterisk 22 does (`ast_channel_get_up_time_ms`/`_duration_ms`), so an
  IVR before the Dial counts -- and DIALSTATUS is set once more on the way out;
* after the bridge: the callee hung up -> the caller continues at the next priority
  only with option `g`, otherwise Dial returns -1 and the caller is hung up; the
  caller hung up -> the callee is hung up with it (the bridge dissolves);
* DIALSTATUS when nobody answered: NOANSWER, or -- when *every* destination failed --
  BUSY, CONGESTION or CHANUNAVAIL after `handle_cause`'s counts.

The far end of `PJSIP/<number>@<endpoint>` (a carrier trunk) is simulated by a
`FarEndPolicy`: for each call it says whether the far end rings, answers after how
long, talks for how long, or rejects with a cause. The default answers after a few
seconds and talks until the caller hangs up. `PJSIP/<endpoint>` rings that endpoint's
simulated softphone (`softphone.py`, its own ring policy).

Options: `g` and `c` (cause 26 for cancelled callees) are modelled;
`t`/`T`/`h`/`H`/`k`/`K`/`w`/`W`/`x`/`X` only enable DTMF features in the bridge and
`r`/`m` only change what the caller hears, so they are accepted with no effect (no
media). Not modelled (accepted, ignored): A, a, b/B (Gosub), C, d, D, e, f, F, G, i, I,
L, M, n/N/p/P (privacy), o, O, S, s, u, U, z; the URL argument; call forwarding;
the progress timeout (`timeout^progress`); RINGTIME/PROGRESSTIME(_MS); early media.

Not verified against a transcript (none of the recorded calls runs Dial; the order
above is app_dial.c's): the outbound channel's caller id comes from the shared
`Pbx.prepare_outbound` (the caller's connected line, else its exten -- app_dial uses
the exten and only the connected *name*); a `@endpoint` is taken as reachable even
without an AOR; seats' softphones never answer busy (only the far end can refuse).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pbxsim.channel import DOWN, UP, Channel
from pbxsim.clock import Handle
from pbxsim.telephony.bridge import Bridge
from pbxsim.telephony.pbx import Done, Pbx

#: include/asterisk/causes.h
CAUSE_UNALLOCATED = 1
CAUSE_NO_ROUTE_DESTINATION = 3
CAUSE_NORMAL_CLEARING = 16
CAUSE_BUSY = 17
CAUSE_NO_ANSWER = 19
CAUSE_UNREGISTERED = 20
CAUSE_ANSWERED_ELSEWHERE = 26
CAUSE_CONGESTION = 34
CAUSE_NOSUCHDRIVER = 66

#: the application shown by a dialed channel (`ast_channel_appl_set(tc, "AppDial")`)
DIAL_APP = "AppDial"


@dataclass(frozen=True, slots=True)
class FarEndResponse:
    """How the far party of one trunk call behaves.

    `reject_cause` non-zero: the far end refuses the call (486 Busy = 17, 503 = 34,
    404 = 1...) `answer_delay` seconds after the INVITE, without ringing. Otherwise it
    rings after `ring_delay` (a 180) and, if `answers`, answers `answer_delay` seconds
    later and hangs up after `talk_time` (infinity: it waits for the caller)."""

    answers: bool = True
    answer_delay: float = 3.0
    talk_time: float = math.inf
    ring_delay: float = 0.0
    reject_cause: int = 0


#: (endpoint, number dialed through it) -> the far end's behaviour for this call
FarEndPolicy = Callable[[str, str], FarEndResponse]


def default_far_end(endpoint: str, number: str) -> FarEndResponse:
    """A carrier's party that picks up after 3 s and stays until the caller hangs up
    (the hotline's transfers to 110/119/120/122 and units' lines)."""
    return FarEndResponse()


def dial_status_for_cause(cause: int) -> str:
    """main/channel.c `ast_hangup_cause_to_dial_status`: the DialEnd status of a callee
    that went away while ringing."""
    if cause == CAUSE_BUSY:
        return "BUSY"
    if cause == CAUSE_CONGESTION:
        return "CONGESTION"
    if cause in (CAUSE_NO_ROUTE_DESTINATION, CAUSE_UNREGISTERED):
        return "CHANUNAVAIL"
    return "NOANSWER"


@dataclass
class _Counts:
    """app_dial's `cause_args`: why destinations failed (`handle_cause`)."""

    busy: int = 0
    congestion: int = 0
    nochan: int = 0

    def add(self, cause: int) -> None:
        if cause == CAUSE_BUSY:
            self.busy += 1
        elif cause == CAUSE_CONGESTION:
            self.congestion += 1
        elif cause in (CAUSE_NO_ANSWER, CAUSE_NORMAL_CLEARING):
            pass
        else:  # NO_ROUTE_DESTINATION, UNREGISTERED and everything else
            self.nochan += 1

    def status(self, lines: int, default: str) -> str:
        """All lines failed: BUSY before CONGESTION before CHANUNAVAIL (wait_for_answer's
        "Everyone is busy/congested at this time"); otherwise `default`."""
        if lines and lines == self.busy + self.congestion + self.nochan:
            if self.busy:
                return "BUSY"
            if self.congestion:
                return "CONGESTION"
            return "CHANUNAVAIL"
        return default


def parse_options(text: str) -> set[str]:
    """Option letters; arguments in parentheses (`L(60000)`, `m(class)`) are skipped."""
    letters: set[str] = set()
    depth = 0
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and c.isalpha():
            letters.add(c)
    return letters


def parse_timeout(text: str) -> float | None:
    """Seconds to ring; None = forever (empty, zero or not a number, as app_dial warns
    "Invalid timeout specified" and dials without one). `answer^progress`: the part
    before `^` is the answer timeout (the progress timeout is not modelled)."""
    text = text.split("^", 1)[0].strip()
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


@dataclass(eq=False)
class _Outgoing:
    """One destination that got a channel (app_dial's `chanlist`)."""

    channel: Channel
    number: str
    stillgoing: bool = True


class DialCall:
    """One run of Dial() on one caller channel.

    States: `ringing` (waiting for answers), `bridged`, `done`. Every exit goes through
    `_finish`, which calls `done` exactly once."""

    def __init__(self, dialer: Dialer, caller: Channel, options: set[str], done: Done) -> None:
        self.pbx = dialer.pbx
        self.dialer = dialer
        self.caller = caller
        self.options = options
        self._done: Done | None = done
        self.state = "ringing"
        self.status = "NOANSWER"
        self.outgoing: list[_Outgoing] = []
        self.counts = _Counts()
        self.lines = 0
        self.timer: Handle | None = None
        self.peer: _Outgoing | None = None
        self.bridge: Bridge | None = None

    # ------------------------------------------------------------------ start

    def start(self, destinations: list[str], timeout: float | None) -> None:
        pbx = self.pbx
        for interface in destinations:
            tech, sep, number = interface.partition("/")
            if not sep or not tech or not number:
                continue  # "Dial argument takes format (technology/resource)"
            channel, cause = self.dialer.request(tech, number, self.caller)
            if channel is not None:
                self.lines += 1
                self.outgoing.append(_Outgoing(channel, number))
            elif cause >= 0:  # a failed request counts; a failed Local call does not
                self.lines += 1
                self.counts.add(cause)
        for out in self.outgoing:
            if out.channel.hungup:
                out.stillgoing = False
                continue
            pbx.dial_begin(self.caller, out.channel, out.number)
            self._watch(out)
        if not any(o.stillgoing for o in self.outgoing):
            # no channel to wait for: CHANUNAVAIL, or what every failure says
            self._no_answer(self.counts.status(self.lines, "CHANUNAVAIL"))
            return
        if timeout is not None:
            self.timer = pbx.scheduler.call_later(timeout, self._timeout)
        caller_leg = pbx.leg(self.caller)
        if caller_leg.in_dialplan:
            pbx.set_app_interrupt(self.caller, self._interrupted)
        else:
            # an originated channel running Dial as its application: no dialplan run
            # to interrupt it, so its hangup is watched directly
            pbx.on_hangup(self.caller, lambda _ch: self._interrupted())

    def _watch(self, out: _Outgoing) -> None:
        def answered(_channel: Channel) -> None:
            self._answered(out)

        def gone(_channel: Channel) -> None:
            self._callee_gone(out)

        self.pbx.on_answer(out.channel, answered)
        self.pbx.on_hangup(out.channel, gone)

    # ------------------------------------------------------------------ ringing

    def _ringing(self) -> list[_Outgoing]:
        return [o for o in self.outgoing if o.stillgoing and not o.channel.hungup]

    def _answered(self, out: _Outgoing) -> None:
        """AST_CONTROL_ANSWER from `out`: it wins, the others are cancelled."""
        if self.state != "ringing" or not out.stillgoing:
            return
        pbx, caller = self.pbx, self.caller
        self._cancel_timer()
        out.stillgoing = False
        self.peer = out
        pbx.dial_end(caller, out.channel, "ANSWER")
        losers = self._ringing()
        for other in losers:
            other.stillgoing = False
            pbx.dial_end(caller, other.channel, "CANCEL")
        # hanguptree(&out_chans, peer, AST_CAUSE_ANSWERED_ELSEWHERE)
        for other in losers:
            pbx.hangup(other.channel, CAUSE_ANSWERED_ELSEWHERE)
        self.status = "ANSWER"
        pbx.set_var(caller, "DIALSTATUS", "ANSWER")
        pbx.set_var(caller, "DIALEDPEERNAME", out.channel.name)
        number = out.channel.variables.get("DIALEDPEERNUMBER", out.number)
        pbx.set_var(caller, "DIALEDPEERNUMBER", number)
        if caller.state != UP:
            pbx.answer(caller)  # features.c pre_bridge_setup: ast_raw_answer
        self.state = "bridged"
        self.bridge = pbx.bridge(caller, out.channel)
        self.bridge.on_exit(caller, self._bridge_exit)

    def _callee_gone(self, out: _Outgoing) -> None:
        """A callee hung up (or was refused) before anyone answered."""
        if self.state != "ringing" or not out.stillgoing:
            return
        out.stillgoing = False
        cause = self.pbx.leg(out.channel).hangup_cause
        self.pbx.dial_end(self.caller, out.channel, dial_status_for_cause(cause))
        self.counts.add(cause)
        if not self._ringing():
            self._cancel_timer()
            # the hangup of that callee completes before the caller moves on
            self.pbx.scheduler.call_soon(
                self._no_answer, self.counts.status(self.lines, "NOANSWER")
            )

    def _timeout(self) -> None:
        self.timer = None
        if self.state != "ringing":
            return
        ringing = self._ringing()
        for out in ringing:
            out.stillgoing = False
            self.pbx.dial_end(self.caller, out.channel, "NOANSWER")
        self._hang_up(ringing)
        self._no_answer("NOANSWER")

    def _hang_up(self, outs: list[_Outgoing]) -> None:
        """`hanguptree` at `out:`: callees never answered keep cause 0 unless `c`."""
        cause = CAUSE_ANSWERED_ELSEWHERE if "c" in self.options else 0
        for out in outs:
            self.pbx.hangup(out.channel, cause)

    def _no_answer(self, status: str) -> None:
        if self.state != "ringing":
            return
        self.status = status
        self.pbx.set_var(self.caller, "DIALSTATUS", status)
        self._finish(0)

    def _interrupted(self) -> None:
        """The caller hangs up (or is redirected) while Dial() runs."""
        if self.state == "ringing":
            self._cancel_timer()
            ringing = self._ringing()
            for out in ringing:
                out.stillgoing = False
                self.pbx.dial_end(self.caller, out.channel, "CANCEL")
            self._hang_up(ringing)
            self.state = "cancelled"
            self.status = "CANCEL"
            if not self.caller.hungup:
                self.pbx.set_var(self.caller, "DIALSTATUS", "CANCEL")
            self._finish(-1)
            return
        if self.state != "bridged" or self.bridge is None:
            return
        leg = self.pbx.legs.find(self.caller.name)
        if leg is not None and leg.async_goto:
            # AMI Redirect: the caller leaves, the bridge ends and the callee with it
            self.bridge.kick(self.caller)
            self._bridge_over()
            self._finish(0)
            return
        if leg is None or not leg.in_dialplan:
            # an originated caller hanging up: Pbx.hangup takes it out of the bridge
            # and dissolves it; there is nobody left to set variables for
            self._finish(-1)
            return
        # a BYE from the caller leaves the bridge right after this hook (Pbx.
        # remote_hangup); an AMI Hangup does not, so the caller is taken out here
        self.pbx.scheduler.call_soon(self._leave_bridge)

    def _leave_bridge(self) -> None:
        bridge = self.bridge
        if self.state != "bridged" or bridge is None:
            return
        if self.caller not in bridge.members:
            self._finish(-1)  # gone without an exit callback: Dial() still returns
            return
        leg = self.pbx.leg(self.caller)
        bridge.clear_peers()
        leg.left_bridge = bridge  # dissolves (callee hung up) when the caller is gone
        bridge.leave(self.caller)

    # ------------------------------------------------------------------ bridge

    def _bridge_exit(self, _channel: Channel) -> None:
        """The caller is out of the bridge: it hung up, or the callee did."""
        if self.state != "bridged":
            return
        leg = self.pbx.legs.find(self.caller.name)
        if self.caller.hungup or leg is None or leg.soft_hangup:
            self._bridge_over()
            self._finish(-1)
            return
        # the callee hung up: the bridge is destroyed, then Dial() returns
        self.state = "leaving"
        self.pbx.scheduler.call_soon(self._after_bridge)

    def _after_bridge(self) -> None:
        self._bridge_over()
        alive = not self.caller.hungup and not self.pbx.leg(self.caller).soft_hangup
        self._finish(0 if "g" in self.options and alive else -1)

    def _bridge_over(self) -> None:
        """`end_bridge_callback`, then DIALSTATUS once more at `out:`."""
        self.state = "over"
        pbx, caller = self.pbx, self.caller
        if caller.hungup:
            return
        now = pbx.scheduler.now()
        up_ms = 0 if caller.answered_at is None else int((now - caller.answered_at) * 1000)
        duration_ms = int((now - caller.created_at) * 1000)
        for name, ms in (("ANSWEREDTIME", up_ms), ("DIALEDTIME", duration_ms)):
            pbx.set_var(caller, name, str(ms // 1000))
            pbx.set_var(caller, f"{name}_MS", str(ms))
        pbx.set_var(caller, "DIALSTATUS", self.status)

    # ------------------------------------------------------------------ end

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _finish(self, result: int) -> None:
        self.state = "done"
        done, self._done = self._done, None
        if done is None:
            return
        if not self.caller.hungup:
            self.pbx.set_app_interrupt(self.caller, None)
        done(result)


class Dialer:
    """The Dial() application of one PBX, with the trunk's far-end behaviour."""

    def __init__(self, pbx: Pbx, far_end: FarEndPolicy | None = None) -> None:
        self.pbx = pbx
        self.far_end = far_end if far_end is not None else default_far_end

    def __call__(self, pbx: Pbx, channel: Channel, args: list[str], done: Done) -> None:
        destinations = [d.strip() for d in (args[0] if args else "").split("&") if d.strip()]
        if not destinations:
            # "Dial requires an argument (technology/resource)": returns -1
            done(-1)
            return
        timeout = parse_timeout(args[1]) if len(args) > 1 else None
        options = parse_options(args[2]) if len(args) > 2 else set()
        DialCall(self, channel, options, done).start(destinations, timeout)

    # ------------------------------------------------------------------ requests

    def request(self, tech: str, number: str, caller: Channel) -> tuple[Channel | None, int]:
        """`ast_request` + the dialer's preparation + `ast_call` for one destination:
        the channel, or None and the cause the request failed with (-1: the request
        worked but `ast_call` failed, which app_dial does not count as a line)."""
        pbx = self.pbx
        if tech.lower() == "local":
            return pbx.request_channel(f"Local/{number}", caller, DIAL_APP), -1
        if tech.upper() != "PJSIP":
            return None, CAUSE_NOSUCHDRIVER  # "No channel type registered for ..."
        user, at, endpoint_name = number.partition("@")
        if not at:
            channel = pbx.request_channel(f"PJSIP/{number}", caller, DIAL_APP)
            return channel, CAUSE_NO_ROUTE_DESTINATION
        # the endpoint is taken to reach its far end (a trunk's static contact or
        # outbound proxy): pjsip.conf files without an AOR on the trunk (the
        # transcripts') would make real Asterisk refuse the request
        if f"PJSIP/{endpoint_name}" not in pbx.endpoints:
            return None, CAUSE_NO_ROUTE_DESTINATION
        return self.request_far_end(endpoint_name, user, number, caller), 0

    def request_far_end(
        self, endpoint_name: str, user: str, number: str, caller: Channel | None,
        accountcode: str = "",
    ) -> Channel:  # fmt: skip
        """`PJSIP/<user>@<endpoint>`: a channel on that endpoint (`PJSIP/trunk-…`, Down,
        in the endpoint's context at `s`, as chan_pjsip creates outbound channels) whose
        far party behaves as the `FarEndPolicy` says. Without a caller it is an AMI
        Originate's channel: a call of its own (its own Linkedid, party A)."""
        pbx = self.pbx
        endpoint = pbx.endpoints[f"PJSIP/{endpoint_name}"]
        channel = pbx.new_channel(
            pbx.ids.tech_name("PJSIP", endpoint_name), endpoint.context, "s", state=DOWN,
            linkedid=caller.linkedid if caller is not None else None, device=endpoint.device,
            party_a=caller is None, accountcode=accountcode,
        )  # fmt: skip
        endpoint.channels.append(channel)
        pbx.leg(channel).sip_call_id = str(pbx.uuid())
        pbx.prepare_outbound(channel, caller, DIAL_APP, number)
        FarEnd(pbx, channel, self.far_end(endpoint_name, user)).start()
        return channel


class FarEnd:
    """The party at the other end of a trunk call, driven by its `FarEndResponse`."""

    def __init__(self, pbx: Pbx, channel: Channel, response: FarEndResponse) -> None:
        self.pbx = pbx
        self.channel = channel
        self.response = response

    def start(self) -> None:
        r = self.response
        if r.reject_cause:
            self.pbx.scheduler.call_later(r.answer_delay, self._reject)
        else:
            self.pbx.scheduler.call_later(r.ring_delay, self._ring)

    def _ring(self) -> None:
        if self.channel.hungup:
            return
        self.pbx.ringing(self.channel)
        self._update_device()
        if self.response.answers:
            self.pbx.scheduler.call_later(self.response.answer_delay, self._answer)

    def _answer(self) -> None:
        channel = self.channel
        if channel.hungup or channel.state == UP:
            return
        self.pbx.answer(channel)
        if self.response.talk_time != math.inf:
            self.pbx.scheduler.call_later(self.response.talk_time, self._bye)

    def _bye(self) -> None:
        if not self.channel.hungup:
            self.pbx.remote_hangup(self.channel)

    def _reject(self) -> None:
        """A final failure response: res_pjsip_session queues a hangup with the cause
        (`HangupRequest` with `Cause`); the dialer then hangs the channel up."""
        channel = self.channel
        if channel.hungup:
            return
        cause = self.response.reject_cause
        leg = self.pbx.leg(channel)
        leg.soft_hangup = True
        leg.hangup_cause = cause
        self.pbx.emit("HangupRequest", "call", channel, ("Cause", str(cause)))
        self.pbx.hangup(channel, cause)

    def _update_device(self) -> None:
        endpoint = self.pbx.endpoints.get(self.pbx.leg(self.channel).device)
        if endpoint is not None:
            endpoint.update_state()


def install(pbx: Pbx, far_end: FarEndPolicy | None = None) -> Dialer:
    """Register Dial() (replacing any earlier registration) and return it, so a test or
    the demo can change `dialer.far_end` later."""
    dialer = Dialer(pbx, far_end)
    pbx.register_app("Dial", dialer)
    return dialer


__all__ = [
    "DIAL_APP",
    "DialCall",
    "Dialer",
    "FarEnd",
    "FarEndPolicy",
    "FarEndResponse",
    "default_far_end",
    "dial_status_for_cause",
    "install",
    "parse_options",
    "parse_timeout",
]
