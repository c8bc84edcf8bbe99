"""Asterisk's own ledger — CDR, CEL and queue_log rows — as Asterisk 22.10.1 writes them
with cdr_pgsql, cel_pgsql and app_queue's realtime queue_log.

Not to be confused with `pbxsim/ledger.py`, the traffic's account of what its people
did. This module derives the rows from the AMI events the PBX posts, because those
events are what pbxsim reproduces faithfully (golden-tested per channel), and the three
Asterisk back ends are fed by the same stasis messages:

* CEL: `Newchannel` gives CHAN_START (cid as created, no ANI/DNID yet); `Newstate` Up
  gives ANSWER; `Newexten` of an application listed in cel.conf `apps=` gives APP_START,
  and the channel's next location (or its hangup) the APP_END, after which the channel
  shows no application; `BridgeEnter`/`BridgeLeave` give BRIDGE_ENTER/EXIT with the
  bridge in `extra` and the other party still in the bridge as `peer`; `Hangup` gives
  HANGUP (`extra`: hangupcause, hangupsource, the last DialEnd status the channel got
  as the dialer), CHAN_END and, for the last channel of a linkedid, LINKEDID_END.
* CDR: the records pbxsim's CDR engine posts (`Cdr`), with linkedid, peeraccount and a
  running `sequence` added as cdr_pgsql stores them.
* queue_log: QUEUESTART at start, ENTERQUEUE (data2 caller id, data3 position),
  CONNECT (hold, member channel uniqueid, ring), COMPLETECALLER/COMPLETEAGENT (hold,
  talk, original position), RINGNOANSWER (ring ms), ABANDON (position, original
  position, hold) or — when Queue() ran out of time — EXITWITHTIMEOUT (same data),
  EXITWITHKEY (key, position, original position, wait) for a caller who left with a key
  of the queue's context — the one queue exit with no AMI event of its own: a
  `QueueCallerLeave` after neither a member's answer (`DialEnd ANSWER`, which comes
  before the leave) nor `QueueCallerAbandon`, its key the
  last DTMF the caller sent while queued (the contexts this serves have one-digit
  extensions) — and ADDMEMBER/REMOVEMEMBER (callid MANAGER), PAUSE/UNPAUSE (callid
  NONE, data1 reason); a transferred call ends with BLINDTRANSFER (exten, context,
  hold, talk, position) or ATTENDEDTRANSFER (BRIDGE, bridge id, hold, talk, position)
  instead of COMPLETE*, and CEL has a BLINDTRANSFER / ATTENDEDTRANSFER row on the
  transferer.
  `agent` is the member's MemberName.

Times: cdr and cel carry the PBX's local time without zone (cel to the microsecond,
cdr to the second); queue_log.time is UTC (`queue_log_realtime_use_gmt = yes`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pbxsim.events import AmiEvent, EventBus

if TYPE_CHECKING:
    from pbxsim.telephony.pbx import Pbx

#: the applications the rendered cel.conf lists under `apps=`
CEL_APPS = frozenset({"agi", "queue", "dial"})
#: seconds a hangup is held back at most, waiting for its bridge to go
HOLD_MAX = 1.0
#: ast_channel_amaflags DOCUMENTATION as cel_pgsql stores it
AMA_DOCUMENTATION = 3


@dataclass(frozen=True, slots=True)
class CdrRow:
    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: datetime | None
    answer: datetime | None
    end: datetime | None
    duration: int
    billsec: int
    disposition: str
    amaflags: str
    userfield: str
    uniqueid: str
    linkedid: str
    peeraccount: str
    sequence: int

    table = "cdr"

    def values(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CelRow:
    eventtype: str
    eventtime: datetime
    cid_name: str
    cid_num: str
    cid_ani: str
    cid_dnid: str
    exten: str
    context: str
    channame: str
    appname: str
    appdata: str
    uniqueid: str
    linkedid: str
    peer: str = ""
    extra: str = ""
    userdeftype: str = ""
    cid_rdnis: str = ""
    amaflags: int = AMA_DOCUMENTATION
    accountcode: str = ""
    peeraccount: str = ""
    userfield: str = ""

    table = "cel"

    def values(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QueueLogRow:
    time: datetime
    callid: str
    queuename: str
    agent: str
    event: str
    data1: str = ""
    data2: str = ""
    data3: str = ""
    data4: str = ""
    data5: str = ""

    table = "queue_log"

    def values(self) -> dict[str, object]:
        return asdict(self)


LedgerRow = CdrRow | CelRow | QueueLogRow
RowSink = Callable[[LedgerRow], None]
AppLookup = Callable[[str], tuple[str, str]]


def pbx_apps(pbx: Pbx) -> AppLookup:
    """The lookup for `AsteriskLedger.current_app` on a pbxsim PBX."""

    def lookup(name: str) -> tuple[str, str]:
        leg = pbx.legs.find(name)
        return (leg.last_app, leg.last_data) if leg is not None else ("", "")

    return lookup


def _known(value: str | None) -> str:
    return "" if value in (None, "<unknown>") else value


def local_time(when: float) -> datetime:
    """The PBX's wall clock without zone, as cdr/cel columns hold it."""
    return datetime.fromtimestamp(when)


def utc_time(when: float) -> datetime:
    return datetime.fromtimestamp(when, UTC).replace(tzinfo=None)


def _cdr_time(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S") if text else None


@dataclass
class _Chan:
    name: str
    uniqueid: str
    linkedid: str
    cid_name: str = ""
    cid_num: str = ""
    #: the party Dial() calls out to shows no ANI (chan_pjsip sets none on it)
    has_ani: bool = True
    dnid: str = ""
    exten: str = ""
    context: str = ""
    app: str = ""
    appdata: str = ""
    open_app: bool = False
    #: the application the PBX last reported running
    seen: tuple[str, str] = ("", "")
    #: what the channel shows once an application returns: pbx_exec restores the one
    #: before it, i.e. nothing in the dialplan, the dialer's marker (`AppDial2`) on an
    #: originated channel
    base: tuple[str, str] = ("", "")
    dialstatus: str = ""


@dataclass
class _Entry:
    queue: str
    position: str
    joined_at: float = 0.0
    pending_exit: tuple[float, AmiEvent] | None = None
    connected: bool = False
    #: the last key the caller sent while queued
    key: str = ""


@dataclass
class AsteriskLedger:
    """Turns the PBX's events into ledger rows, handed to `sink` in Asterisk's order."""

    now: Callable[[], float]
    sink: RowSink
    #: channel name -> the (application, data) it runs now; Asterisk's CEL follows the
    #: channel snapshot, which changes without a Newexten when an originated channel
    #: starts its application
    current_app: AppLookup | None = None
    cel_apps: frozenset[str] = CEL_APPS
    _chans: dict[str, _Chan] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict)
    _links: dict[str, set[str]] = field(default_factory=dict)
    _link_source: dict[str, str] = field(default_factory=dict)
    _bridges: dict[str, list[str]] = field(default_factory=dict)
    _entries: dict[str, _Entry] = field(default_factory=dict)
    #: hangups held back until their bridge is gone: bridge id -> (when, event, channel)
    _held: dict[str, list[tuple[float, AmiEvent, _Chan]]] = field(default_factory=dict)
    _left: dict[str, str] = field(default_factory=dict)
    #: transferee uniqueid -> the queue_log event and leading data of its transfer
    _transfers: dict[str, tuple[str, tuple[str, str]]] = field(default_factory=dict)
    _sequence: int = 0

    def attach(self, bus: EventBus) -> Callable[[], None]:
        """Subscribe to the PBX's events; QUEUESTART marks app_queue's start."""
        self._queue_log("NONE", "NONE", "NONE", "QUEUESTART")
        return bus.subscribe(self.on_event)

    # ------------------------------------------------------------------ dispatch

    def on_event(self, event: AmiEvent) -> None:
        name = event.name
        if self._held:
            self._release_stale()
        if name == "Cdr":
            self._cdr(event)
            return
        uniqueid = event.get("Uniqueid")
        if uniqueid is not None and uniqueid in self._entries:
            self._settle_exit(uniqueid, event)
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, event)
        elif uniqueid is not None:
            self._refresh(event)

    def _refresh(self, event: AmiEvent) -> _Chan | None:
        chan = self._chans.get(event.get("Uniqueid") or "")
        if chan is None:
            return None
        chan.cid_name = _known(event.get("CallerIDName"))
        chan.cid_num = _known(event.get("CallerIDNum"))
        chan.exten = event.get("Exten") or ""
        chan.context = event.get("Context") or ""
        if self.current_app is not None and event.name != "Newexten":
            running = self.current_app(chan.name)
            if running != chan.seen and running[0]:
                self._start_app(chan, *running)
        return chan

    def _cel(
        self, chan: _Chan, eventtype: str, *, peer: str = "", extra: str = "", start: bool = False
    ) -> None:
        self.sink(
            CelRow(
                eventtype=eventtype,
                eventtime=local_time(self.now()),
                cid_name=chan.cid_name,
                cid_num=chan.cid_num,
                cid_ani="" if start or not chan.has_ani else chan.cid_num,
                cid_dnid="" if start else chan.dnid,
                exten=chan.exten,
                context=chan.context,
                channame=chan.name,
                appname=chan.app,
                appdata=chan.appdata,
                uniqueid=chan.uniqueid,
                linkedid=chan.linkedid,
                peer=peer,
                extra=extra,
            )
        )

    def _queue_log(
        self, callid: str, queue: str, agent: str, event: str, *data: str, at: float | None = None
    ) -> None:
        padded = [*data, "", "", "", "", ""][:5]
        self.sink(
            QueueLogRow(
                utc_time(self.now() if at is None else at), callid, queue, agent, event, *padded
            )
        )

    # ------------------------------------------------------------------ channels

    def _newchannel(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid") or ""
        linkedid = event.get("Linkedid") or uniqueid
        chan = _Chan(event.get("Channel") or "", uniqueid, linkedid)
        self._chans[uniqueid] = chan
        self._by_name[chan.name] = uniqueid
        self._links.setdefault(linkedid, set()).add(uniqueid)
        self._refresh(event)
        if event.get("ChannelState") in ("4",) and chan.context and chan.exten != "s":
            chan.dnid = chan.exten  # an inbound INVITE: the dialed number
        self._cel(chan, "CHAN_START", start=True)

    def _newstate(self, event: AmiEvent) -> None:
        chan = self._refresh(event)
        if chan is not None and event.get("ChannelState") == "6":
            self._cel(chan, "ANSWER")

    def _newexten(self, event: AmiEvent) -> None:
        chan = self._chans.get(event.get("Uniqueid") or "")
        if chan is None:
            return
        self._refresh(event)
        self._start_app(chan, event.get("Application") or "", event.get("AppData") or "")

    def _start_app(self, chan: _Chan, app: str, data: str) -> None:
        if chan.seen == ("", ""):
            chan.has_ani = app != "AppDial"
            if data == "(Outgoing Line)":
                chan.base = (app, data)
        self._end_app(chan)
        chan.seen = (app, data)
        chan.app, chan.appdata = app, data
        if app.lower() in self.cel_apps:
            chan.open_app = True
            self._cel(chan, "APP_START")

    def _end_app(self, chan: _Chan) -> None:
        if chan.open_app:
            chan.open_app = False
            self._cel(chan, "APP_END")
            chan.app, chan.appdata = chan.base

    def _dial_end(self, event: AmiEvent) -> None:
        chan = self._refresh(event)
        if chan is not None:
            chan.dialstatus = event.get("DialStatus") or ""
        entry = self._entries.get(event.get("Uniqueid") or "")
        if entry is not None and event.get("DialStatus") == "ANSWER":
            # a member answered the queued caller: it leaves the queue (QueueCallerLeave)
            # before AgentConnect is posted
            entry.connected = True

    def _hangup_request(self, event: AmiEvent) -> None:
        chan = self._refresh(event)
        if chan is not None:
            self._link_source.setdefault(chan.linkedid, chan.name)

    def _bridge_enter(self, event: AmiEvent) -> None:
        chan = self._refresh(event)
        if chan is None:
            return
        bridge_id = event.get("BridgeUniqueid") or ""
        inside = self._bridges.setdefault(bridge_id, [])
        self._cel(chan, "BRIDGE_ENTER", peer=",".join(inside), extra=_bridge_extra(event))
        inside.append(chan.name)

    def _bridge_leave(self, event: AmiEvent) -> None:
        chan = self._refresh(event)
        if chan is None:
            return
        bridge_id = event.get("BridgeUniqueid") or ""
        inside = self._bridges.get(bridge_id, [])
        if chan.name in inside:
            inside.remove(chan.name)
        self._cel(chan, "BRIDGE_EXIT", peer=",".join(inside), extra=_bridge_extra(event))
        if not inside:
            self._bridges.pop(bridge_id, None)
        else:
            self._left[chan.uniqueid] = bridge_id

    def _bridge_destroy(self, event: AmiEvent) -> None:
        for _when, held, chan in self._held.pop(event.get("BridgeUniqueid") or "", []):
            self._hangup_rows(held, chan)

    def _release_stale(self) -> None:
        """A hold does not outlive the step it was made in (a bridge not destroyed by
        then is not going to explain the order); the asyncio clock moves a little
        within one step, hence the margin."""
        now = self.now()
        for bridge_id in [b for b, h in self._held.items() if h[0][0] < now - HOLD_MAX]:
            for _when, held, chan in self._held.pop(bridge_id):
                self._hangup_rows(held, chan)

    def _hangup(self, event: AmiEvent) -> None:
        """A channel that leaves a bridge its peer is still in, from inside an
        application (a queued caller hanging up), is written after the bridge is
        dissolved: Asterisk ends the peer's leg before the application returns, so the
        peer's HANGUP comes before the caller's APP_END."""
        chan = self._refresh(event)
        if chan is None:
            return
        bridge_id = self._left.pop(chan.uniqueid, None)
        if chan.open_app and bridge_id in self._bridges:
            self._held.setdefault(bridge_id, []).append((self.now(), event, chan))
            return
        self._hangup_rows(event, chan)

    def _hangup_rows(self, event: AmiEvent, chan: _Chan) -> None:
        self._end_app(chan)
        # the party whose hangup ended the call: the first of the linkedid asked to
        # hang up (a BYE, Hangup()), else the channel itself
        source = self._link_source.get(chan.linkedid) or chan.name
        extra = json.dumps(
            {
                "hangupcause": int(event.get("Cause") or 0),
                "hangupsource": source,
                "dialstatus": chan.dialstatus,
            },
            separators=(",", ":"),
        )
        self._cel(chan, "HANGUP", extra=extra)
        self._cel(chan, "CHAN_END")
        del self._chans[chan.uniqueid]
        self._by_name.pop(chan.name, None)
        link = self._links.get(chan.linkedid, set())
        link.discard(chan.uniqueid)
        if not link:
            self._links.pop(chan.linkedid, None)
            self._link_source.pop(chan.linkedid, None)
            self._cel(chan, "LINKEDID_END")
        self._entries.pop(chan.uniqueid, None)

    # ------------------------------------------------------------------ cdr

    def _cdr(self, event: AmiEvent) -> None:
        uniqueid = event.get("UniqueID") or ""
        chan = self._chans.get(uniqueid)
        self.sink(
            CdrRow(
                accountcode=event.get("AccountCode") or "",
                src=event.get("Source") or "",
                dst=event.get("Destination") or "",
                dcontext=event.get("DestinationContext") or "",
                clid=event.get("CallerID") or "",
                channel=event.get("Channel") or "",
                dstchannel=event.get("DestinationChannel") or "",
                lastapp=event.get("LastApplication") or "",
                lastdata=event.get("LastData") or "",
                start=_cdr_time(event.get("StartTime")),
                answer=_cdr_time(event.get("AnswerTime")),
                end=_cdr_time(event.get("EndTime")),
                duration=int(event.get("Duration") or 0),
                billsec=int(event.get("BillableSeconds") or 0),
                disposition=event.get("Disposition") or "",
                amaflags=event.get("AMAFlags") or "DOCUMENTATION",
                userfield=event.get("UserField") or "",
                uniqueid=uniqueid,
                linkedid=chan.linkedid if chan is not None else uniqueid,
                peeraccount="",
                sequence=self._sequence,
            )
        )
        self._sequence += 1

    # ------------------------------------------------------------------ queue_log

    def _caller_join(self, event: AmiEvent) -> None:
        self._refresh(event)
        uniqueid = event.get("Uniqueid") or ""
        queue = event.get("Queue") or ""
        position = event.get("Position") or ""
        self._entries[uniqueid] = _Entry(queue, position, joined_at=self.now())
        caller = _known(event.get("CallerIDNum"))
        self._queue_log(uniqueid, queue, "NONE", "ENTERQUEUE", "", caller, position)

    def _agent_connect(self, event: AmiEvent) -> None:
        self._refresh(event)
        entry = self._entries.get(event.get("Uniqueid") or "")
        if entry is not None:
            entry.connected = True
        self._queue_log(
            event.get("Uniqueid") or "",
            event.get("Queue") or "",
            event.get("MemberName") or "NONE",
            "CONNECT",
            event.get("HoldTime") or "0",
            event.get("DestUniqueid") or "",
            event.get("RingTime") or "0",
        )

    def _agent_complete(self, event: AmiEvent) -> None:
        self._refresh(event)
        uniqueid = event.get("Uniqueid") or ""
        entry = self._entries.pop(uniqueid, None)
        transfer = self._transfers.pop(uniqueid, None)
        if event.get("Reason") == "transfer" and transfer is not None:
            kind, head = transfer[0], list(transfer[1])
        else:
            kind = "COMPLETEAGENT" if event.get("Reason") == "agent" else "COMPLETECALLER"
            head = []
        self._queue_log(
            uniqueid,
            event.get("Queue") or "",
            event.get("MemberName") or "NONE",
            kind,
            *head,
            event.get("HoldTime") or "0",
            event.get("TalkTime") or "0",
            entry.position if entry is not None else "1",
        )

    def _transferred(
        self,
        event: AmiEvent,
        chan: _Chan,
        kind: str,
        extra: dict[str, str],
        target: tuple[str, str],
    ) -> None:
        """A transfer's CEL row `kind` on the transferer with cel.c's `extra` JSON;
        `target`: the queue_log data the transferee's AgentComplete then writes
        instead of COMPLETE*."""
        self._cel(chan, kind, extra=json.dumps(extra, separators=(",", ":")))
        self._transfers[event.get("TransfereeUniqueid") or ""] = (kind, target)

    def _blind_transfer(self, event: AmiEvent) -> None:
        """cel.c `cel_blind_transfer_cb`: a BLINDTRANSFER row on the transferer; the
        queue_log row (app_queue `handle_blind_transfer`) replaces the COMPLETE* of
        the AgentComplete that follows."""
        chan = self._chans.get(event.get("TransfererUniqueid") or "")
        if event.get("Result") != "Success" or chan is None:
            return
        extra = {
            "extension": event.get("Extension") or "",
            "context": event.get("Context") or "",
            "bridge_id": event.get("BridgeUniqueid") or "",
            **_channel_or_na(event, "transferee"),
        }
        target = (event.get("Extension") or "", event.get("Context") or "")
        self._transferred(event, chan, "BLINDTRANSFER", extra, target)

    def _attended_transfer(self, event: AmiEvent) -> None:
        """cel.c `cel_attended_transfer_cb` (a bridge merge: bridge1 is the
        transferee's); app_queue `log_attended_transfer` writes `BRIDGE|<bridge>`."""
        if event.get("Result") != "Success":
            return
        chan = self._chans.get(event.get("OrigTransfererUniqueid") or "")
        if chan is None:
            return
        extra = {
            "bridge1_id": event.get("OrigBridgeUniqueid") or "",
            "channel2_name": event.get("SecondTransfererChannel") or "",
            "channel2_uniqueid": event.get("SecondTransfererUniqueid") or "",
            "bridge2_id": event.get("SecondBridgeUniqueid") or "",
            **_channel_or_na(event, "transferee"),
            **_channel_or_na(event, "transfer_target"),
        }
        target = ("BRIDGE", event.get("DestBridgeUniqueid") or "")
        self._transferred(event, chan, "ATTENDEDTRANSFER", extra, target)

    def _ring_no_answer(self, event: AmiEvent) -> None:
        self._refresh(event)
        self._queue_log(
            event.get("Uniqueid") or "",
            event.get("Queue") or "",
            event.get("MemberName") or "NONE",
            "RINGNOANSWER",
            event.get("RingTime") or "0",
        )

    def _caller_abandon(self, event: AmiEvent) -> None:
        """app_queue posts QueueCallerAbandon for a caller who hung up *and* for one
        Queue() timed out; queue_log tells them apart, so the row waits for the
        QUEUESTATUS the application sets on its way out (or anything else)."""
        self._refresh(event)
        entry = self._entries.get(event.get("Uniqueid") or "")
        if entry is not None:
            entry.pending_exit = (self.now(), event)

    def _settle_exit(self, uniqueid: str, event: AmiEvent) -> None:
        entry = self._entries[uniqueid]
        if entry.pending_exit is None or event.name in ("QueueCallerLeave", "MusicOnHoldStop"):
            return
        if event.name == "VarSet" and event.get("Variable") != "QUEUESTATUS":
            return
        at, abandon = entry.pending_exit
        del self._entries[uniqueid]
        timeout = event.name == "VarSet" and (event.get("Variable"), event.get("Value")) == (
            "QUEUESTATUS",
            "TIMEOUT",
        )
        self._queue_log(
            uniqueid,
            abandon.get("Queue") or "",
            "NONE",
            "EXITWITHTIMEOUT" if timeout else "ABANDON",
            abandon.get("Position") or "",
            abandon.get("OriginalPosition") or "",
            abandon.get("HoldTime") or "0",
            at=at,
        )

    def _dtmf_end(self, event: AmiEvent) -> None:
        self._refresh(event)
        entry = self._entries.get(event.get("Uniqueid") or "")
        if entry is not None and event.get("Direction") == "Received":
            entry.key = event.get("Digit") or ""

    def _caller_leave(self, event: AmiEvent) -> None:
        """queue_exec's EXITWITHKEY (`key|position|origposition|waittime`), written as
        the caller leaves the queue after pressing a key of its context."""
        self._refresh(event)
        uniqueid = event.get("Uniqueid") or ""
        entry = self._entries.get(uniqueid)
        if entry is None or entry.connected or entry.pending_exit is not None:
            return
        del self._entries[uniqueid]
        self._queue_log(
            uniqueid,
            event.get("Queue") or entry.queue,
            "NONE",
            "EXITWITHKEY",
            entry.key,
            event.get("Position") or "",
            entry.position,
            str(int(self.now()) - int(entry.joined_at)),
        )

    def _member_added(self, event: AmiEvent) -> None:
        paused = "PAUSED" if event.get("Paused") == "1" else ""
        self._queue_log(
            "MANAGER", event.get("Queue") or "", event.get("MemberName") or "", "ADDMEMBER", paused
        )

    def _member_removed(self, event: AmiEvent) -> None:
        self._queue_log(
            "MANAGER", event.get("Queue") or "", event.get("MemberName") or "", "REMOVEMEMBER"
        )

    def _member_pause(self, event: AmiEvent) -> None:
        paused = event.get("Paused") == "1"
        self._queue_log(
            "NONE",
            event.get("Queue") or "",
            event.get("MemberName") or "",
            "PAUSE" if paused else "UNPAUSE",
            event.get("PausedReason") or "" if paused else "",
        )


def _bridge_extra(event: AmiEvent) -> str:
    return json.dumps(
        {
            "bridge_id": event.get("BridgeUniqueid") or "",
            "bridge_technology": event.get("BridgeTechnology") or "",
        },
        separators=(",", ":"),
    )


_HANDLERS: dict[str, Callable[[AsteriskLedger, AmiEvent], None]] = {
    "Newchannel": AsteriskLedger._newchannel,
    "Newstate": AsteriskLedger._newstate,
    "Newexten": AsteriskLedger._newexten,
    "DialEnd": AsteriskLedger._dial_end,
    "HangupRequest": AsteriskLedger._hangup_request,
    "SoftHangupRequest": AsteriskLedger._hangup_request,
    "BridgeEnter": AsteriskLedger._bridge_enter,
    "BridgeLeave": AsteriskLedger._bridge_leave,
    "Hangup": AsteriskLedger._hangup,
    "BridgeDestroy": AsteriskLedger._bridge_destroy,
    "QueueCallerJoin": AsteriskLedger._caller_join,
    "AgentConnect": AsteriskLedger._agent_connect,
    "AgentComplete": AsteriskLedger._agent_complete,
    "AgentRingNoAnswer": AsteriskLedger._ring_no_answer,
    "BlindTransfer": AsteriskLedger._blind_transfer,
    "AttendedTransfer": AsteriskLedger._attended_transfer,
    "QueueCallerAbandon": AsteriskLedger._caller_abandon,
    "QueueCallerLeave": AsteriskLedger._caller_leave,
    "DTMFEnd": AsteriskLedger._dtmf_end,
    "QueueMemberAdded": AsteriskLedger._member_added,
    "QueueMemberRemoved": AsteriskLedger._member_removed,
    "QueueMemberPause": AsteriskLedger._member_pause,
}


def _channel_or_na(event: AmiEvent, role: str) -> dict[str, str]:
    """cel.c's `<role>_channel_name` and `_uniqueid` of a transfer's extra from the
    event's `<Role>Channel` and `<Role>Uniqueid`; "N/A" for a channel it lacks."""
    prefix = "".join(part.capitalize() for part in role.split("_"))
    return {
        f"{role}_channel_name": event.get(f"{prefix}Channel") or "N/A",
        f"{role}_channel_uniqueid": event.get(f"{prefix}Uniqueid") or "N/A",
    }
