"""Call detail records as cdr_manager posts them (`Event: Cdr`, class `cdr`).

The record model follows what Asterisk 22's cdr.c was observed to post in the
transcripts, which differs from "one record per call":

* every channel that is *party A* gets a record from its creation; channels created to
  be dialed (queue members, `Dial()` targets) are party B and never get their own;
* the first dial of party A fills the open record's DestinationChannel; each further
  dial (retries, ringall siblings) forks a new record that starts when that dial began;
* a dial that is not answered closes its record at DialEnd (`NO ANSWER`, `BUSY`...);
  an answered one stays open until the bridge ends, then party A, if it carries on in
  the dialplan, starts a fresh record with an empty DestinationChannel;
* an open record follows the channel: Destination/DestinationContext, LastApplication
  and LastData are whatever the channel shows when the record is closed;
* records that were never answered are dropped (cdr.conf `unanswered = no`, the default);
* the records of a channel are posted when the channel hangs up, in creation order.

Times are local time, ``%Y-%m-%d %H:%M:%S``; Duration/BillableSeconds truncate the
millisecond difference like `ast_tvdiff_ms(...) / 1000`.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass

from pbxsim.channel import Channel
from pbxsim.events import EventBus, Fields

DIAL_DISPOSITION = {
    "ANSWER": "ANSWERED",
    "NOANSWER": "NO ANSWER",
    "CANCEL": "NO ANSWER",
    "BUSY": "BUSY",
    "CONGESTION": "CONGESTION",
    "CHANUNAVAIL": "FAILED",
}


def callerid_merge(name: str, num: str) -> str:
    """main/callerid.c `ast_callerid_merge` with an empty 'unknown' text."""
    if name and num:
        return f'"{name}" <{num}>'
    return name or num


def format_time(when: float | None) -> str:
    if when is None:
        return ""
    return _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(int(when)))


@dataclass(eq=False)
class CdrRecord:
    channel: Channel
    start: float
    answer: float | None = None
    end: float | None = None
    dest_channel: str = ""
    disposition: str = ""
    # frozen copies, filled when the record closes
    source: str = ""
    destination: str = ""
    dest_context: str = ""
    callerid: str = ""
    last_app: str = ""
    last_data: str = ""

    @property
    def closed(self) -> bool:
        return self.end is not None

    def close(self, now: float, last_app: str, last_data: str, disposition: str = "") -> None:
        if self.closed:
            return
        ch = self.channel
        self.end = now
        self.source = ch.caller_num
        self.destination = ch.exten
        self.dest_context = ch.context
        self.callerid = callerid_merge(ch.caller_name, ch.caller_num)
        self.last_app, self.last_data = last_app, last_data
        if disposition:
            self.disposition = disposition
        elif not self.disposition:
            self.disposition = "ANSWERED" if self.answer is not None else "NO ANSWER"

    def fields(self) -> Fields:
        assert self.end is not None
        billable = 0 if self.answer is None else int((self.end - self.answer) * 1000) // 1000
        return [
            ("AccountCode", self.channel.accountcode),
            ("Source", self.source),
            ("Destination", self.destination),
            ("DestinationContext", self.dest_context),
            ("CallerID", self.callerid),
            ("Channel", self.channel.name),
            ("DestinationChannel", self.dest_channel),
            ("LastApplication", self.last_app),
            ("LastData", self.last_data),
            ("StartTime", format_time(self.start)),
            ("AnswerTime", format_time(self.answer)),
            ("EndTime", format_time(self.end)),
            ("Duration", str(int((self.end - self.start) * 1000) // 1000)),
            ("BillableSeconds", str(billable)),
            ("Disposition", self.disposition),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", self.channel.uniqueid),
            ("UserField", ""),
        ]


class CdrEngine:
    """Keeps the records of every party-A channel and posts them at hangup."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._records: dict[str, list[CdrRecord]] = {}
        self._by_callee: dict[str, CdrRecord] = {}
        self._fork_pending: set[str] = set()
        self._dialed_pending: set[str] = set()

    def start(self, channel: Channel, now: float) -> None:
        self._records[channel.uniqueid] = [CdrRecord(channel, now)]

    def _open(self, channel: Channel) -> CdrRecord | None:
        records = self._records.get(channel.uniqueid)
        if records and not records[-1].closed:
            return records[-1]
        return None

    def answered(self, channel: Channel, now: float) -> None:
        record = self._open(channel)
        if record is not None and record.answer is None:
            record.answer = now

    def originated_app(self, channel: Channel) -> None:
        """An originated channel answered and runs an application where it is: its
        record waits (cdr.c's *dialed pending* state) and a Dial() it makes finishes it
        and starts the next (the callback legs of ledger/cdr.csv: 1 s, then the call)."""
        self._dialed_pending.add(channel.uniqueid)

    def dial_begin(
        self, caller: Channel, callee: Channel, now: float, app: tuple[str, str] = ("", "")
    ) -> None:
        records = self._records.get(caller.uniqueid)
        if records is None:
            return
        record = self._open(caller)
        if caller.uniqueid in self._dialed_pending and record is not None:
            self._dialed_pending.discard(caller.uniqueid)
            record.close(now, app[0], app[1], "ANSWERED" if record.answer else "")
            record = None
        if record is None or record.dest_channel:
            record = CdrRecord(caller, now, answer=now if caller.answered_at else None)
            records.append(record)
        record.dest_channel = callee.name
        self._by_callee[callee.uniqueid] = record

    def dial_end(
        self, caller: Channel, callee: Channel, status: str, now: float, app: tuple[str, str]
    ) -> None:
        record = self._by_callee.get(callee.uniqueid)
        if record is None or status == "ANSWER":
            return
        del self._by_callee[callee.uniqueid]
        record.close(now, app[0], app[1], DIAL_DISPOSITION.get(status, "FAILED"))

    def bridge_ended(self, caller: Channel, now: float, app: tuple[str, str]) -> None:
        """Party A left a bridge alive: the answered dial record is finished. A new
        record only starts if the channel goes on to run another application (ami.log
        scenario 3, option `c`); hanging up straight away adds none (ami-2.log)."""
        record = self._open(caller)
        if record is None or not record.dest_channel:
            return
        self._by_callee = {k: r for k, r in self._by_callee.items() if r is not record}
        record.close(now, app[0], app[1], "ANSWERED")
        self._fork_pending.add(caller.uniqueid)

    def app_started(self, channel: Channel, now: float) -> None:
        if channel.uniqueid in self._fork_pending:
            self._fork_pending.discard(channel.uniqueid)
            records = self._records.get(channel.uniqueid)
            if records is not None:
                records.append(CdrRecord(channel, now, answer=now))

    def hangup(self, channel: Channel, now: float, app: tuple[str, str]) -> None:
        self._fork_pending.discard(channel.uniqueid)
        self._dialed_pending.discard(channel.uniqueid)
        self._by_callee.pop(channel.uniqueid, None)  # a dialed channel going away
        records = self._records.pop(channel.uniqueid, None)
        if records is None:
            return
        for record in records:
            record.close(now, app[0], app[1])
            if record.answer is None:
                continue  # unanswered = no
            self._bus.emit("Cdr", "cdr", record.fields())
