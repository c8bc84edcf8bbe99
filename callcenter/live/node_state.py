"""The live state of one PBX node, event-sourced from AMI.

Asterisk is the source of truth for what is happening now; this is our copy of it,
kept right by applying every event in wire order and rebuilt from `QueueStatus` +
`CoreShowChannels` on every (re)connect (live_state.py).

Every `apply` is idempotent and keyed by Asterisk's ids (Uniqueid, Linkedid, queue +
member interface), and member events carry the member's whole state: replaying an event
that a snapshot already reflects converges to the same state. That is what lets the
resync replay the events that arrived while the snapshot was being taken.

What app_queue does not announce, the model derives the way app_queue does it: a
member's `InCall`/`CallsTaken`/`LastCall` change on AgentConnect/AgentComplete (no
QueueMemberStatus follows when the state interface is a `Custom:` device), its
`Status` follows the device state of its state interface, and waiting callers shift
position when another caller joins ahead of them or leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ami import events as ev
from callcenter.live.changes import (
    CallAgentDone,
    CallAnswered,
    CallEnded,
    CallerAbandoned,
    CallerJoined,
    CallerLeft,
    CallStarted,
    NodeSnapshot,
    Notify,
    SeatAdded,
    SeatChanged,
    SeatRemoved,
    no_notify,
)
from callcenter.live.dialed import DialedNumber
from callcenter.privacy import makes_confidential

#: device state names (DeviceStateChange) -> the member Status code (0-8)
DEVICE_STATUS = {
    "UNKNOWN": 0,
    "NOT_INUSE": 1,
    "INUSE": 2,
    "BUSY": 3,
    "INVALID": 4,
    "UNAVAILABLE": 5,
    "RINGING": 6,
    "RINGINUSE": 7,
    "ONHOLD": 8,
}


@dataclass(slots=True)
class Member:
    """A seat's membership in one queue (a queue member)."""

    queue: str
    interface: str
    member_name: str = ""
    state_interface: str = ""
    membership: str = "dynamic"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    status: int = 0
    paused: bool = False
    paused_reason: str = ""
    ringinuse: bool = False
    wrapuptime: int = 0
    ringing: bool = False  # between AgentCalled and the ring's outcome

    @classmethod
    def from_event(cls, e: ev.MemberEvent) -> Member:
        return cls(
            queue=e.queue,
            interface=e.interface,
            member_name=e.member_name,
            state_interface=e.state_interface or e.interface,
            membership=e.membership,
            penalty=e.penalty,
            calls_taken=e.calls_taken,
            last_call=e.last_call,
            last_pause=e.last_pause,
            login_time=e.login_time,
            in_call=e.in_call,
            status=e.status,
            paused=e.paused,
            paused_reason=e.paused_reason,
            ringinuse=e.ringinuse,
            wrapuptime=e.wrapuptime,
        )


@dataclass(slots=True)
class WaitingCaller:
    """A caller waiting in a queue."""

    queue: str
    uniqueid: str
    channel: str
    position: int
    joined_at: float  # PBX time estimate (our clock at the event, or now - Wait)
    priority: int = 0
    caller_id_num: str = ""
    caller_id_name: str = ""
    linkedid: str = ""


@dataclass(slots=True)
class Queue:
    name: str
    strategy: str = ""
    max: int = 0
    service_level: int = 0
    weight: int = 0
    # app_queue's own counters, as of the last QueueStatus (it announces no changes)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talk_time: int = 0
    servicelevel_perf: float = 0.0
    servicelevel_perf2: float = 0.0
    members: dict[str, Member] = field(default_factory=dict)  # by interface
    entries: dict[str, WaitingCaller] = field(default_factory=dict)  # by caller uniqueid

    def ordered_entries(self) -> list[WaitingCaller]:
        return sorted(self.entries.values(), key=lambda e: e.position)


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    linkedid: str
    state: int = 0
    state_desc: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    connected_line_num: str = ""
    connected_line_name: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1
    created_at: float = 0.0
    application: str = ""
    app_data: str = ""
    bridge: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Call:
    """All channels sharing one Linkedid: one caller's call, wherever it is now."""

    linkedid: str
    started_at: float
    caller_id_num: str = ""
    number: DialedNumber = field(default_factory=DialedNumber)
    channels: set[str] = field(default_factory=set)
    queue: str | None = None  # waiting in this queue now
    agent: str | None = None  # member interface talking to the caller now
    where: str = "dialplan"  # dialplan | queue | talking | ended
    #: the seat (MemberName) that answered, kept after it hung up (the survey runs on)
    seat: str = ""
    answered_at: float | None = None
    #: the caller's number is shown masked (callcenter.privacy): a mark or the IVR said so
    confidential: bool = False
    #: the unit (legacy directory) and the queue the dialplan routed the caller to, as
    #: the caller channel's HOTLINE_UNIT / HOTLINE_QUEUE say ("" until set)
    unit: str = ""
    routed_queue: str = ""
    #: the abandoned call (its linkedid) this call is the service's callback of
    callback_of: str = ""
    #: who handed the call over, as the caller channel's HOTLINE_SOURCE says ("110"
    #: for the 110 platform, callcenter/from110.py; "" a caller's own call) and 110's
    #: reference as HOTLINE_SOURCE_REF holds it (a restart mid-call reads both back)
    source: str = ""
    source_ref: str = ""

    @property
    def dialed(self) -> str:
        """The number the caller dialed (callcenter.live.dialed)."""
        return self.number.number


@dataclass(slots=True)
class Bridge:
    uniqueid: str
    bridge_type: str = ""
    channels: set[str] = field(default_factory=set)


#: channel variables the model keeps (queue priority, queue outcome, routing)
KEPT_VARIABLES = frozenset(
    {
        "QUEUE_PRIO",
        "QUEUESTATUS",
        "AGISTATUS",
        "DIALSTATUS",
        "MEMBERINTERFACE",
        "HOTLINE_ACTION",
        "HOTLINE_QUEUE",
        "HOTLINE_UNIT",
        "HOTLINE_CALL_ID",
        "HOTLINE_PRIORITY",
        "HOTLINE_ROUTED",
        "HOTLINE_TRANSFER_TO",
        "DID",
        "HOTLINE_CALLBACK_OF",
        "HOTLINE_SOURCE",
        "HOTLINE_SOURCE_REF",
    }
)

#: caller-channel variables a resync reads back with Getvar (call_variables.py): what
#: a call first seen in a snapshot cannot show otherwise, its channel having moved on
#: to `hotline-queue,s`
RECALLED_VARIABLES = (
    "DID",
    "HOTLINE_UNIT",
    "HOTLINE_QUEUE",
    "HOTLINE_CALLBACK_OF",
    "HOTLINE_SOURCE",
)
#: caller-channel variables a resync reads back only when another one read back holds a
#: value: 110's reference exists on a hand-over from 110 only, so the other calls cost
#: no Getvar for it
RECALLED_WHEN = {"HOTLINE_SOURCE_REF": ("HOTLINE_SOURCE", "110")}


#: hung-up channels remembered against events Asterisk publishes after their Hangup
#: (within milliseconds of it): for a minute, and never more than this many
HUNG_UP_FOR_S = 60.0
HUNG_UP_MEMORY = 10_000


class NodeState:
    """Everything one Asterisk node is doing now."""

    def __init__(self, node: str, clock: Callable[[], float], notify: Notify = no_notify) -> None:
        self.node = node
        self.clock = clock
        self.notify = notify
        self.queues: dict[str, Queue] = {}
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.bridges: dict[str, Bridge] = {}
        self.stale = True  # until the first resync completes
        self.events_applied = 0
        #: members being rung for each waiting caller: caller uniqueid -> {(queue, iface)}
        self._ringing: dict[str, set[tuple[str, str]]] = {}
        #: channels that hung up in the last HUNG_UP_FOR_S, oldest first, and when:
        #: Asterisk still publishes a dialed channel's connected line after its Hangup
        #: (a member rung in vain); such an event must not bring the channel back, nor
        #: keep its call open for ever
        self._hung_up: dict[str, float] = {}

    # --- snapshot (resync) -----------------------------------------------------------
    def load_snapshot(
        self,
        params: list[ev.QueueParams],
        members: list[ev.QueueMember],
        entries: list[ev.QueueEntry],
        channels: list[ev.CoreShowChannel],
        taken_at: float,
    ) -> None:
        """Replace the whole state by what Asterisk listed."""
        queues: dict[str, Queue] = {}
        for p in params:
            queues[p.queue] = Queue(
                p.queue,
                strategy=p.strategy,
                max=p.max,
                service_level=p.service_level,
                weight=p.weight,
                completed=p.completed,
                abandoned=p.abandoned,
                holdtime=p.holdtime,
                talk_time=p.talk_time,
                servicelevel_perf=p.servicelevel_perf,
                servicelevel_perf2=p.servicelevel_perf2,
            )
        for m in members:
            queue = queues.setdefault(m.queue, Queue(m.queue))
            queue.members[m.interface] = Member.from_event(m)
        old_channels, old_calls = self.channels, self.calls
        self.channels = {}
        self.calls = {}
        self.bridges = {}
        for c in channels:
            snap = c.channel
            if snap is None:
                continue
            previous = old_channels.get(snap.uniqueid)
            chan = self._channel_from(snap, taken_at - _duration_s(c.duration))
            chan.application, chan.app_data = c.application, c.application_data
            if previous is not None:
                chan.variables = previous.variables
            if c.bridge_id:
                chan.bridge = c.bridge_id
                self.bridges.setdefault(c.bridge_id, Bridge(c.bridge_id)).channels.add(
                    snap.uniqueid
                )
            self.channels[chan.uniqueid] = chan
            self._attach_to_call(chan)
        for e in entries:
            queue = queues.setdefault(e.queue, Queue(e.queue))
            waiting = self.channels.get(e.uniqueid)
            queue.entries[e.uniqueid] = WaitingCaller(
                queue=e.queue,
                uniqueid=e.uniqueid,
                channel=e.channel_name,
                position=e.position,
                joined_at=taken_at - e.wait,
                priority=e.priority,
                caller_id_num=e.caller_id_num,
                caller_id_name=e.caller_id_name,
                linkedid=waiting.linkedid if waiting else e.uniqueid,
            )
            call = self.calls.get(waiting.linkedid) if waiting else None
            if call is not None:
                call.queue, call.where = e.queue, "queue"
        self.queues = queues
        self._ringing = {}
        for linkedid, call in self.calls.items():
            self._recall(call, old_calls.get(linkedid), taken_at)
        self.notify(NodeSnapshot, queues=len(queues), channels=len(self.channels))

    def _recall(self, call: Call, before: Call | None, taken_at: float) -> None:
        """What a snapshot does not list about a call: kept from before the resync, or
        for a call first seen in it, who answered (the member its channel is bridged
        to; answered no later than the snapshot)."""
        if before is not None:
            call.number, call.confidential = before.number, before.confidential
            call.seat, call.answered_at = before.seat, before.answered_at
            call.unit, call.routed_queue = before.unit, before.routed_queue
            call.callback_of = before.callback_of
            return
        member = self.member_on_call(call.channels)
        if member is not None:
            call.seat, call.answered_at = member.member_name, taken_at

    def member_on_call(self, channels: set[str]) -> Member | None:
        """The queue member a call's channels reach, e.g. channel `PJSIP/1001-0000002a`
        of member `PJSIP/1001`: a snapshot lists channels, not who answered whom."""
        members = {iface: m for queue in self.queues.values() for iface, m in queue.members.items()}
        for uniqueid in channels:
            chan = self.channels.get(uniqueid)
            if chan is not None and chan.bridge is not None:
                member = members.get(chan.name.rpartition("-")[0])
                if member is not None:
                    return member
        return None

    def unread_variables(self) -> list[tuple[str, str, list[str]]]:
        """(linkedid, caller channel, variables) of every call whose caller channel has
        not shown some of `RECALLED_VARIABLES` yet: what a resync asks with Getvar."""
        out = []
        for linkedid, call in self.calls.items():
            chan = self.channels.get(linkedid)
            if chan is None or linkedid not in call.channels:
                continue
            missing = [v for v in RECALLED_VARIABLES if v not in chan.variables]
            if missing:
                out.append((linkedid, chan.name, missing))
        return out

    def recall_variable(self, linkedid: str, variable: str, value: str) -> None:
        """A variable of a call's caller channel, read back with Getvar: applied as if
        its VarSet had been seen (nothing, if the call ended meanwhile)."""
        chan = self.channels.get(linkedid)
        call = self.calls.get(linkedid)
        if chan is None or call is None or variable in chan.variables:
            return  # a VarSet seen since is newer than the Getvar's reply
        chan.variables[variable] = value
        self._call_variable(call, variable, value)

    def ringing_caller(self, interface: str) -> tuple[str, str] | None:
        """(queue, caller uniqueid) of the waiting caller whose ring reaches the member
        `interface` now (between AgentCalled and its outcome), or None: what the agent's
        screen pop is about."""
        for uniqueid, rung in self._ringing.items():
            for queue, member in rung:
                if member == interface:
                    return queue, uniqueid
        return None

    def mark_confidential(self, linkedid: str) -> bool:
        """Mask the caller of a call in progress; False if there is no such call."""
        call = self.calls.get(linkedid)
        if call is None:
            return False
        call.confidential = True
        return True

    # --- events ----------------------------------------------------------------------
    def apply(self, event: ev.AmiEvent) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
            self.events_applied += 1

    # channels and calls
    def _channel_from(self, snap: ev.ChannelSnapshot, created_at: float) -> Channel:
        return Channel(
            uniqueid=snap.uniqueid,
            name=snap.channel,
            linkedid=snap.linkedid,
            state=snap.state,
            state_desc=snap.state_desc,
            caller_id_num=snap.caller_id_num,
            caller_id_name=snap.caller_id_name,
            connected_line_num=snap.connected_line_num,
            connected_line_name=snap.connected_line_name,
            context=snap.context,
            exten=snap.exten,
            priority=snap.priority,
            created_at=created_at,
        )

    def _attach_to_call(self, chan: Channel) -> Call:
        call = self.calls.get(chan.linkedid)
        if call is None:
            call = Call(
                chan.linkedid,
                started_at=chan.created_at,
                caller_id_num=_known(chan.caller_id_num),
            )
            if chan.uniqueid == chan.linkedid:
                call.number.saw_exten(chan.exten)
            self.calls[chan.linkedid] = call
            self.notify(
                CallStarted, linkedid=chan.linkedid, caller=call.caller_id_num, dialed=call.dialed
            )
        call.channels.add(chan.uniqueid)
        return call

    def _update_channel(self, snap: ev.ChannelSnapshot | None) -> Channel | None:
        if snap is None:
            return None
        chan = self.channels.get(snap.uniqueid)
        if chan is None:
            if snap.uniqueid in self._hung_up:
                return None
            chan = self._channel_from(snap, self.clock())
            self.channels[chan.uniqueid] = chan
            self._attach_to_call(chan)
            return chan
        chan.name, chan.state, chan.state_desc = snap.channel, snap.state, snap.state_desc
        chan.caller_id_num, chan.caller_id_name = snap.caller_id_num, snap.caller_id_name
        chan.connected_line_num = snap.connected_line_num
        chan.connected_line_name = snap.connected_line_name
        chan.context, chan.exten, chan.priority = snap.context, snap.exten, snap.priority
        if snap.uniqueid == snap.linkedid:
            call = self.calls.get(snap.linkedid)
            if call is not None:
                call.number.saw_exten(snap.exten)
                if not call.caller_id_num:  # an originated call gets its caller id late
                    call.caller_id_num = _known(snap.caller_id_num)
        return chan

    def _on_channel_event(self, e: ev.ChannelEvent) -> None:
        self._update_channel(e.channel)

    def _on_newexten(self, e: ev.Newexten) -> None:
        chan = self._update_channel(e.channel)
        if chan is not None:
            chan.application, chan.app_data = e.application, e.app_data
            call = self.calls.get(chan.linkedid)
            if call is not None and chan.uniqueid == chan.linkedid:
                call.number.saw_application(e.application)

    def _on_varset(self, e: ev.VarSet) -> None:
        chan = self._update_channel(e.channel)
        if chan is None:
            return
        call = self.calls.get(chan.linkedid)
        if call is not None and makes_confidential(e.variable, e.value):
            call.confidential = True
        if e.variable not in KEPT_VARIABLES:
            return
        chan.variables[e.variable] = e.value
        if call is not None and (e.variable == "DID" or chan.uniqueid == chan.linkedid):
            self._call_variable(call, e.variable, e.value)

    @staticmethod
    def _call_variable(call: Call, variable: str, value: str) -> None:
        """What a caller-channel variable says about the call."""
        if variable == "DID":
            call.number.saw_did(value)
        elif variable == "HOTLINE_UNIT":
            call.unit = value
        elif variable == "HOTLINE_QUEUE":
            call.routed_queue = value
        elif variable == "HOTLINE_CALLBACK_OF":
            call.callback_of = value
        elif variable == "HOTLINE_SOURCE":
            call.source = value
        elif variable == "HOTLINE_SOURCE_REF":
            call.source_ref = value

    def _on_hangup(self, e: ev.Hangup) -> None:
        snap = e.channel
        if snap is None:
            return
        now = self.clock()
        self._hung_up[snap.uniqueid] = now
        hung_up = self._hung_up
        while hung_up:
            oldest = next(iter(hung_up))
            if len(hung_up) <= HUNG_UP_MEMORY and now - hung_up[oldest] <= HUNG_UP_FOR_S:
                break
            del hung_up[oldest]
        chan = self.channels.pop(snap.uniqueid, None)
        if chan is None:
            return
        if chan.bridge is not None:
            self._leave_bridge(chan.bridge, chan.uniqueid)
        for queue in self.queues.values():  # a hangup always removes a waiting caller
            if snap.uniqueid in queue.entries:
                self._remove_entry(queue, snap.uniqueid)
        call = self.calls.get(chan.linkedid)
        if call is None:
            return
        call.channels.discard(chan.uniqueid)
        if not call.channels:
            del self.calls[chan.linkedid]
            call.where = "ended"
            self.notify(
                CallEnded,
                linkedid=call.linkedid,
                caller=call.caller_id_num,
                dialed=call.dialed,
                duration_s=round(self.clock() - call.started_at, 3),
                cause=e.cause,
                cause_txt=e.cause_txt,
            )

    # bridges
    def _on_bridge_create(self, e: ev.BridgeCreate) -> None:
        self.bridges.setdefault(e.bridge_uniqueid, Bridge(e.bridge_uniqueid, e.bridge_type))

    def _on_bridge_enter(self, e: ev.BridgeEnter) -> None:
        chan = self._update_channel(e.channel)
        bridge = self.bridges.setdefault(
            e.bridge_uniqueid, Bridge(e.bridge_uniqueid, e.bridge_type)
        )
        if chan is not None:
            bridge.channels.add(chan.uniqueid)
            chan.bridge = bridge.uniqueid

    def _on_bridge_leave(self, e: ev.BridgeLeave) -> None:
        chan = self._update_channel(e.channel)
        if chan is not None:
            chan.bridge = None
            self._leave_bridge(e.bridge_uniqueid, chan.uniqueid)

    def _leave_bridge(self, bridge_id: str, uniqueid: str) -> None:
        bridge = self.bridges.get(bridge_id)
        if bridge is not None:
            bridge.channels.discard(uniqueid)

    def _on_bridge_destroy(self, e: ev.BridgeDestroy) -> None:
        self.bridges.pop(e.bridge_uniqueid, None)

    # queue members
    def _queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = Queue(name)
        return queue

    def _on_member(self, e: ev.MemberEvent) -> None:
        queue = self._queue(e.queue)
        if isinstance(e, ev.QueueMemberRemoved):
            if queue.members.pop(e.interface, None) is not None:
                self.notify(
                    SeatRemoved, interface=e.interface, queue=e.queue, member_name=e.member_name
                )
            return
        member = Member.from_event(e)
        old = queue.members.get(e.interface)
        if old is not None:
            member.ringing = old.ringing
        queue.members[e.interface] = member
        self._seat_changed(member, SeatAdded if old is None else SeatChanged)

    def _seat_changed(
        self, member: Member, change: type[SeatAdded | SeatChanged] = SeatChanged
    ) -> None:
        self.notify(
            change,
            interface=member.interface,
            queue=member.queue,
            member_name=member.member_name,
            status=member.status,
            paused=member.paused,
            paused_reason=member.paused_reason,
            in_call=member.in_call,
            ringing=member.ringing,
            calls_taken=member.calls_taken,
        )

    def _members_with(self, interface: str) -> list[Member]:
        return [q.members[interface] for q in self.queues.values() if interface in q.members]

    def _on_device_state(self, e: ev.DeviceStateChange) -> None:
        status = DEVICE_STATUS.get(e.state)
        if status is None or e.device.startswith("Queue:"):
            return
        for queue in self.queues.values():
            for member in queue.members.values():
                if member.state_interface == e.device and member.status != status:
                    member.status = status
                    self._seat_changed(member)

    def _on_agent_called(self, e: ev.AgentCalled) -> None:
        member = self._queue(e.queue).members.get(e.interface)
        if e.channel is not None:
            self._ringing.setdefault(e.channel.uniqueid, set()).add((e.queue, e.interface))
        if member is not None:
            member.ringing = True
            self._seat_changed(member)

    def _on_ring_ended(self, e: ev.AgentEvent) -> None:
        if e.channel is not None:
            self._ringing.get(e.channel.uniqueid, set()).discard((e.queue, e.interface))
        self._stop_ringing(e.queue, e.interface)

    def _stop_ringing(self, queue_name: str, interface: str) -> None:
        member = self._queue(queue_name).members.get(interface)
        if member is not None and member.ringing:
            member.ringing = False
            self._seat_changed(member)

    def _stop_all_ringing_for(self, caller_uniqueid: str) -> None:
        """ringall cancels the other phones silently: no event says they stopped."""
        for queue_name, interface in self._ringing.pop(caller_uniqueid, set()):
            self._stop_ringing(queue_name, interface)

    def _on_agent_connect(self, e: ev.AgentConnect) -> None:
        if e.channel is not None:
            self._stop_all_ringing_for(e.channel.uniqueid)
        queue = self._queue(e.queue)
        member = queue.members.get(e.interface)
        if member is not None:
            member.ringing = False
            member.in_call = True
            self._seat_changed(member)
        if e.channel is not None:
            call = self.calls.get(e.channel.linkedid)
            if call is not None:
                call.queue, call.agent, call.where = None, e.interface, "talking"
                call.seat, call.answered_at = e.member_name, self.clock()
                self.notify(
                    CallAnswered,
                    linkedid=call.linkedid,
                    queue=e.queue,
                    agent=e.interface,
                    member_name=e.member_name,
                    hold_time=e.hold_time,
                    ring_time=e.ring_time,
                )

    def _on_agent_complete(self, e: ev.AgentComplete) -> None:
        now = int(self.clock())
        for member in self._members_with(e.interface):
            # app_queue counts the call in the queue that took it; LastCall is shared
            # across queues (shared_lastcall), InCall belongs to the interface
            if member.queue == e.queue:
                member.calls_taken += 1
            member.last_call = now
            member.in_call = False
            self._seat_changed(member)
        if e.channel is not None:
            call = self.calls.get(e.channel.linkedid)
            if call is not None and call.agent == e.interface:
                call.agent, call.where = None, "dialplan"
                self.notify(
                    CallAgentDone,
                    linkedid=call.linkedid,
                    queue=e.queue,
                    agent=e.interface,
                    talk_time=e.talk_time,
                    hold_time=e.hold_time,
                    reason=e.reason,
                )

    # queue callers
    def _on_caller_join(self, e: ev.QueueCallerJoin) -> None:
        snap = e.channel
        if snap is None:
            return
        chan = self._update_channel(snap)
        queue = self._queue(e.queue)
        if snap.uniqueid in queue.entries:  # replayed: already there
            return
        for other in queue.entries.values():
            if other.position >= e.position:
                other.position += 1
        prio = chan.variables.get("QUEUE_PRIO", "0") if chan else "0"
        entry = WaitingCaller(
            queue=e.queue,
            uniqueid=snap.uniqueid,
            channel=snap.channel,
            position=e.position,
            joined_at=self.clock(),
            priority=_to_int(prio),
            caller_id_num=_entry_text(snap.caller_id_num),
            caller_id_name=_entry_text(snap.caller_id_name),
            linkedid=snap.linkedid,
        )
        queue.entries[snap.uniqueid] = entry
        call = self.calls.get(snap.linkedid)
        if call is not None:
            call.queue, call.where = e.queue, "queue"
            call.number.settle()
        self.notify(
            CallerJoined,
            uniqueid=snap.uniqueid,
            queue=e.queue,
            position=e.position,
            priority=entry.priority,
            linkedid=snap.linkedid,
            caller=_known(snap.caller_id_num),
        )

    def _on_caller_abandon(self, e: ev.QueueCallerAbandon) -> None:
        snap = e.channel
        if snap is None:
            return
        # Asterisk also says "abandon" for a timeout or a redirect out of the queue;
        # QUEUESTATUS and what follows tell them apart (call records do that).
        self.notify(
            CallerAbandoned,
            uniqueid=snap.uniqueid,
            queue=e.queue,
            position=e.position,
            hold_time=e.hold_time,
            original_position=e.original_position,
            linkedid=snap.linkedid,
        )

    def _on_caller_leave(self, e: ev.QueueCallerLeave) -> None:
        snap = e.channel
        if snap is None:
            return
        self._update_channel(snap)
        queue = self._queue(e.queue)
        if snap.uniqueid in queue.entries:
            self._remove_entry(queue, snap.uniqueid)

    def _remove_entry(self, queue: Queue, uniqueid: str) -> None:
        self._stop_all_ringing_for(uniqueid)
        entry = queue.entries.pop(uniqueid)
        for other in queue.entries.values():
            if other.position > entry.position:
                other.position -= 1
        call = self.calls.get(entry.linkedid)
        if call is not None and call.queue == queue.name:
            call.queue = None
            if call.where == "queue":
                call.where = "dialplan"
        self.notify(
            CallerLeft,
            uniqueid=uniqueid,
            queue=queue.name,
            position=entry.position,
            linkedid=entry.linkedid,
            waited_s=round(self.clock() - entry.joined_at, 3),
        )

    def _on_queue_params(self, e: ev.QueueParams) -> None:
        queue = self._queue(e.queue)
        self.queues[e.queue] = replace(
            queue,
            strategy=e.strategy,
            max=e.max,
            service_level=e.service_level,
            weight=e.weight,
            completed=e.completed,
            abandoned=e.abandoned,
            holdtime=e.holdtime,
            talk_time=e.talk_time,
            servicelevel_perf=e.servicelevel_perf,
            servicelevel_perf2=e.servicelevel_perf2,
        )


def _entry_text(value: str) -> str:
    """app_queue lists a waiting caller's missing number/name as "unknown", where the
    channel block says "<unknown>"; keep the entry as QueueStatus shows it."""
    return "unknown" if value in ("", "<unknown>") else value


def _known(value: str) -> str:
    return "" if value == "<unknown>" else value


def _to_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _duration_s(text: str) -> float:
    """CoreShowChannel `Duration: HH:MM:SS` -> seconds."""
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        return 0.0
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return float(seconds)


_HANDLERS: dict[type[ev.AmiEvent], Callable[[NodeState, ev.AmiEvent], None]] = {}


def _register(handler: Callable[..., None], *classes: type[ev.AmiEvent]) -> None:
    for cls in classes:
        _HANDLERS[cls] = handler


_register(
    NodeState._on_channel_event,
    ev.Newchannel,
    ev.Newstate,
    ev.NewCallerid,
    ev.NewConnectedLine,
    ev.MusicOnHoldStart,
    ev.MusicOnHoldStop,
    ev.DTMFEnd,
)
_register(NodeState._on_newexten, ev.Newexten)
_register(NodeState._on_varset, ev.VarSet)
_register(NodeState._on_hangup, ev.Hangup)
_register(NodeState._on_bridge_create, ev.BridgeCreate)
_register(NodeState._on_bridge_enter, ev.BridgeEnter)
_register(NodeState._on_bridge_leave, ev.BridgeLeave)
_register(NodeState._on_bridge_destroy, ev.BridgeDestroy)
_register(
    NodeState._on_member,
    ev.QueueMemberAdded,
    ev.QueueMemberRemoved,
    ev.QueueMemberPause,
    ev.QueueMemberPenalty,
    ev.QueueMemberStatus,
    ev.QueueMemberRinginuse,
)
_register(NodeState._on_device_state, ev.DeviceStateChange)
_register(NodeState._on_agent_called, ev.AgentCalled)
_register(NodeState._on_ring_ended, ev.AgentRingNoAnswer, ev.AgentDump)
_register(NodeState._on_agent_connect, ev.AgentConnect)
_register(NodeState._on_agent_complete, ev.AgentComplete)
_register(NodeState._on_caller_join, ev.QueueCallerJoin)
_register(NodeState._on_caller_abandon, ev.QueueCallerAbandon)
_register(NodeState._on_caller_leave, ev.QueueCallerLeave)
_register(NodeState._on_queue_params, ev.QueueParams)
