"""The PBX core: channels, their events, answer/hangup propagation, dials and bridges.

`Pbx` is the facade the other parts talk to (pbxsim/README.md "Telephony services"):
app_queue asks it for member channels, dial events, bridges and music on hold; the AMI
actions ask it for channels, variables, hangups and originates. Everything runs on the
injected `Scheduler`, synchronously, so a replay is deterministic.

Event shapes and their order per channel follow the real Asterisk 22.10.1 transcripts;
the comments name the transcript behaviour each step reproduces.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pbxsim.channel import DOWN, RINGING, UP, Channel
from pbxsim.clock import Scheduler
from pbxsim.dialplan import Dialplan, FunctionError, Scope, default_functions
from pbxsim.dialplan import substitute as _substitute
from pbxsim.events import EventBus, Fields
from pbxsim.manager_api import ActionRegistry, CliRegistry
from pbxsim.telephony.bridge import Bridge
from pbxsim.telephony.cdr import CdrEngine
from pbxsim.telephony.ids import IdAllocator
from pbxsim.telephony.legs import ChannelCallback, ChannelRegistry, Leg

if TYPE_CHECKING:
    from pbxsim.telephony.dial import FarEndPolicy
    from pbxsim.telephony.executor import DialplanRun
    from pbxsim.telephony.softphone import RingPolicy, Softphone

Done = Callable[[int], None]
App = Callable[["Pbx", Channel, list[str], Done], None]
DeviceListener = Callable[[str, str], None]

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
    38: "Network out of order",
}

DEVICE_STATES = {
    "UNKNOWN",
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
}

CID_PRES_ALLOWED = "0 (Presentation Allowed, Not Screened)"


def inherit_variables(parent: Channel, child: Channel) -> None:
    """`ast_channel_inherit_variables`: `__X` passes on as `__X` (to every generation),
    `_X` as `X` (one generation); silently, as Asterisk posts no VarSet for it."""
    for name, value in parent.variables.items():
        if name.startswith("__"):
            child.variables[name] = value
        elif name.startswith("_"):
            child.variables[name[1:]] = value


class Pbx:
    def __init__(
        self,
        scheduler: Scheduler,
        bus: EventBus,
        rng: random.Random,
        dialplan: Dialplan | None = None,
        astdb: Any = None,
    ) -> None:
        self.scheduler = scheduler
        self.bus = bus
        self.rng = rng
        self.dialplan = dialplan
        self.astdb = astdb
        self.ids = IdAllocator(scheduler)
        self.legs = ChannelRegistry()
        self.cdr = CdrEngine(bus)
        self.globals: dict[str, str] = {}
        self.apps: dict[str, App] = {}
        self.endpoints: dict[str, Softphone] = {}
        #: FastAGI connects here instead of the URL's host:port (tests, NAT'd servers);
        #: the AGI environment still shows the URL as written
        self.agi_connect_to: tuple[str, int] | None = None
        #: SIPDOMAIN of calls arriving on PJSIP endpoints (the address they were sent to)
        self.sip_domain = "127.0.0.1"
        #: last state reported per device (DeviceStateChange / queue member status)
        self.device_states: dict[str, str] = {}
        self._device_listeners: list[DeviceListener] = []
        self.runs: dict[str, DialplanRun] = {}
        self.functions = default_functions().copy()
        self.functions.register("DEVICE_STATE", self._device_state_read, self._device_state_write)
        self.calls_processed = 0
        #: astspooldir (MixMonitor relative file names land in <spool>/monitor/)
        self.spool_dir = "/var/spool/asterisk"
        #: seconds each sound file plays for (Playback/STREAM FILE); unknown: default
        self.sound_lengths: dict[str, float] = {}
        self.default_sound_length = 1.0
        self.boot_time = scheduler.now()

    # ------------------------------------------------------------------ registry

    def register_app(self, name: str, app: App) -> None:
        self.apps[name.lower()] = app

    def find_app(self, name: str) -> App | None:
        return self.apps.get(name.lower())

    def leg(self, channel: Channel) -> Leg:
        return self.legs.leg(channel)

    def find_channel(self, name_or_uniqueid: str) -> Channel | None:
        leg = self.legs.find(name_or_uniqueid)
        return leg.channel if leg is not None else None

    # ------------------------------------------------------------------ dialplan

    def start_dialplan(self, channel: Channel, context: str, exten: str, priority: int = 1) -> None:
        """Give the channel a pbx thread at that location (`ast_pbx_start`)."""
        from pbxsim.telephony.executor import DialplanRun

        run = DialplanRun(self, channel)
        self.runs[channel.uniqueid] = run
        self.calls_processed += 1
        run.start(context, exten, priority)

    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: a channel in dialplan jumps (its application is interrupted);
        a bridged or dialed one leaves its bridge and gets a dialplan run of its own."""
        run = self.run_of(channel)
        if run is not None:
            run.redirect(context, exten, priority)
            return
        leg = self.leg(channel)
        if leg.bridge is not None:
            leg.bridge.kick(channel)
        self.start_dialplan(channel, context, exten, priority)

    def find_priority(self, context: str, exten: str, priority: int, callerid: str = ""
                      ) -> tuple[str, str] | None:  # fmt: skip
        """(application, raw data) that runs at this location, or None."""
        if self.dialplan is None:
            return None
        hit = self.dialplan.find_priority(context, exten, priority, callerid or None)
        return (hit[1].app, hit[1].data) if hit is not None else None

    def exten_exists(self, context: str, exten: str, priority: int = 1, callerid: str = "") -> bool:
        return self.find_priority(context, exten, priority, callerid) is not None

    def exten_can_match(self, context: str, exten: str, callerid: str = "") -> bool:
        """ast_canmatch_extension: `exten` is an extension of `context`, or could
        become one with more digits."""
        if self.dialplan is None:
            return False
        return self.dialplan.can_match(context, exten, callerid or None)

    def find_label(self, context: str, exten: str, label: str, callerid: str = "") -> int | None:
        if self.dialplan is None:
            return None
        return self.dialplan.find_label(context, exten, label, callerid or None)

    def scope(self, channel: Channel | None) -> Scope:
        """What `${...}` sees for this channel; sets go through `set_var` (VarSet)."""

        def assign(name: str, value: str) -> None:
            self.set_var(channel, name, value)

        return Scope(
            channel,
            lambda name: self.get_var(channel, name),
            assign,
            self.scheduler.now,
            self.astdb,
            self.globals,
            self.functions,
            assign_global=lambda name, value: self.set_var(None, name, value),
        )

    def _device_state_read(self, scope: Scope, data: str) -> str:
        return self.device_state(data.strip())

    def _device_state_write(self, scope: Scope, data: str, value: str) -> None:
        """func_devstate.c: only `Custom:` devices can be set; the change is posted like
        any device state change (app_queue members with that state interface react)."""
        device = data.strip()
        if not device.lower().startswith("custom:"):
            raise FunctionError(
                "DEVICE_STATE function can only be used to set 'Custom:' device state!"
            )
        state = value.strip().upper()
        if state not in DEVICE_STATES:
            state = "UNKNOWN"
        self.device_state_changed(device, state)

    def substitute(self, channel: Channel | None, text: str) -> str:
        return _substitute(text, self.scope(channel)) if "$" in text else text

    def run_of(self, channel: Channel) -> DialplanRun | None:
        run = self.runs.get(channel.uniqueid)
        return run if run is not None and not run.finished else None

    def set_app_interrupt(self, channel: Channel, fn: Callable[[], None] | None) -> None:
        """The running application's cancel hook: called if the channel is redirected
        or hung up while the application waits (Wait's timer, Queue's entry...).

        On a hangup the hook decides when the application returns (it calls its `done`,
        normally with -1; the run then posts `SoftHangupRequest` itself). On an AMI
        Redirect `leg(channel).async_goto` is True while the hook runs: the application
        cleans up and must leave the channel up; its `done` is ignored and the dialplan
        continues where the Redirect pointed."""
        run = self.run_of(channel)
        if run is not None:
            run.set_app_interrupt(fn)

    # ------------------------------------------------------------------ events

    def emit(self, name: str, privilege: str, channel: Channel, *extra: tuple[str, str]) -> None:
        self.bus.emit(name, privilege, [*channel.block(), *extra])

    def new_channel(
        self,
        name: str,
        context: str,
        exten: str,
        *,
        state: int = DOWN,
        linkedid: str | None = None,
        device: str = "",
        party_a: bool = True,
        caller: tuple[str, str] = ("", ""),
        accountcode: str = "",
    ) -> Channel:
        """Create a channel and emit `Newchannel`. `party_a=False` for dialed channels,
        which never get a CDR of their own (cdr.py)."""
        uniqueid = self.ids.uniqueid()
        now = self.scheduler.now()
        channel = Channel(
            name=name,
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            context=context,
            exten=exten,
            state=state,
            caller_num=caller[0],
            caller_name=caller[1],
            created_at=now,
            accountcode=accountcode,
        )
        self.legs.add(Leg(channel, device=device))
        if party_a:
            self.cdr.start(channel, now)
        self.emit("Newchannel", "call", channel)
        return channel

    def fresh_block(self, channel: Channel, prefix: str = "") -> Fields:
        """The block of a snapshot taken now (`ast_channel_snapshot_create`): includes
        changes not yet published. app_queue's `AgentCalled` shows this one for the
        member channel, while `DialBegin` right after shows the published one."""
        leg = self.legs.find(channel.name)
        if leg is None or not leg.pending:
            return channel.block(prefix)
        return dataclasses.replace(channel, **leg.pending).block(prefix)  # type: ignore[arg-type]

    def _publish(self, channel: Channel) -> None:
        leg = self.legs.find(channel.name)
        if leg is not None and leg.pending:
            for name, value in leg.pending.items():
                setattr(channel, name, value)
            leg.pending.clear()

    def set_state(self, channel: Channel, state: int) -> None:
        if channel.state == state or channel.hungup:
            return
        self._publish(channel)
        channel.state = state
        if state == UP and channel.answered_at is None:
            channel.answered_at = self.scheduler.now()
            self.cdr.answered(channel, channel.answered_at)
        self.emit("Newstate", "call", channel)

    def set_callerid(self, channel: Channel, num: str, name: str) -> None:
        channel.caller_num, channel.caller_name = num, name
        self.emit("NewCallerid", "call", channel, ("CID-CallingPres", CID_PRES_ALLOWED))

    def set_connected(self, channel: Channel, num: str, name: str) -> None:
        channel.connected_num, channel.connected_name = num, name
        self.emit("NewConnectedLine", "call", channel)

    def set_var(self, channel: Channel | None, name: str, value: str) -> None:
        """Set a channel variable (or a global when `channel` is None) and emit VarSet.

        A leading `__`/`_` (inheritance marker) is kept in the name, as Asterisk does.
        """
        if channel is None:
            self.globals[name] = value
            fields = [("Channel", "none"), ("Uniqueid", "none")]
            self.bus.emit("VarSet", "dialplan", [*fields, ("Variable", name), ("Value", value)])
            return
        # stored under the name as given: `_X`/`__X` mark inheritance and stay part of
        # the name (ast_var_t), lookups skip them (ast_var_name). The dict keeps the
        # order of the channel's variable list: pbx_builtin_setvar_helper removes the
        # old value and inserts the new one at the head.
        bare = name.lstrip("_")
        rest = {k: v for k, v in channel.variables.items() if k.lstrip("_") != bare}
        channel.variables.clear()
        channel.variables[name] = value
        channel.variables.update(rest)
        self.emit("VarSet", "dialplan", channel, ("Variable", name), ("Value", value))

    def get_var(self, channel: Channel | None, name: str) -> str | None:
        """`pbx_retrieve_variable`: the channel built-ins first (they shadow channel
        variables of the same name), then the channel's variables, then the global
        built-ins and global variables."""
        if channel is not None:
            builtin = self._builtin_var(channel, name)
            if builtin is not None:
                return builtin
            for key in (name, "_" + name, "__" + name):
                if key in channel.variables:
                    return channel.variables[key]
        if name == "EPOCH":
            return str(int(self.scheduler.now()))
        return self.globals.get(name)

    def _builtin_var(self, channel: Channel, name: str) -> str | None:
        if name in ("CALLINGPRES", "CALLINGANI2", "CALLINGTON", "CALLINGTNS"):
            return "0"
        if name == "HANGUPCAUSE":
            leg = self.legs.find(channel.name)
            return str(leg.hangup_cause if leg is not None and leg.soft_hangup else 0)
        values = {
            "CHANNEL": channel.name,
            "CONTEXT": channel.context,
            "EXTEN": channel.exten,
            "PRIORITY": str(channel.priority),
            "UNIQUEID": channel.uniqueid,
        }
        return values.get(name)

    def newexten(self, channel: Channel, app: str, data: str) -> None:
        """The channel runs `app(data)`; `Newexten` is posted as manager_channels.c
        `channel_newexten` does: only if context/exten/priority differ from the last
        published ones, or no application was published yet (the first `AppDial2`).
        So an application that runs where the channel already is (an originated
        application, the first priority after a Redirect) posts none."""
        leg = self.legs.find(channel.name)
        cep = (channel.context, channel.exten, channel.priority)
        post = True
        if leg is not None:
            post = leg.published_cep != cep or not leg.last_app
            leg.published_cep = cep
            leg.last_app, leg.last_data = app, data
            self.cdr.app_started(channel, self.scheduler.now())
        if post:
            self.emit("Newexten", "dialplan", channel, ("Extension", channel.exten),
                      ("Application", app), ("AppData", data))  # fmt: skip

    def last_app(self, channel: Channel) -> tuple[str, str]:
        leg = self.legs.find(channel.name)
        return (leg.last_app, leg.last_data) if leg is not None else ("", "")

    def sound_length(self, name: str) -> float:
        return self.sound_lengths.get(name, self.default_sound_length)

    def _dtmf_path(self, channel: Channel) -> list[tuple[Channel, str]]:
        """Who sees a digit that arrives on `channel`: the channel itself, each bridge
        peer it is passed to (`Sent`), and that peer's Local partner (`Received`), in
        the order the transcripts post them."""
        path = [(channel, "Received")]
        leg = self.legs.find(channel.name)
        if leg is not None and leg.bridge is not None:
            for member in leg.bridge.members:
                if member is channel:
                    continue
                path.append((member, "Sent"))
                member_leg = self.legs.find(member.name)
                if member_leg is not None and member_leg.partner is not None:
                    if not member_leg.partner.hungup:
                        path.append((member_leg.partner, "Received"))
        return path

    def dtmf_begin(self, channel: Channel, digit: str) -> list[tuple[Channel, str]]:
        path = self._dtmf_path(channel)
        for ch, direction in path:
            self.emit("DTMFBegin", "dtmf", ch, ("Digit", digit), ("Direction", direction))
        return path

    def dtmf_end(self, path: list[tuple[Channel, str]], digit: str, duration_ms: int) -> None:
        for ch, direction in path:
            if ch.hungup:
                continue
            self.emit("DTMFEnd", "dtmf", ch, ("Digit", digit),
                      ("DurationMs", str(duration_ms)), ("Direction", direction))  # fmt: skip
        for ch, direction in path:
            if direction == "Received" and not ch.hungup:
                self.dtmf_received(ch, digit)

    def dtmf_received(self, channel: Channel, digit: str) -> None:
        """Hand a digit the channel received to whoever listens (AGI GET DATA)."""
        leg = self.legs.find(channel.name)
        if leg is not None:
            for listener in list(leg.dtmf_listeners):
                listener(digit)

    # ------------------------------------------------------------------ device state

    def on_device_state(self, listener: DeviceListener) -> None:
        """`listener(device, state)` for every device state change (app_queue members)."""
        self._device_listeners.append(listener)

    def device_state_changed(self, device: str, state: str) -> None:
        self.device_states[device] = state
        self.bus.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])
        for listener in list(self._device_listeners):
            listener(device, state)

    def device_state(self, device: str) -> str:
        """`ast_device_state`: the last posted state, else what the technology says."""
        if device in self.device_states:
            return self.device_states[device]
        endpoint = self.endpoints.get(device)
        if endpoint is not None:
            return endpoint.state()
        if device.startswith("Local/"):
            return self._local_idle_state(device)
        return "UNKNOWN"

    # ------------------------------------------------------------------ answer

    def on_answer(self, channel: Channel, fn: ChannelCallback) -> None:
        self.leg(channel).answer_callbacks.append(fn)

    def on_hangup(self, channel: Channel, fn: ChannelCallback) -> None:
        """`fn(channel)` runs once, when the channel starts hanging up (before `Hangup`)."""
        self.leg(channel).hangup_callbacks.append(fn)

    def on_destroy(self, channel: Channel, fn: Callable[[], None]) -> None:
        self.leg(channel).destroy_callbacks.append(fn)

    def answer(self, channel: Channel) -> None:
        """Answer a channel; for a Local `;2` this answers the `;1` that dialed it."""
        if channel.state == UP or channel.hungup:
            return
        self.set_state(channel, UP)
        leg = self.leg(channel)
        partner = leg.partner
        if partner is not None and channel.name.endswith(";2") and not partner.hungup:
            self._answer_local_one(partner, leg.device)
        elif leg.device in self.endpoints:
            self.endpoints[leg.device].update_state()
            self._fire_answer(channel)
        else:
            self._fire_answer(channel)

    def _answer_local_one(self, one: Channel, device: str) -> None:
        leg = self.leg(one)
        caller = leg.requester
        self.set_state(one, UP)
        if caller is not None:
            self.newexten(one, leg.dial_app, "(Outgoing Line)")
            self.set_connected(one, one.connected_num, one.connected_name)
        self._local_device(device)
        self._fire_answer(one)

    def _local_idle_state(self, device: str) -> str:
        """chan_local's devicestate: INVALID when the extension does not exist."""
        from pbxsim.telephony import local

        target = local.parse_local(device.removeprefix("Local/"))
        return "NOT_INUSE" if local.target_exists(self, target) else "INVALID"

    def _fire_answer(self, channel: Channel) -> None:
        leg = self.leg(channel)
        callbacks, leg.answer_callbacks = leg.answer_callbacks, []
        for fn in callbacks:
            fn(channel)

    def _local_device(self, device: str) -> None:
        """core_local.c `local_devicestate`: INVALID if the extension does not exist,
        INUSE while any Local pair for it exists, else NOT_INUSE -- re-evaluated (and
        posted) once per half when a pair answers or goes away."""
        state = self._local_idle_state(device)
        if state == "NOT_INUSE" and any(
            leg.device == device and not leg.channel.hungup for leg in self.legs
        ):
            state = "INUSE"
        self.device_state_changed(device, state)
        self.device_state_changed(device, state)

    # ------------------------------------------------------------------ hangup

    def soft_hangup(self, channel: Channel, cause: int = 16, *, post: bool = True) -> None:
        """`ast_softhangup`: ask a channel to hang up.

        The Hangup application posts `SoftHangupRequest` at once (`post=True`); an AMI
        `Hangup` does not: the running application notices, cleans up (a queued caller
        posts its QueueCallerAbandon first) and the dialplan run posts it on its way
        out, which is the order ami-2.log shows. A channel that runs no dialplan
        (bridged, being dialed) is hung up straight away by its owner.
        """
        if channel.hungup:
            return
        leg = self.leg(channel)
        if leg.soft_hangup or leg.async_goto:
            # during an AMI Redirect the application's exit does not end the channel:
            # pbx.c sees AST_SOFTHANGUP_ASYNCGOTO and carries on at the new location
            return
        leg.soft_hangup = True
        leg.hangup_cause = cause
        if post:
            self.post_soft_hangup(channel, cause)
        self._run_hangup_callbacks(leg)
        if leg.in_dialplan:
            if leg.interrupt is not None:
                leg.interrupt()
        else:
            self.hangup(channel, cause)

    def post_soft_hangup(self, channel: Channel, cause: int = 16) -> None:
        leg = self.leg(channel)
        if not leg.soft_hangup_posted:
            leg.soft_hangup_posted = True
            self.emit("SoftHangupRequest", "call", channel, ("Cause", str(cause)))

    def _run_hangup_callbacks(self, leg: Leg) -> None:
        callbacks, leg.hangup_callbacks = leg.hangup_callbacks, []
        for fn in callbacks:
            fn(leg.channel)

    def hangup(self, channel: Channel, cause: int = 16, *, notify_partner: bool = True) -> None:
        """`ast_hangup`: the channel is gone. The Local partner is told first
        (`HangupRequest`), then `Hangup` is posted, then the partner hangs up; a bridge
        that lost a member ejects the survivors last. `notify_partner=False` is a Local
        call that failed before the pair was joined: each half goes on its own."""
        if channel.hungup:
            return
        leg = self.leg(channel)
        leg.hangup_cause = cause
        self._run_hangup_callbacks(leg)
        self.moh_stop(channel)
        bridges: list[Bridge] = []
        if leg.left_bridge is not None:
            bridges.append(leg.left_bridge)
        self._leave_bridge(leg, bridges)
        partner = leg.partner
        partner_leg = self.legs.find(partner.name) if partner is not None else None
        if partner_leg is not None and (partner_leg.channel.hungup or not notify_partner):
            partner_leg = None
        if partner_leg is not None:
            partner_leg.hangup_cause = cause
            partner_leg.soft_hangup = True
            self.emit("HangupRequest", "call", partner_leg.channel, ("Cause", str(cause)))
            self._run_hangup_callbacks(partner_leg)
            self._leave_bridge(partner_leg, bridges)
        self._destroy(leg, cause)
        if partner_leg is not None:
            if partner_leg.in_dialplan:
                # its application notices the hangup; the dialplan run ends the channel
                if partner_leg.interrupt is not None:
                    partner_leg.interrupt()
            else:
                self._destroy(partner_leg, cause)
        for bridge in bridges:
            if not bridge.destroyed:
                bridge.dissolve()

    @staticmethod
    def _leave_bridge(leg: Leg, bridges: list[Bridge]) -> None:
        if leg.bridge is not None:
            bridges.append(leg.bridge)
            leg.bridge.hangup_leave(leg.channel)

    def _destroy(self, leg: Leg, cause: int) -> None:
        channel = leg.channel
        if channel.hungup:
            return
        channel.hungup = True
        leg.in_dialplan = False
        now = self.scheduler.now()
        self.cdr.hangup(channel, now, (leg.last_app, leg.last_data))
        # a dialed channel hung up before it answered publishes the dialer's copies
        # with its last snapshot; the connected line update trails the Hangup
        # (ami.log: ring-no-answer members, ami-2.log: ringall losers)
        connected_pending = "connected_num" in leg.pending
        self._publish(channel)
        self.emit(
            "Hangup",
            "call",
            channel,
            ("Cause", str(cause)),
            ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown")),
        )
        if connected_pending:
            self.emit("NewConnectedLine", "call", channel)
        self.legs.remove(channel)
        run = self.runs.pop(channel.uniqueid, None)
        if run is not None:
            run.finished = True
        for fn in leg.destroy_callbacks:
            fn()
        leg.destroy_callbacks.clear()
        if leg.device.startswith("Local/"):
            partner = leg.partner
            if partner is None or partner.hungup:
                self._local_device(leg.device)
        elif leg.device.startswith("PJSIP/"):
            endpoint = self.endpoints.get(leg.device)
            if endpoint is not None:
                endpoint.channel_gone(channel)

    # ------------------------------------------------------------------ dialing

    def request_channel(
        self, interface: str, requester: Channel | None, app: str = "AppQueue"
    ) -> Channel | None:
        """`ast_request` + the dialer's preparation + `ast_call` for one interface.

        `Local/<exten>@<context>[/n]` gives the `;1` of a new pair whose `;2` runs the
        dialplan; `PJSIP/<endpoint>` a channel on a simulated softphone. Returns None
        when the interface cannot be called (unknown technology or endpoint, missing
        extension, unregistered phone): the caller treats it as CHANUNAVAIL.
        """
        from pbxsim.telephony import local

        tech, _, resource = interface.partition("/")
        linkedid = requester.linkedid if requester is not None else None
        if tech.lower() == "local":
            target = local.parse_local(resource)
            one, _two = local.create_pair(self, target, linkedid=linkedid, party_a=False)
            self.prepare_outbound(one, requester, app, target.dialstring)
            if not local.local_call(self, one):
                self.hangup(one, 0)
                return None
            return one
        if tech.upper() == "PJSIP":
            endpoint = self.endpoints.get(f"PJSIP/{resource}")
            if endpoint is None:
                return None
            return endpoint.request(requester, app)
        return None

    def prepare_outbound(
        self, one: Channel, requester: Channel | None, app: str, dialed: str
    ) -> None:
        """What app_queue/app_dial do between request and call: the outbound channel
        shows the dialing app, takes the caller's caller id, records DIALEDPEERNUMBER."""
        leg = self.leg(one)
        leg.requester, leg.dial_app = requester, app
        if requester is not None:
            inherit_variables(requester, one)
            # the outbound caller id is the caller's connected line, or the number it
            # dialed when that is unknown (app_dial/app_queue): an originated Local
            # caller shows its own number, a PJSIP trunk caller the dialed one
            if requester.connected_num:
                one.caller_num = requester.connected_num
                one.caller_name = requester.connected_name
            else:
                one.caller_num, one.caller_name = requester.exten, ""
            # exten and connected line are copied too, but only published later
            leg.pending.update(
                exten=requester.exten,
                connected_num=requester.caller_num,
                connected_name=requester.caller_name,
            )
        self.newexten(one, app, "(Outgoing Line)")
        if requester is not None:
            self.set_callerid(one, one.caller_num, one.caller_name)
        self.set_var(one, "DIALEDPEERNUMBER", dialed)

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def ringing(self, callee: Channel) -> None:
        """The dialed channel rings (a 180): its snapshot with the dialer's copies is
        published, the caller learns the callee's caller id as its connected line and
        the dialer posts `DialState RINGING` (sip/ami-sip.log)."""
        leg = self.leg(callee)
        self.set_state(callee, RINGING)
        caller = leg.requester
        if caller is None:
            return
        self.newexten(callee, leg.dial_app, "(Outgoing Line)")
        self.set_connected(callee, callee.connected_num, callee.connected_name)
        if not caller.hungup:
            if (caller.connected_num, caller.connected_name) != (
                callee.caller_num,
                callee.caller_name,
            ):
                self.set_connected(caller, callee.caller_num, callee.caller_name)
            self.dial_state(caller, callee, "RINGING")

    def remote_hangup(self, channel: Channel) -> None:
        """The far end hung up (a SIP BYE): `HangupRequest` without a cause.

        For a caller bridged by an application (sip/ami-sip.log, Queue() with `c`) the
        order is: BRIDGEPEER cleared, `on_hangup` callbacks, the application's
        interrupt hook (app_queue posts AgentComplete there), then the channel leaves
        the bridge and its `on_exit` callbacks run (where the application sets its exit
        variables and returns); the run then posts `SoftHangupRequest` and ends the
        channel. A channel that runs no dialplan is hung up at once."""
        if channel.hungup:
            return
        leg = self.leg(channel)
        if leg.soft_hangup:
            return
        leg.soft_hangup = True
        self.emit("HangupRequest", "call", channel)
        bridge = leg.bridge
        if bridge is not None:
            bridge.clear_peers()
        self._run_hangup_callbacks(leg)
        if not leg.in_dialplan:
            self.hangup(channel, 16)
            return
        if leg.interrupt is not None:
            leg.interrupt()
        if bridge is not None and leg.bridge is bridge and not channel.hungup:
            leg.left_bridge = bridge
            bridge.leave(channel)

    def dial_begin(self, caller: Channel | None, callee: Channel, dialstring: str) -> None:
        fields = [] if caller is None else caller.block()
        self.bus.emit("DialBegin", "call", [*fields, *callee.block("Dest"),
                                            ("DialString", dialstring)])  # fmt: skip
        if caller is not None:
            self.cdr.dial_begin(caller, callee, self.scheduler.now(), self.last_app(caller))

    def dial_state(self, caller: Channel | None, callee: Channel, status: str) -> None:
        """Progress that is not an end (RINGING, PROCEEDING, PROGRESS): `DialState`."""
        fields = [] if caller is None else caller.block()
        self.bus.emit("DialState", "call", [*fields, *callee.block("Dest"),
                                            ("DialStatus", status)])  # fmt: skip

    def dial_end(self, caller: Channel | None, callee: Channel, status: str) -> None:
        fields = [] if caller is None else caller.block()
        self.bus.emit("DialEnd", "call", [*fields, *self.fresh_block(callee, "Dest"),
                                          ("DialStatus", status)])  # fmt: skip
        if caller is not None:
            self.cdr.dial_end(caller, callee, status, self.scheduler.now(), self.last_app(caller))

    # ------------------------------------------------------------------ music on hold

    def moh_start(self, channel: Channel, klass: str = "default") -> None:
        leg = self.leg(channel)
        if not leg.moh:
            leg.moh = True
            self.emit("MusicOnHoldStart", "call", channel, ("Class", klass))

    def moh_stop(self, channel: Channel) -> None:
        leg = self.legs.find(channel.name)
        if leg is not None and leg.moh:
            leg.moh = False
            self.emit("MusicOnHoldStop", "call", channel)

    # ------------------------------------------------------------------ bridges

    def bridge(self, a: Channel, b: Channel) -> Bridge:
        """Bridge caller `a` with callee `b`: BridgeCreate, the callee enters first (as
        app_queue's bridge does), then the caller, then BRIDGEPEER on both."""
        bridge = Bridge(self, str(self.uuid()))
        self.bus.emit("BridgeCreate", "call", bridge.block())
        bridge.enter(b)
        bridge.enter(a)
        bridge.set_peers()
        return bridge


# ---------------------------------------------------------------------- wiring


class PbxSystem:
    """A fully wired simulator core: the Pbx, its queue engine, the AMI action and CLI
    registries and the manager.conf users, ready for `AmiServer(...)`."""

    def __init__(
        self,
        pbx: Pbx,
        actions: ActionRegistry,
        cli: CliRegistry,
        users: dict[str, Any],
        queues: Any,
        endpoints: dict[str, Softphone],
    ) -> None:
        self.pbx = pbx
        self.actions = actions
        self.cli = cli
        self.users = users
        self.queues = queues
        #: PJSIP endpoints by name (`trunk`, `1001`...)
        self.endpoints = endpoints


def build_pbx(
    scheduler: Scheduler,
    bus: EventBus,
    rng: random.Random,
    *,
    extensions_conf: str | Path,
    queues_conf: str | Path | None = None,
    manager_conf: str | Path | None = None,
    pjsip_conf: str | Path | None = None,
    ring_policy: Callable[[str], RingPolicy] | None = None,
    far_end: FarEndPolicy | None = None,
    features_conf: str | Path | None = None,
    confbridge_conf: str | Path | None = None,
) -> PbxSystem:
    """Load the configs and connect every part: dialplan, AstDB, the built-in apps,
    AGI(), app_queue's Queue() and actions, the AstDB/Command/Ping actions, the channel
    actions and one simulated softphone per pjsip.conf endpoint (`ring_policy(name)`
    decides how that seat answers; default: after 1 s, talking until the caller hangs
    up; `far_end(endpoint, number)` how the party reached by `Dial(PJSIP/<number>@trunk)`
    behaves, default: answers after 3 s). features.conf (AMI Atxfer's code) and
    confbridge.conf (ConfBridge is only loaded with one) default to the files next to
    extensions.conf. `python -m pbxsim` calls this once at start-up."""
    from pbxsim.ami_server import users_from_manager_conf
    from pbxsim.app_queue.application import install as install_queue
    from pbxsim.app_queue.config import load_queues_conf
    from pbxsim.app_queue.engine import QueueEngine
    from pbxsim.app_queue.manager import register as register_queue_actions
    from pbxsim.astdb import AstDB
    from pbxsim.dialplan import load_dialplan
    from pbxsim.manager_actions import register_manager_actions
    from pbxsim.telephony.agi_app import agi_app
    from pbxsim.telephony.apps import register_builtin_apps
    from pbxsim.telephony.confbridge import Conferences, load_user_profiles
    from pbxsim.telephony.dial import install as install_dial
    from pbxsim.telephony.manager import ChannelActions
    from pbxsim.telephony.pjsip_conf import load_pjsip_conf
    from pbxsim.telephony.softphone import Softphone
    from pbxsim.telephony.transfers import TransferActions, load_featuremap

    astdb = AstDB()
    dialplan = load_dialplan(extensions_conf)
    pbx = Pbx(scheduler, bus, rng, dialplan, astdb)
    pbx.globals.update(dialplan.globals)
    register_builtin_apps(pbx)
    install_dial(pbx, far_end)
    pbx.register_app("AGI", agi_app)
    # endpoints first: static queue members ask for their device state when loaded
    endpoints: dict[str, Softphone] = {}
    if pjsip_conf is not None:
        for endpoint in load_pjsip_conf(pjsip_conf):
            policy = ring_policy(endpoint.name) if ring_policy is not None else None
            endpoints[endpoint.name] = Softphone(
                pbx, endpoint.name, endpoint.context, registered=endpoint.reachable, policy=policy
            )
    conf = load_queues_conf(queues_conf) if queues_conf is not None else None
    engine = QueueEngine(scheduler, bus, rng)
    install_queue(pbx, engine)
    if conf is not None:
        engine.load(conf)
    actions = ActionRegistry()
    cli = CliRegistry()
    register_manager_actions(actions, scheduler=scheduler, cli=cli, astdb=astdb)
    register_queue_actions(engine, actions, cli)
    ChannelActions(pbx).register(actions, cli)
    # Asterisk reads every .conf from one directory: features.conf and confbridge.conf
    # are looked for next to extensions.conf unless given
    etc = Path(extensions_conf).parent
    features = features_conf if features_conf is not None else etc / "features.conf"
    TransferActions(pbx, load_featuremap(features)).register(actions)
    confbridge = confbridge_conf if confbridge_conf is not None else etc / "confbridge.conf"
    if Path(confbridge).exists():
        Conferences(pbx, load_user_profiles(confbridge)).install(actions)
    users: dict[str, Any] = {}
    if manager_conf is not None:
        users = dict(users_from_manager_conf(Path(manager_conf).read_text(encoding="utf-8")))
    return PbxSystem(pbx, actions, cli, users, engine, endpoints)
