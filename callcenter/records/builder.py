"""Builds one call record per (PBX node, Linkedid) from the raw AMI event stream.

It reads raw events rather than the live model's changes because what a record needs
is exactly what the live model drops: `QUEUESTATUS` and the dialplan steps that follow
a queue exit, DTMF, prompts (the FastAGI IVR's are `AGIExecStart` events: prompts.py),
Dial legs to a unit line or 110/119/120, MixMonitor.

Queue exits are classified the way the city reports them. Real Asterisk emits
`QueueCallerAbandon` for a caller who hangs up, for a timeout and for a redirect alike
(asterisk-transcripts/README.md), so an abandon is only *pending* until the next fact:
- the abandon's channel block already shows another context (AMI Redirect), or the
  channel runs another dialplan step -> `redirected` (a transfer, not an abandon);
- `QUEUESTATUS` = TIMEOUT / LEAVEEMPTY / LEAVEUNAVAIL -> `timeout` / `left_empty`;
- the caller channel hangs up -> `abandoned` (the only case counted as an abandon).

A caller may also leave the queue with a key (queues.conf `context`: 1 callback, 9 the
emergency menu): app_queue then posts `QueueCallerLeave` with no abandon and no
`AgentConnect`, and the caller runs on in the dialplan (`left_with_key`). Coming back
into the queue (the dialplan does, at its old place) it is still the same call: offered
once, its time to queue from the first entry, its wait from the first entry to the
answer (or the abandon) on the PBX clock, the time out of the queue included. One that
does not come back keeps `left_with_key`: not answered, not abandoned, its wait ending
at the key; transferred if the emergency menu's Dial was answered.

Waits are Asterisk's own hold times (PBX seconds), so SL15 does not depend on our clock
or on how late the events reached us. Every handler is keyed by Asterisk ids and
ignores what it has already seen, so replayed events do not change a record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ami import events as ev
from callcenter.from110 import DIRECT, SOURCE_110, clean_ref
from callcenter.live.dialed import DialedNumber
from callcenter.live.node_state import Call, NodeState
from callcenter.privacy import makes_confidential
from callcenter.records import transfer_legs as legs
from callcenter.records.prompts import agi_prompts, app_prompts

RINGING = "ringing"
UP = 6  # ChannelState of an answered channel
QUEUE_STATUS_EXIT = {"TIMEOUT": "timeout", "LEAVEEMPTY": "left_empty", "LEAVEUNAVAIL": "left_empty"}
REFUSED_STATUS = frozenset({"JOINEMPTY", "JOINUNAVAIL", "FULL"})
MAX_TIMELINE = 200  # a compact timeline: a call that loops forever cannot grow a row forever
MAX_PROMPTS = 30
#: finished calls are remembered against late or duplicated events for this long (by
#: the builder's clock; such events come within seconds) and never more than
#: ENDED_MEMORY of them: a memory per call that is not bounded by time would grow with
#: every call until the cap (50,000 calls are 60 hours of a busy centre)
ENDED_FOR_S = 3600.0
ENDED_MEMORY = 50_000

#: (queue, member interface) -> the member's wrap-up seconds, from the live model
WrapupLookup = Callable[[str, str, str], float]
#: told of each answer (the draft and the queue answered from), on the AMI reader's
#: path: memory only, never raises (answers.py)
AnswerHook = Callable[["RecordDraft", str], None]


def _no_wrapup(node: str, queue: str, interface: str) -> float:
    return 0.0


@dataclass
class RecordDraft:
    """The record of a call in progress as it is being written: what it will say once
    the call's last channel hangs up. The call itself, as it is now, is the live
    model's (callcenter.live.node_state.Call); this is its history."""

    node: str
    linkedid: str
    started_at: float
    caller: str = ""
    number: DialedNumber = field(default_factory=DialedNumber)
    unit: str = ""
    confidential: bool = False
    keys: str = ""
    prompts: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    in_queue: str | None = None
    join_context: str | None = ""  # None: joined before we were listening
    #: PBX time of the current queue entry's QueueCallerLeave with neither abandon nor
    #: answer seen yet (an answer's comes before its AgentConnect)
    left_at: float | None = None
    #: PBX time the caller left the queue with a key (until it joins one again)
    key_exit_at: float | None = None
    #: a stay in the queue (a join and the returns after keys): when it began, the
    #: wait before it, and whether a key interrupted it (then its wait is measured
    #: on the PBX clock from `stay_from`, not summed from app_queue's whole seconds)
    stay_from: float | None = None
    stay_base: float = 0.0
    keyed: bool = False
    pending_abandon_at: float | None = None
    wait_s: float | None = None
    queue_exit: str = ""
    pending_abandon: int | None = None  # HoldTime of an abandon not yet classified
    rings: list[dict[str, Any]] = field(default_factory=list)
    #: when the caller's channel was answered (Up, or its first AGI), PBX time if the
    #: events carry it; None: not seen (met mid-call)
    up_at: float | None = None
    queued_after_s: float | None = None  # answer -> first queue entry
    agent: str = ""
    seat: str = ""
    #: the Uniqueid of the member channel of the answer counted last: the same seat
    #: answering again (a caller back from a failed transfer) is a new answer
    member_channel: str = ""
    answered_at: float | None = None
    talk_done: bool = False  # the current answer's AgentComplete has been counted
    talk_s: float = 0.0
    wrapup_s: float = 0.0
    transfers: list[dict[str, Any]] = field(default_factory=list)
    #: a consultation's Local channel names (`;1` and `;2`) -> its leg in `transfers`
    consults: dict[str, int] = field(default_factory=dict)
    transfer_to: str = ""
    hangup_by: str = ""
    hangup_asked: str = ""  # caller | pbx: who first asked the caller's channel to go
    fallback: bool = False
    recording: str = ""
    rating: int | None = None  # the post-call survey's key, as the IVR set SURVEY_RESULT
    timeline: list[list[Any]] = field(default_factory=list)
    channels: set[str] = field(default_factory=set)
    ended_at: float | None = None
    rebuilt: bool = False
    #: first seen by an event in the middle of the call (the service started or
    #: reconnected while it ran): what came before, e.g. its queue join, was not seen
    joined_late: bool = False  # opened from a resync snapshot, not from its first event
    #: the abandoned call (its linkedid) this call is the service's callback of
    callback_of: str = ""
    #: a callback's Dial to the caller: its DIALSTATUS, and the called leg's hangup cause
    callback_status: str = ""
    callback_cause: int | None = None
    #: who handed the call over (HOTLINE_SOURCE: `110` or `direct`) and 110's reference
    call_source: str = DIRECT
    call_source_ref: str = ""

    @property
    def offered_queues(self) -> list[str]:
        """The queues the call was offered in: none for a callback, a call we place,
        which no KPI counts as offered though it may pass a queue to reach a seat."""
        return [] if self.callback_of else self.queues

    @property
    def dialed(self) -> str:
        return self.number.number

    def note(self, at: float, what: str, detail: str = "") -> None:
        if len(self.timeline) < MAX_TIMELINE:
            self.timeline.append([round(at - self.started_at, 3), what, detail])


@dataclass(frozen=True)
class FinishedCall:
    """A finished call, ready to be stored (see store.py)."""

    node: str
    linkedid: str
    started_at: float
    ended_at: float
    caller: str
    dialed: str
    unit: str
    confidential: bool
    ivr_keys: str
    prompts: list[str]
    queues: list[str]
    queue_exit: str
    wait_s: float | None
    rings: list[dict[str, Any]]
    agent: str
    seat: str
    talk_s: float
    wrapup_s: float
    transfers: list[dict[str, Any]]
    hangup_by: str
    disposition: str
    fallback: bool
    recording: str
    timeline: list[list[Any]]
    rating: int | None = None
    direction: str = "inbound"  # inbound | outbound (the service placed the call)
    kind: str = "call"  # call | callback
    callback_of: str = ""  # a callback's original call (its Linkedid)
    #: seconds from the caller's answer to its first queue entry (greeting and menus);
    #: None: never queued, or its answer was not seen
    queued_after_s: float | None = None
    call_source: str = DIRECT  # direct | 110 (callcenter/from110.py)
    call_source_ref: str = ""  # 110's reference for its hand-over

    def __post_init__(self) -> None:
        # durations to the millisecond, as the KPIs sum them (kpi.py `to_ms`): no
        # value lies between two milliseconds for SQL and Python to round apart
        fields = self.__dict__
        fields["talk_s"] = round(self.talk_s * 1000) / 1000
        fields["wrapup_s"] = round(self.wrapup_s * 1000) / 1000
        if self.wait_s is not None:
            fields["wait_s"] = round(self.wait_s * 1000) / 1000
        if self.queued_after_s is not None:
            fields["queued_after_s"] = round(self.queued_after_s * 1000) / 1000

    def to_json(self) -> dict[str, Any]:
        """The fields by name, in declaration order (a new dict: callers extend it). A
        frozen dataclass without slots holds exactly its fields in `__dict__`; copying
        it is several times faster than reading the fields one by one, which counts
        for the writer's thousands of records per second."""
        return dict(vars(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FinishedCall:
        return cls(**data)


#: a callback's DIALSTATUS -> its outcome (any other status: `failed`)
CALLBACK_OUTCOMES = {
    "ANSWER": "reached",
    "NOANSWER": "no_answer",
    "CANCEL": "no_answer",
    "BUSY": "busy",
}
#: who ended a callback the caller did not pick up, by DIALSTATUS
_UNREACHED_BY = {"NOANSWER": "pbx", "CANCEL": "seat", "BUSY": "called"}


def callback_outcome(call: RecordDraft) -> str:
    """reached | no_answer | busy | failed (the cause is in `hangup_by`)."""
    if call.callback_status:
        return CALLBACK_OUTCOMES.get(call.callback_status, "failed")
    return "reached" if call.answered_at is not None else "failed"


def disposition_of(call: RecordDraft) -> str:
    """One disposition per call; a completed transfer wins over the answer that preceded
    it, and a caller who never reached a queue is `ivr_only` (not offered). A callback's
    disposition is its outcome."""
    if call.callback_of:
        return callback_outcome(call)
    if any(legs.transferred(t) for t in call.transfers):
        return "transferred"  # a Dial that was not answered hands the caller back
    if call.answered_at is not None:
        return "answered"
    if call.queue_exit == "abandoned":
        return "abandoned"
    if call.queue_exit in ("timeout", "left_empty", "refused"):
        return "fallback_routed"
    if call.queues:  # joined and gone without a classified exit: count against us
        return "abandoned"
    return "ivr_only"


#: a disposition -> what a ring attempt still open when the call ended came to
_OPEN_RING_END = {"abandoned": "caller_hung_up"}


def closed_rings(call: RecordDraft, ended_at: float) -> list[dict[str, Any]]:
    """The ring attempts, none left `ringing`: one the events did not close (a lost
    event, a call that ended while the link was down) ends the way the call did: a
    caller who hung up while a seat rang (`caller_hung_up`), else `cancelled`."""
    if all(ring["outcome"] != RINGING for ring in call.rings):
        return call.rings
    outcome = _OPEN_RING_END.get(disposition_of(call), "cancelled")
    return [
        ring if ring["outcome"] != RINGING else _ended(call, ring, outcome, ended_at)
        for ring in call.rings
    ]


def _ended(call: RecordDraft, ring: dict[str, Any], outcome: str, at: float) -> dict[str, Any]:
    """`ring` ended with `outcome` at `at` (our clock: the ring's own `at` is too)."""
    return ring | {
        "outcome": outcome,
        "ring_s": round(max(0.0, at - call.started_at - ring["at"]), 3),
    }


def finish(call: RecordDraft, ended_at: float) -> FinishedCall:
    return FinishedCall(
        node=call.node,
        linkedid=call.linkedid,
        started_at=call.started_at,
        ended_at=ended_at,
        caller=call.caller,
        dialed=call.dialed,
        unit=call.unit,
        confidential=call.confidential,
        ivr_keys=call.keys,
        prompts=call.prompts,
        queues=call.offered_queues,
        queue_exit=call.queue_exit,
        wait_s=call.wait_s,
        rings=closed_rings(call, ended_at),
        agent=call.agent,
        seat=call.seat,
        talk_s=call.talk_s,
        wrapup_s=call.wrapup_s,
        transfers=legs.close(call.transfers, round(ended_at - call.started_at, 3)),
        hangup_by=call.hangup_by,
        disposition=disposition_of(call),
        fallback=call.fallback,
        recording=call.recording,
        rating=call.rating,
        timeline=call.timeline,
        direction="outbound" if call.callback_of else "inbound",
        kind="callback" if call.callback_of else "call",
        callback_of=call.callback_of,
        queued_after_s=None if call.callback_of else call.queued_after_s,
        call_source=call.call_source,
        call_source_ref=call.call_source_ref,
    )


Sink = Callable[[FinishedCall], None]


class RecordBuilder:
    """Follows every node's events; hands each finished call to `sink` exactly once."""

    def __init__(
        self,
        clock: Callable[[], float],
        sink: Sink,
        wrapup: WrapupLookup = _no_wrapup,
        answered: AnswerHook | None = None,
    ) -> None:
        self.clock = clock
        self.sink = sink
        self.wrapup = wrapup
        self.answered = answered
        self.open: dict[tuple[str, str], RecordDraft] = {}
        self.finished = 0
        #: the Linkedid of a leg bringing a target into a room -> (the call's Linkedid,
        #: the leg's live channels), per node
        self._targets: dict[tuple[str, str], tuple[str, set[str]]] = {}
        #: (node, linkedid) of calls already finished -> when: a duplicated Hangup, or
        #: a late event of a closed call, must not open a second, empty record. Oldest
        #: first; bounded by ENDED_FOR_S and ENDED_MEMORY.
        self._ended: dict[tuple[str, str], float] = {}

    # --- resync: calls that ended or began while we were not listening ---------------
    def reconcile(self, node: str, state: NodeState) -> None:
        """After a resync of `node`: its live calls are what Asterisk listed. Drafts of
        calls Asterisk no longer has ended while the link was down: they are finished
        now. Calls we never saw start are drafted from the live model (with the queue
        they wait in, or the member they talk to), so they still get their record."""
        live_calls = state.calls
        now = self.clock()
        for key in [k for k in self.open if k[0] == node and k[1] not in live_calls]:
            call = self.open.pop(key)
            call.note(now, "ended_unseen", "ended while the AMI link was down")
            if call.pending_abandon is not None:
                self._classify(call, "abandoned", now)
            self._emit(call, now)
        for linkedid, seen in live_calls.items():
            known = self.open.get((node, linkedid))
            if known is None:
                known = RecordDraft(node, linkedid, seen.started_at, caller=seen.caller_id_num)
                known.rebuilt = True
                known.note(now, "rebuilt", "opened from the resync snapshot")
                self.open[(node, linkedid)] = known
                self._rebuild(known, seen, state, now)
            self._recall(known, seen)
            known.channels = set(seen.channels)

    @staticmethod
    def _rebuild(draft: RecordDraft, seen: Call, state: NodeState, now: float) -> None:
        """A call first seen in a snapshot: where it is now (waiting in a queue, or
        talking to the member its channel is bridged to)."""
        draft.number = DialedNumber(seen.dialed, settled=True)
        if seen.queue:
            draft.queues, draft.in_queue = [seen.queue], seen.queue
            draft.join_context = None  # unknown: no redirect test by context
        member = state.member_on_call(seen.channels) if not seen.agent else None
        agent = seen.agent or (member.interface if member is not None else None)
        if agent:
            draft.agent, draft.answered_at = agent, seen.answered_at or now
            draft.seat = seen.seat or (member.member_name if member is not None else "")
            draft.queue_exit = "answered"
            queue = seen.routed_queue or (member.queue if member is not None else "")
            if queue and not draft.queues and not seen.callback_of:
                draft.queues = [queue]

    @staticmethod
    def _recall(draft: RecordDraft, seen: Call) -> None:
        """What the live model read back after the resync (its dialed number, unit and
        queue: callcenter.live.call_variables) fills what the draft could not see."""
        if seen.dialed and (not draft.dialed or (seen.number.settled and not draft.number.settled)):
            draft.number = DialedNumber(seen.dialed, settled=True)
        if seen.unit and not draft.unit:
            draft.unit = seen.unit
        if seen.callback_of and not draft.callback_of:
            draft.callback_of = seen.callback_of
        if seen.source == SOURCE_110:
            draft.call_source = SOURCE_110
            if not draft.call_source_ref:
                draft.call_source_ref = clean_ref(seen.source_ref) or ""
        if draft.joined_late and not draft.queues and not draft.callback_of:
            queue = seen.queue or seen.routed_queue  # where it waits, or was routed to
            if queue:
                draft.queues, draft.join_context = [queue], None
                if seen.queue:
                    draft.in_queue = seen.queue
        if draft.callback_of and not draft.dialed:  # the seat's leg shows whom it calls
            draft.number = DialedNumber(draft.caller, settled=True)

    def legs_in_progress(self, node: str, linkedid: str) -> legs.LiveLegs | None:
        """A call in progress and its transfer legs so far; None when it is not in
        progress. Every instance follows every node's events, so every instance
        answers the same."""
        call = self.open.get((node, linkedid))
        if call is None:
            return None
        ours = [dict(t) for t in call.transfers if t["kind"] in legs.LEG_KINDS]
        return legs.LiveLegs(call.started_at, call.agent, ours)

    # --- events ----------------------------------------------------------------------
    def apply(self, node: str, event: ev.AmiEvent) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return
        snap = getattr(event, "channel", None)
        if not isinstance(snap, ev.ChannelSnapshot) or not snap.linkedid:
            return
        if (node, snap.linkedid) in self._targets or legs.parent_of(snap.channel):
            self._conference_target(node, snap, event)
            return
        call = self._call(node, snap, event)
        if call is not None:
            handler(self, call, snap, event)

    def _call(self, node: str, snap: ev.ChannelSnapshot, event: ev.AmiEvent) -> RecordDraft | None:
        key = (node, snap.linkedid)
        call = self.open.get(key)
        if call is None:
            if not snap.uniqueid or key in self._ended:
                return None
            now = self.clock()
            call = RecordDraft(node, snap.linkedid, now)
            call.joined_late = not (
                isinstance(event, ev.Newchannel) and snap.uniqueid == snap.linkedid
            )
            call.note(now, "joined_late" if call.joined_late else "start", snap.exten)
            self.open[key] = call
        if snap.uniqueid == snap.linkedid:
            if not call.caller and snap.caller_id_num not in ("", "<unknown>"):
                call.caller = snap.caller_id_num
            call.number.saw_exten(snap.exten)
            if snap.state == UP and call.up_at is None and not (call.joined_late or call.rebuilt):
                call.up_at = self._pbx_time(event)
        return call

    def _pbx_time(self, event: ev.AmiEvent) -> float:
        """When Asterisk sent `event` (its `Timestamp`, with manager.conf's
        `timestampevents`), else now: a span between two events of one node then does
        not stretch with how late they reached us."""
        stamp = event.headers.get("timestamp")
        if stamp:
            try:
                return float(stamp)
            except ValueError:
                pass
        return self.clock()

    def _emit(self, call: RecordDraft, now: float) -> None:
        self._remember_ended((call.node, call.linkedid))
        call.note(now, "end", call.hangup_by)
        self.finished += 1
        self.sink(finish(call, now))

    # handlers: (self, call, channel snapshot, event)
    def _on_channel(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AmiEvent) -> None:
        call.channels.add(snap.uniqueid)

    def _on_varset(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.VarSet) -> None:
        call.channels.add(snap.uniqueid)
        now, name, value = self.clock(), e.variable, e.value
        if makes_confidential(name, value):
            call.confidential = True
        if name == "DID":
            call.number.saw_did(value)
        elif name == "HOTLINE_CALLBACK_OF" and value:
            call.callback_of = value
        elif name == "HOTLINE_CALLBACK_NUMBER" and value:
            call.number = DialedNumber(value, settled=True)
            call.caller = value  # the citizen the callback is for, as on the original
        elif name == "HOTLINE_CALLBACK_SEAT" and value:
            call.seat = value
        elif name == "HOTLINE_UNIT":
            call.unit = value
        elif name == "HOTLINE_SOURCE":
            call.call_source = SOURCE_110 if value == SOURCE_110 else DIRECT
        elif name == "HOTLINE_SOURCE_REF":
            # the dialplan copied it from the INVITE: a malformed one is not kept
            call.call_source_ref = clean_ref(value) or ""
        elif name == "HOTLINE_TRANSFER_TO":
            call.transfer_to = value
        elif name == "AGISTATUS" and value != "SUCCESS":
            # the routing AGI failed and the dialplan's fallback queues the caller; a
            # caller hanging up during an AGI (HANGUP), or the survey's AGI after the
            # answer, routes nothing
            if value != "HANGUP" and call.answered_at is None:
                call.fallback = True
            call.note(now, "agi_failed", value)
        elif name in ("MIXMONITOR_FILENAME", "HOTLINE_RECORDING") and value:
            call.recording = value
        elif name == "SURVEY_RESULT" and value in ("1", "2", "3") and call.rating is None:
            # also stored by the IVR in its own table; this copy travels with the record
            # through the spool, so a rating survives the database being slow or away
            call.rating = int(value)
        elif name == "QUEUESTATUS" and snap.uniqueid == snap.linkedid:
            if call.pending_abandon is not None and value in QUEUE_STATUS_EXIT:
                self._classify(call, QUEUE_STATUS_EXIT[value], now)
            elif value in REFUSED_STATUS and call.in_queue is None:
                call.queue_exit = call.queue_exit or "refused"
                call.note(now, "queue_refused", value)

    def _on_dtmf(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.DTMFEnd) -> None:
        if snap.uniqueid == snap.linkedid and e.direction != "Sent" and len(call.keys) < 64:
            call.keys += e.digit
            call.note(self.clock(), "key", e.digit)

    def _on_newexten(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.Newexten) -> None:
        call.channels.add(snap.uniqueid)
        if snap.uniqueid != snap.linkedid:
            return
        now = self.clock()
        call.number.saw_application(e.application)
        if e.application == "AGI" and call.up_at is None and not (call.joined_late or call.rebuilt):
            call.up_at = self._pbx_time(e)  # the IVR answers the caller (AGI ANSWER)
        self._played(call, app_prompts(e.application, e.app_data))
        if call.pending_abandon is not None and snap.exten != "h" and e.application != "Hangup":
            # the caller left the queue alive and runs on: a redirect, not an abandon
            self._classify(call, "redirected", now, f"{snap.context},{snap.exten}")
        elif call.left_at is not None:
            self._left_with_key(call, now)

    def _on_agi_exec(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AGIExecStart) -> None:
        if snap.uniqueid == snap.linkedid:
            self._played(call, agi_prompts(e.command))

    def _played(self, call: RecordDraft, prompts: list[str]) -> None:
        for prompt in prompts:
            if len(call.prompts) >= MAX_PROMPTS:
                return
            call.prompts.append(prompt)
            call.note(self.clock(), "prompt", prompt)

    def _on_join(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.QueueCallerJoin) -> None:
        if call.in_queue == e.queue:
            return
        now = self.clock()
        if call.key_exit_at is not None:  # back after a key: the same stay goes on
            call.key_exit_at = None
            call.queue_exit = ""
        else:
            call.stay_from, call.stay_base = self._pbx_time(e), call.wait_s or 0.0
            call.keyed = False
        call.in_queue, call.join_context = e.queue, snap.context
        call.number.settle()
        if not call.queues and call.up_at is not None:
            call.queued_after_s = round(max(0.0, self._pbx_time(e) - call.up_at), 3)
        if not call.queues or call.queues[-1] != e.queue:
            call.queues.append(e.queue)
        call.note(now, "queue_join", e.queue)

    def _on_abandon(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.QueueCallerAbandon
    ) -> None:
        if call.in_queue != e.queue or call.pending_abandon is not None:
            return
        now = self.clock()
        call.pending_abandon = e.hold_time
        call.pending_abandon_at = self._pbx_time(e)
        call.note(now, "queue_abandon_event", e.queue)
        if (
            call.join_context is not None and snap.context != call.join_context
        ):  # Redirect: already in its new context
            self._classify(call, "redirected", now, f"{snap.context},{snap.exten}")

    def _classify(self, call: RecordDraft, exit_kind: str, now: float, to: str = "") -> None:
        hold = call.pending_abandon or 0
        call.pending_abandon = None
        if call.keyed and call.pending_abandon_at is not None:
            self._stay_wait(call, call.pending_abandon_at)
        else:
            call.wait_s = (call.wait_s or 0.0) + hold
        call.queue_exit = exit_kind
        if exit_kind == "redirected":
            call.transfers.append(
                {"kind": "redirect", "from_queue": call.in_queue or "", "to": to, "status": ""}
            )
        if exit_kind == "abandoned":
            call.hangup_by = "caller"
        self._close_rings(call, "caller_hung_up" if exit_kind == "abandoned" else "cancelled", now)
        call.in_queue = None
        call.note(now, "queue_exit", exit_kind)

    def _on_leave(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.QueueCallerLeave
    ) -> None:
        if call.in_queue == e.queue and call.pending_abandon is None:
            call.left_at = self._pbx_time(e)
            call.note(self.clock(), "queue_leave", e.queue)

    def _left_with_key(self, call: RecordDraft, now: float) -> None:
        """The caller left its queue neither answered nor abandoning and runs on in
        the dialplan: a key of the queue's context (EXITWITHKEY)."""
        left_at, call.left_at = call.left_at, None
        call.key_exit_at = left_at
        call.keyed = True
        if left_at is not None:
            self._stay_wait(call, left_at)
        call.queue_exit = "left_with_key"
        self._close_rings(call, "cancelled", now)
        call.in_queue = None
        call.note(now, "queue_exit", "left_with_key")

    @staticmethod
    def _stay_wait(call: RecordDraft, until: float) -> None:
        """The wait of a stay a key interrupted: from its first join to `until`."""
        start = call.stay_from if call.stay_from is not None else until
        call.wait_s = round(call.stay_base + max(0.0, until - start), 3)

    def _on_agent_called(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AgentCalled
    ) -> None:
        now = self.clock()
        call.rings.append(
            {
                "queue": e.queue,
                "interface": e.interface,
                "seat": e.member_name,
                "at": round(now - call.started_at, 3),
                "ring_s": None,
                "outcome": RINGING,
            }
        )

    @staticmethod
    def _close_rings(call: RecordDraft, outcome: str, now: float) -> None:
        """Every seat still ringing for the caller stops: app_queue cancels them without
        an event of their own when another member answers or the caller leaves."""
        for n, ring in enumerate(call.rings):
            if ring["outcome"] == RINGING:
                call.rings[n] = _ended(call, ring, outcome, now)

    def _ringing(self, call: RecordDraft, interface: str) -> dict[str, Any] | None:
        for ring in reversed(call.rings):
            if ring["interface"] == interface and ring["outcome"] == RINGING:
                found: dict[str, Any] = ring
                return found
        return None

    def _on_no_answer(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AgentRingNoAnswer
    ) -> None:
        ring = self._ringing(call, e.interface)
        if ring is not None:
            ring["outcome"], ring["ring_s"] = "no_answer", round(e.ring_time / 1000, 3)

    def _on_dump(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AgentDump) -> None:
        ring = self._ringing(call, e.interface)
        if ring is not None:
            ring["outcome"] = "dumped"

    def _on_connect(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AgentConnect) -> None:
        member = e.dest.uniqueid if e.dest is not None else ""
        if call.answered_at is not None and call.agent == e.interface:
            if not member or member == call.member_channel:
                return  # this answer, seen again (a replayed event)
        now = self.clock()
        call.member_channel = member
        ring = self._ringing(call, e.interface)
        if ring is not None:
            ring["outcome"], ring["ring_s"] = "answered", float(e.ring_time)
        self._close_rings(call, "cancelled", now)  # ringall cancels the others silently
        call.left_at = None
        call.answered_at, call.talk_done = now, False
        call.agent, call.seat = e.interface, e.member_name
        if not call.queues:  # answered from a queue we did not see it join
            call.queues = [e.queue]
        if call.keyed:
            self._stay_wait(call, self._pbx_time(e))
        else:
            call.wait_s = (call.wait_s or 0.0) + e.hold_time
        call.queue_exit, call.in_queue = "answered", None
        call.note(now, "answered", e.member_name or e.interface)
        if self.answered is not None:
            self.answered(call, e.queue)

    def _on_complete(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AgentComplete
    ) -> None:
        """Counts each answer's talk once, whatever came first: under load the caller's
        `Hangup` can reach us before app_queue's `AgentComplete`, and the talk time and
        who ended the bridge are still app_queue's (a duplicate is ignored)."""
        if call.agent != e.interface or call.answered_at is None or call.talk_done:
            return
        now = self.clock()
        call.talk_done = True
        call.talk_s += e.talk_time
        call.wrapup_s = self.wrapup(call.node, e.queue, e.interface)
        call.hangup_by = e.reason or "unknown"
        ours = [t for t in call.transfers if t["kind"] in legs.LEG_KINDS]
        if e.reason == "transfer" and not (ours and ours[-1]["ended"] is None):
            call.transfers.append(
                {"kind": "agent", "from_queue": e.queue, "to": call.transfer_to, "status": ""}
            )
        call.note(now, "agent_done", e.reason)

    # --- transfers an agent started (transfer_legs.py) ---------------------------------
    def _rel(self, call: RecordDraft) -> float:
        return round(self.clock() - call.started_at, 3)

    def _on_newchannel(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.Newchannel) -> None:
        call.channels.add(snap.uniqueid)
        target = legs.consult_target(snap.channel)
        if target is not None and call.answered_at is not None and call.in_queue is None:
            call.transfers.append(legs.new_leg("consult", target[0], self._rel(call)))
            call.consults[target[1]] = call.consults[snap.channel] = len(call.transfers) - 1
            call.note(self.clock(), "transfer_consult", target[0])

    def _on_blind_transfer(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.BlindTransfer
    ) -> None:
        if e.result != "Success" or snap.uniqueid != snap.linkedid:
            return
        call.transfers.append(legs.new_leg("blind", e.extension, self._rel(call)))
        call.note(self.clock(), "transfer_blind", e.extension)

    def _on_attended_transfer(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.AttendedTransfer
    ) -> None:
        leg = legs.last_leg(call.transfers, "consult")
        if e.result != "Success" or leg is None or leg["state"] in legs.FINAL:
            return
        leg["state"] = "completed"
        call.note(self.clock(), "transfer_completed", leg["to"])

    def _consult_leg(self, call: RecordDraft, channel: str) -> dict[str, Any] | None:
        index = call.consults.get(channel)
        return call.transfers[index] if index is not None else None

    def _on_conference_join(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.ConfbridgeJoin
    ) -> None:
        call.channels.add(snap.uniqueid)
        if e.conference == call.linkedid:
            self._conference_leg(call)

    def _conference_leg(self, call: RecordDraft) -> dict[str, Any]:
        leg = legs.last_leg(call.transfers, "conference")
        if leg is None or leg["ended"] is not None:
            leg = legs.new_leg("conference", "", self._rel(call))
            call.transfers.append(leg)
            call.note(self.clock(), "transfer_conference", "")
        return leg

    def _on_conference_leave(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.ConfbridgeLeave
    ) -> None:
        leg = legs.last_leg(call.transfers, "conference")
        if e.conference != call.linkedid or leg is None:
            return
        who = "caller" if snap.uniqueid == snap.linkedid else "agent"
        if not leg["left_by"]:
            leg["left_by"] = who
        if who == "agent" and leg["state"] == "conference":
            leg["state"] = "left"  # before the target answered: when it does
            call.note(self.clock(), "transfer_left", "agent")

    def _conference_target(self, node: str, snap: ev.ChannelSnapshot, e: ev.AmiEvent) -> None:
        """An event of the leg that brings a target into a call's room
        (transfer_legs.parent_of): a call of its own to Asterisk, followed on the call
        it was brought into, making no record of its own."""
        key = (node, snap.linkedid)
        followed = self._targets.get(key)
        if followed is None:
            parent = legs.parent_of(snap.channel) or ""
            followed = self._targets[key] = (parent, set())
        parent, channels = followed
        if isinstance(e, ev.Hangup):
            channels.discard(snap.uniqueid)
            if not channels:
                del self._targets[key]
        else:
            channels.add(snap.uniqueid)
        call = self.open.get((node, parent))
        if call is None:
            return
        last = legs.last_leg(call.transfers, "conference")
        starts = isinstance(e, ev.Newchannel) and snap.uniqueid == snap.linkedid
        leg = self._conference_leg(call) if starts or last is None else last
        at = self._rel(call)
        one = legs.parent_of(snap.channel) is not None and snap.channel.endswith(";1")
        if isinstance(e, ev.DialBegin):
            target = e.dest.exten if e.dest is not None else ""
            leg["to"] = leg["to"] or e.dial_string.partition("@")[0] or target
        elif isinstance(e, ev.DialEnd):
            legs.dial_ended(leg, e.dial_status, at)
            if e.dial_status == "ANSWER" and leg["state"] == "dialing":
                leg["state"] = "left" if leg["left_by"] == "agent" else "conference"
        elif isinstance(e, ev.ConfbridgeLeave) and not leg["left_by"]:
            leg["left_by"] = "target"
        elif isinstance(e, ev.Hangup) and one:
            if leg["ended"] is None:
                leg["ended"] = at
            if leg["answered"] is None:
                leg["state"] = "failed"

    def _on_dial_begin(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.DialBegin) -> None:
        if call.callback_of and snap.uniqueid == snap.linkedid:
            # the seat answered and dials the caller: the callback itself, not a transfer
            call.agent = snap.channel.rpartition("-")[0]
            if not call.dialed and e.dest is not None:
                call.number = DialedNumber(e.dest.exten, settled=True)
            call.note(self.clock(), "callback_dial", call.dialed)
            return
        if snap.uniqueid != snap.linkedid or call.in_queue is not None:
            return  # app_queue ringing seats is a Dial too; those are ring attempts
        if call.joined_late and not call.queues and call.answered_at is None:
            return  # a call met mid-way may be in a queue we did not see it join
        blind = legs.last_leg(call.transfers, "blind")
        if blind is not None and blind["state"] == "dialing" and not blind["status"]:
            return  # the caller dials the target of its blind transfer: that leg's
        target = call.transfer_to or (e.dest.exten if e.dest else "") or e.dial_string
        call.transfers.append({"kind": "dial", "from_queue": "", "to": target, "status": ""})
        call.note(self.clock(), "transfer_dial", target)

    def _on_dial_end(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.DialEnd) -> None:
        consult = self._consult_leg(call, snap.channel)
        if consult is not None:
            legs.dial_ended(consult, e.dial_status, self._rel(call))
            return
        blind = legs.last_leg(call.transfers, "blind")
        if (
            blind is not None
            and snap.uniqueid == snap.linkedid
            and blind["state"] == "dialing"
            and not blind["status"]
        ):
            legs.dial_ended(blind, e.dial_status, self._rel(call))
            call.note(self.clock(), "transfer_result", e.dial_status)
            return
        if call.callback_of and snap.uniqueid == snap.linkedid:
            now = self.clock()
            call.callback_status = e.dial_status
            if e.dial_status == "ANSWER" and call.answered_at is None:
                call.answered_at = now
            call.note(now, "callback_result", e.dial_status)
            return
        if snap.uniqueid != snap.linkedid or call.in_queue is not None:
            return
        for transfer in reversed(call.transfers):
            if transfer["kind"] == "dial" and not transfer["status"]:
                transfer["status"] = e.dial_status
                call.note(self.clock(), "transfer_result", e.dial_status)
                break

    def _on_hangup_request(
        self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.HangupRequest
    ) -> None:
        """Who asks the caller's channel to hang up first: its far end (a BYE is a
        `HangupRequest`) or the PBX (the dialplan's Hangup() after a queue timeout, an
        AMI Hangup: `SoftHangupRequest`; a BYE's own one only follows its request)."""
        if snap.uniqueid != snap.linkedid or call.hangup_by or call.hangup_asked:
            return
        call.hangup_asked = "caller" if isinstance(e, ev.HangupRequest) else "pbx"

    def _on_hangup(self, call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.Hangup) -> None:
        now = self.clock()
        consult = self._consult_leg(call, snap.channel)
        if consult is not None and snap.channel.endswith(";1"):
            if consult["state"] in ("dialing", "talking"):
                consult["state"] = "returned" if consult["answered"] is not None else "failed"
                call.note(now, "transfer_returned", consult["to"])
            if consult["ended"] is None:
                consult["ended"] = self._rel(call)
        if call.callback_of:
            self._callback_hangup(call, snap, e, now)
        elif snap.uniqueid == snap.linkedid:
            if call.pending_abandon is not None:
                self._classify(call, "abandoned", now)
            elif call.left_at is not None:
                self._left_with_key(call, now)
            self._close_rings(call, "caller_hung_up", now)  # its abandon was not seen
            if not call.hangup_by:
                call.hangup_by = _who_hung_up(call.hangup_asked, e.cause)
        call.channels.discard(snap.uniqueid)
        if not call.channels:
            key = (call.node, call.linkedid)
            del self.open[key]
            if not call.callback_of:  # a callback's talk is its legs' (_callback_hangup)
                self._close_talk(call, now)
            self._emit(call, now)

    def _close_talk(self, call: RecordDraft, now: float) -> None:
        """An answered call whose every channel is gone before its `AgentComplete` came
        (it is late, or lost) still talked: from the answer to now on our clock, marked
        as an estimate in the timeline. Asterisk's own figure (queue_log) corrects it.
        A call rebuilt from a resync has no true answer time, so it gets no estimate."""
        if call.answered_at is None or call.talk_done or call.rebuilt:
            return
        call.talk_done = True
        talk = round(max(0.0, now - call.answered_at))
        call.talk_s += talk
        if call.queues:
            call.wrapup_s = self.wrapup(call.node, call.queues[-1], call.agent)
        call.note(now, "talk_estimated", str(talk))

    @staticmethod
    def _callback_hangup(
        call: RecordDraft, snap: ev.ChannelSnapshot, e: ev.Hangup, now: float
    ) -> None:
        """A callback: the seat's leg (the originated channel) or the called one ends;
        the first to go hung up the call, and a called leg that fails gives the cause."""
        seat_leg = snap.uniqueid == snap.linkedid
        if not seat_leg and call.callback_cause is None:
            call.callback_cause = e.cause
        if call.hangup_by:
            return
        if call.answered_at is not None:
            call.talk_s = round(now - call.answered_at, 3)
            call.hangup_by = "seat" if seat_leg else "called"
        elif seat_leg:  # the seat's leg outlives the Dial: the outcome is known by now
            if not call.callback_status:
                call.hangup_by = "seat_missed"  # the seat never dialed the caller
            elif call.callback_status in _UNREACHED_BY:
                call.hangup_by = _UNREACHED_BY[call.callback_status]
            else:  # the called leg failed (CHANUNAVAIL, CONGESTION...): why
                cause = call.callback_cause if call.callback_cause is not None else e.cause
                call.hangup_by = f"cause {cause}"

    def _remember_ended(self, key: tuple[str, str]) -> None:
        now = self.clock()
        ended = self._ended
        ended.pop(key, None)  # re-inserted at the end: the order stays oldest first
        ended[key] = now
        while ended:
            oldest = next(iter(ended))
            if len(ended) <= ENDED_MEMORY and now - ended[oldest] <= ENDED_FOR_S:
                break
            del ended[oldest]

    @property
    def remembered_ended(self) -> int:
        """How many finished calls are remembered (bounded; see ENDED_FOR_S)."""
        return len(self._ended)


def _who_hung_up(asked: str, cause: int) -> str:
    """Who ended the caller's channel. Whoever asked first decides: a caller's BYE is a
    `HangupRequest` without a cause, and a channel that hangs up outside a bridge (in
    the IVR's greeting, during an AGI) ends with cause 0, not 16. Only a hang-up nobody
    was seen asking for falls back to the cause: 16 is a normal clearing by the far end.
    """
    if asked:
        return asked
    return "caller" if cause == 16 else f"cause {cause}"


_HANDLERS: dict[type[ev.AmiEvent], Callable[..., None]] = {}
for _cls, _fn in (
    (ev.Newchannel, RecordBuilder._on_newchannel),
    (ev.BlindTransfer, RecordBuilder._on_blind_transfer),
    (ev.AttendedTransfer, RecordBuilder._on_attended_transfer),
    (ev.ConfbridgeJoin, RecordBuilder._on_conference_join),
    (ev.ConfbridgeLeave, RecordBuilder._on_conference_leave),
    (ev.Newstate, RecordBuilder._on_channel),
    (ev.NewCallerid, RecordBuilder._on_channel),
    (ev.VarSet, RecordBuilder._on_varset),
    (ev.DTMFEnd, RecordBuilder._on_dtmf),
    (ev.Newexten, RecordBuilder._on_newexten),
    (ev.AGIExecStart, RecordBuilder._on_agi_exec),
    (ev.QueueCallerJoin, RecordBuilder._on_join),
    (ev.QueueCallerAbandon, RecordBuilder._on_abandon),
    (ev.QueueCallerLeave, RecordBuilder._on_leave),
    (ev.AgentCalled, RecordBuilder._on_agent_called),
    (ev.AgentRingNoAnswer, RecordBuilder._on_no_answer),
    (ev.AgentDump, RecordBuilder._on_dump),
    (ev.AgentConnect, RecordBuilder._on_connect),
    (ev.AgentComplete, RecordBuilder._on_complete),
    (ev.DialBegin, RecordBuilder._on_dial_begin),
    (ev.DialEnd, RecordBuilder._on_dial_end),
    (ev.HangupRequest, RecordBuilder._on_hangup_request),
    (ev.SoftHangupRequest, RecordBuilder._on_hangup_request),
    (ev.Hangup, RecordBuilder._on_hangup),
):
    _HANDLERS[_cls] = _fn
