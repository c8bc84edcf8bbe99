"""One call as Asterisk's ledger tells it: read by window, set-based, and folded per
Linkedid into a `LedgerCall` (pure functions below the two reads).

What the ledger knows of a call, and where from:
- started/ended, caller, dialed number: CEL `CHAN_START` of the channel whose uniqueid
  is the Linkedid (the call's first channel; `exten` is the dialed number, since
  `cdr.dst` is `s` for every queued call) and CEL `LINKEDID_END`. A call without
  `LINKEDID_END` is still in progress: the live builder owns it.
- queue, wait, seat, talk and who hung up: queue_log rows whose callid is the Linkedid
  (`ENTERQUEUE`, `CONNECT` data1 hold / agent = MemberName / data2 the seat channel,
  `COMPLETECALLER`/`COMPLETEAGENT` data2 talk, `ABANDON` data3 and `EXITWITHTIMEOUT` /
  `EXITEMPTY` data3 hold); otherwise who hung up from the CEL `HANGUP` of the first
  channel (`hangupsource` the caller's own channel: the caller; empty: the PBX).
- time to queue: from the CEL `ANSWER` of the first channel (the dialplan's Answer()
  before the IVR) to its first `ENTERQUEUE`.
- a key pressed in the queue (`EXITWITHKEY`): the builder's rule (builder.py):
  `left_with_key` until the caller enters a queue again; the wait of such a stay runs
  from its first `ENTERQUEUE` to the `CONNECT` or exit row (the time out of the queue
  included), or to the `EXITWITHKEY` if it never comes back; a trunk leg of the call
  answered after the key (the emergency menu's Dial) makes it transferred.
- inbound or not: a call is inbound when its first channel started in the trunk's
  inbound context (`from-trunk` in the rendered dialplan) and is no Local channel. A
  callback starts at the seat (`from-seats`) or on a Local channel: those Linkedids
  are listed as outbound and never become inbound records.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.records import transfer_legs as legs
from callcenter.records.ledger import CEL, QUEUE_LOG, ledger_time, naive_utc
from callcenter.records.ledger_legs import add_legs

INBOUND_CONTEXT = "from-trunk"
CEL_EVENTS = (
    "CHAN_START",
    "ANSWER",
    "HANGUP",
    "LINKEDID_END",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
)
ABANDONED = "abandoned"
#: queue_log exits app_queue classifies itself -> the builder's queue_exit
EXITS = {"ABANDON": ABANDONED, "EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "left_empty"}
TRANSFERS = ("BLINDTRANSFER", "ATTENDEDTRANSFER")


@dataclass(frozen=True, slots=True)
class CelRow:
    eventtype: str
    eventtime: datetime
    cid_num: str
    exten: str
    context: str
    channame: str
    uniqueid: str
    linkedid: str
    extra: str


@dataclass(frozen=True, slots=True)
class QueueRow:
    time: datetime
    callid: str
    queuename: str
    agent: str
    event: str
    data1: str
    data2: str
    data3: str


@dataclass
class LedgerCall:
    linkedid: str
    started_at: datetime
    ended_at: datetime | None  # None: no LINKEDID_END yet (in progress)
    inbound: bool
    channel: str  # the first channel's name
    caller: str
    dialed: str
    queues: list[str] = field(default_factory=list)
    queue_exit: str = ""
    wait_s: float | None = None  # None: never queued
    up_at: datetime | None = None  # the first channel's CEL ANSWER
    queued_after_s: float | None = None  # ANSWER -> first ENTERQUEUE
    agent: str = ""  # the answering member's interface
    seat: str = ""  # its MemberName
    answered_at: datetime | None = None
    talk_s: float | None = None  # None: the ledger does not say
    hangup_by: str = ""
    transferred: bool = False
    #: when the caller left a queue with a key, until it enters one again
    key_exit_at: datetime | None = None
    #: a stay in the queue (an entry and the returns after keys): its first ENTERQUEUE,
    #: the wait before it, and whether a key interrupted it (builder.py's rule)
    stay_from: datetime | None = None
    stay_base: float = 0.0
    keyed: bool = False
    timeline: list[list[Any]] = field(default_factory=list)
    #: the legs of the transfers an agent started (transfer_legs.py), as far as the
    #: ledger tells them (ledger_legs.py)
    transfers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """The PJSIP endpoint the call came in on: chan_pjsip names a channel
        `PJSIP/<endpoint>-<sequence>`; "" for another technology."""
        tech, _, rest = self.channel.partition("/")
        return rest.rsplit("-", 1)[0] if tech.upper() == "PJSIP" and "-" in rest else ""

    @property
    def disposition(self) -> str:
        """The builder's disposition rule (builder.disposition_of) on the ledger's facts."""
        if self.transferred or any(legs.transferred(leg) for leg in self.transfers):
            return "transferred"
        if self.answered_at is not None:
            return "answered"
        if self.queue_exit == ABANDONED:
            return ABANDONED
        if self.queue_exit in ("timeout", "left_empty"):
            return "fallback_routed"
        if self.queues:
            return ABANDONED
        return "ivr_only"


async def read_window(
    session: AsyncSession, window_from: datetime, window_to: datetime
) -> tuple[list[CelRow], list[QueueRow]]:
    """The CEL and queue_log rows of every call whose first channel started in
    [window_from, window_to): two set-based reads, whatever the number of calls."""
    roots = (
        select(CEL.c.linkedid)
        .where(CEL.c.eventtype == "CHAN_START")
        .where(CEL.c.uniqueid == CEL.c.linkedid)
        .where(CEL.c.eventtime >= naive_utc(window_from))
        .where(CEL.c.eventtime < naive_utc(window_to))
    )
    cel = await session.execute(
        select(
            CEL.c.eventtype,
            CEL.c.eventtime,
            CEL.c.cid_num,
            CEL.c.exten,
            CEL.c.context,
            CEL.c.channame,
            CEL.c.uniqueid,
            CEL.c.linkedid,
            CEL.c.extra,
        )
        .where(CEL.c.linkedid.in_(roots))
        .where(CEL.c.eventtype.in_(CEL_EVENTS))
        .order_by(CEL.c.id)
    )
    queue = await session.execute(
        select(
            QUEUE_LOG.c.time,
            QUEUE_LOG.c.callid,
            QUEUE_LOG.c.queuename,
            QUEUE_LOG.c.agent,
            QUEUE_LOG.c.event,
            QUEUE_LOG.c.data1,
            QUEUE_LOG.c.data2,
            QUEUE_LOG.c.data3,
        )
        .where(QUEUE_LOG.c.callid.in_(roots))
        .order_by(QUEUE_LOG.c.id)
    )
    cel_rows = [CelRow(_text(r[0]), r[1], *(_text(v) for v in r[2:])) for r in cel]
    queue_rows = [QueueRow(r[0], *(_text(v) for v in r[1:])) for r in queue]
    return cel_rows, queue_rows


async def root_ids(session: AsyncSession, window_from: datetime, window_to: datetime) -> set[str]:
    """The Linkedids of every call (any direction) whose first channel started in the
    window: what the ledger has at all, to tell a record the ledger never saw."""
    result = await session.execute(
        select(CEL.c.linkedid)
        .where(CEL.c.eventtype == "CHAN_START")
        .where(CEL.c.uniqueid == CEL.c.linkedid)
        .where(CEL.c.eventtime >= naive_utc(window_from))
        .where(CEL.c.eventtime < naive_utc(window_to))
    )
    return {str(linkedid) for linkedid in result.scalars()}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def member_interface(channel: str) -> str:
    """`PJSIP/1005-00000020` -> `PJSIP/1005`; `Local/1005@agents-0000001a;1` ->
    `Local/1005@agents`: the queue member's interface a channel was dialed from."""
    name = channel.split(";", 1)[0]
    head, sep, _ = name.rpartition("-")
    return head if sep else name


def build_calls(
    cel: Iterable[CelRow], queue: Iterable[QueueRow], inbound_context: str = INBOUND_CONTEXT
) -> list[LedgerCall]:
    """Fold the rows into one `LedgerCall` per Linkedid (those with their first
    channel's CHAN_START), in start order."""
    by_call: dict[str, list[CelRow]] = defaultdict(list)
    for row in cel:
        by_call[row.linkedid].append(row)
    queue_by_call: dict[str, list[QueueRow]] = defaultdict(list)
    for qrow in queue:
        queue_by_call[qrow.callid].append(qrow)
    calls = []
    for linkedid, rows in by_call.items():
        call = _fold(linkedid, rows, queue_by_call.get(linkedid, ()), inbound_context)
        if call is not None:
            calls.append(call)
    calls.sort(key=lambda c: (c.started_at, c.linkedid))
    add_legs(calls, by_call)
    return calls


def _fold(
    linkedid: str, rows: Sequence[CelRow], queue: Iterable[QueueRow], inbound_context: str
) -> LedgerCall | None:
    root = next((r for r in rows if r.eventtype == "CHAN_START" and r.uniqueid == linkedid), None)
    if root is None:
        return None
    started = ledger_time(root.eventtime)
    end = next((r for r in rows if r.eventtype == "LINKEDID_END"), None)
    call = LedgerCall(
        linkedid=linkedid,
        started_at=started,
        ended_at=ledger_time(end.eventtime) if end else None,
        inbound=root.context == inbound_context and not root.channame.startswith("Local/"),
        channel=root.channame,
        caller=root.cid_num,
        dialed=root.exten,
    )
    call.timeline.append([0.0, "start", call.dialed])
    up = next((r for r in rows if r.eventtype == "ANSWER" and r.uniqueid == linkedid), None)
    call.up_at = ledger_time(up.eventtime) if up else None
    channels = {r.uniqueid: r.channame for r in rows if r.eventtype == "CHAN_START"}
    for qrow in queue:
        _apply_queue(call, qrow, channels)
    if call.key_exit_at is not None and _trunk_leg_answered(call, rows, call.key_exit_at):
        call.transferred = True
    if not call.hangup_by:
        call.hangup_by = _hangup_by(call, rows)
    if call.ended_at is not None:
        call.timeline.append([_at(call, call.ended_at), "end", call.hangup_by])
    return call


def _at(call: LedgerCall, when: datetime) -> float:
    return round((when - call.started_at).total_seconds(), 3)


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _apply_queue(call: LedgerCall, row: QueueRow, channels: dict[str, str]) -> None:
    at = _at(call, ledger_time(row.time))
    if row.event == "ENTERQUEUE":
        if call.key_exit_at is not None:  # back after a key: the same stay goes on
            call.key_exit_at = None
            call.queue_exit = ""
        else:
            call.stay_from, call.stay_base = ledger_time(row.time), call.wait_s or 0.0
            call.keyed = False
        if not call.queues and call.up_at is not None:
            waited = (ledger_time(row.time) - call.up_at).total_seconds()
            call.queued_after_s = round(max(0.0, waited), 3)
        if not call.queues or call.queues[-1] != row.queuename:
            call.queues.append(row.queuename)
        call.timeline.append([at, "queue_join", row.queuename])
    elif row.event == "CONNECT":
        if call.keyed:
            _stay_wait(call, ledger_time(row.time))
        else:
            call.wait_s = (call.wait_s or 0.0) + _seconds(row.data1)
        call.seat = row.agent
        call.agent = member_interface(channels.get(row.data2, ""))
        call.answered_at = ledger_time(row.time)
        call.queue_exit = "answered"
        call.timeline.append([at, "answered", row.agent])
    elif row.event in ("COMPLETECALLER", "COMPLETEAGENT"):
        call.talk_s = (call.talk_s or 0.0) + _seconds(row.data2)
        call.hangup_by = "caller" if row.event == "COMPLETECALLER" else "agent"
        call.timeline.append([at, "agent_done", call.hangup_by])
    elif row.event in EXITS:
        if call.keyed:
            _stay_wait(call, ledger_time(row.time))
        else:
            call.wait_s = (call.wait_s or 0.0) + _seconds(row.data3)
        call.queue_exit = EXITS[row.event]
        call.hangup_by = "caller" if row.event == "ABANDON" else "pbx"
        call.timeline.append([at, "queue_exit", call.queue_exit])
    elif row.event == "EXITWITHKEY":
        call.queue_exit = "left_with_key"
        call.key_exit_at = ledger_time(row.time)
        call.keyed = True
        _stay_wait(call, call.key_exit_at)
        call.timeline.append([at, "queue_exit", call.queue_exit])
    elif row.event in TRANSFERS:
        # a blind transfer is logged when it starts: whether it reached anyone is its
        # leg's (ledger_legs.py); an attended one only once it is done
        call.transferred = call.transferred or row.event == "ATTENDEDTRANSFER"
        call.hangup_by = "transfer"
        call.timeline.append([at, "agent_done", "transfer"])


def _stay_wait(call: LedgerCall, until: datetime) -> None:
    """The wait of a stay a key interrupted: from its first entry to `until`."""
    start = call.stay_from if call.stay_from is not None else until
    call.wait_s = round(call.stay_base + max(0.0, (until - start).total_seconds()), 3)


def _trunk_leg_answered(call: LedgerCall, rows: Sequence[CelRow], since: datetime) -> bool:
    """A channel of the call on the caller's own endpoint (the trunk), other than the
    caller's, answered at or after `since`: the dialplan dialed out for the caller."""
    trunk = member_interface(call.channel)
    return any(
        r.eventtype == "ANSWER"
        and r.uniqueid != call.linkedid
        and member_interface(r.channame) == trunk
        and ledger_time(r.eventtime) >= since
        for r in rows
    )


def _hangup_by(call: LedgerCall, rows: Sequence[CelRow]) -> str:
    """Who hung up a call app_queue did not close: the CEL HANGUP of its first channel
    names the channel that hung up (`hangupsource`)."""
    hangup = next(
        (r for r in rows if r.eventtype == "HANGUP" and r.uniqueid == call.linkedid), None
    )
    if hangup is None:
        return ""
    try:
        extra = json.loads(hangup.extra or "{}")
    except ValueError:
        return ""
    source = str(extra.get("hangupsource") or "")
    if not source:
        return "pbx"
    return "caller" if source == call.channel else "agent"
