"""The transfer legs of a call as Asterisk's ledger tells them (transfer_legs.py says
what a leg is; the record builder writes them from AMI events). From CEL:

* blind -- the `BLINDTRANSFER` row (on the seat's channel; `extra.extension` is the
  target) starts it; the next channel of the call that is neither the caller's nor the
  seat's is the target's line: its `ANSWER` makes the leg completed, its `HANGUP` ends
  it (no answer: failed).
* consult -- the `CHAN_START` of `Local/<to>@hotline-transfer-targets-…;1` starts it,
  its `ANSWER` (the target answered the seat) makes it talking, an `ATTENDEDTRANSFER`
  row completes it, its `HANGUP` ends it (returned if it was answered, else failed).
* conference -- the target's leg is a Linkedid of its own whose first channel is
  `Local/<the call's Linkedid>@hotline-conference-target-…;1`: its `CHAN_START` starts
  the leg, its `ANSWER` is the target's, its `HANGUP` ends it; the target's number is
  the `;2`'s last extension (it ran `<to>@hotline-transfer-targets`). Who left first is
  whose `HANGUP` comes first (CEL row order) of the seat's channel, the caller's and
  the target's `;1`: the agent (state left), else the conference ran to its end.

What the ledger cannot tell: the DIALSTATUS of a target that did not answer (CEL has
the dialer's, which for a consultation is the Local channel's, not the seat's) -- a
leg's `status` is "ANSWER" or empty here -- and times finer than CEL's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from callcenter.records import transfer_legs as legs
from callcenter.records.ledger import ledger_time


class CelRow(Protocol):
    """The CEL columns read here (ledger_calls.CelRow)."""

    @property
    def eventtype(self) -> str: ...
    @property
    def eventtime(self) -> datetime: ...
    @property
    def exten(self) -> str: ...
    @property
    def context(self) -> str: ...
    @property
    def channame(self) -> str: ...
    @property
    def uniqueid(self) -> str: ...
    @property
    def extra(self) -> str: ...


class LedgerCall(Protocol):
    """What a folded call (ledger_calls.LedgerCall) offers the legs."""

    linkedid: str
    started_at: datetime
    ended_at: datetime | None
    agent: str
    transfers: list[dict[str, Any]]


def add_legs(calls: Sequence[LedgerCall], by_call: Mapping[str, Sequence[CelRow]]) -> None:
    """Fill each call's `transfers` (calls folded from `by_call`, rows in CEL order)."""
    by_id = {call.linkedid: call for call in calls}
    for call in calls:
        rows = by_call.get(call.linkedid, ())
        call.transfers.extend(_blind(call, rows))
        call.transfers.extend(_consult(call, rows))
        call.transfers.sort(key=lambda leg: leg["started"])
    for linkedid, rows in by_call.items():
        root = next(
            (r for r in rows if r.eventtype == "CHAN_START" and r.uniqueid == linkedid), None
        )
        parent = legs.parent_of(root.channame) if root is not None else None
        if root is None or parent is None or parent not in by_id:
            continue
        call = by_id[parent]
        call.transfers.append(_conference(call, rows, by_call.get(parent, ()), root))
        call.transfers.sort(key=lambda leg: leg["started"])


def _at(call: LedgerCall, row: CelRow) -> float:
    return round((ledger_time(row.eventtime) - call.started_at).total_seconds(), 3)


def _first(rows: Sequence[CelRow], kind: str, uniqueid: str) -> CelRow | None:
    return next((r for r in rows if r.eventtype == kind and r.uniqueid == uniqueid), None)


def _seat(call: LedgerCall, channame: str) -> bool:
    return bool(call.agent) and channame.startswith(call.agent + "-")


def _blind(call: LedgerCall, rows: Sequence[CelRow]) -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(rows):
        if row.eventtype != "BLINDTRANSFER":
            continue
        try:
            extra = json.loads(row.extra or "{}")
        except ValueError:
            extra = {}
        leg = legs.new_leg("blind", str(extra.get("extension") or ""), _at(call, row))
        target = next(
            (
                r
                for r in rows[i + 1 :]
                if r.eventtype == "CHAN_START"
                and r.uniqueid != call.linkedid
                and not _seat(call, r.channame)
            ),
            None,
        )
        if target is not None:
            answer = _first(rows, "ANSWER", target.uniqueid)
            if answer is not None:
                leg["answered"], leg["status"], leg["state"] = (
                    _at(call, answer),
                    "ANSWER",
                    "completed",
                )
            hangup = _first(rows, "HANGUP", target.uniqueid)
            if hangup is not None:
                leg["ended"] = _at(call, hangup)
        if leg["state"] == "dialing" and call.ended_at is not None:
            leg["state"] = "failed"
        out.append(leg)
    return out


def _consult(call: LedgerCall, rows: Sequence[CelRow]) -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(rows):
        target = legs.consult_target(row.channame) if row.eventtype == "CHAN_START" else None
        if target is None:
            continue
        leg = legs.new_leg("consult", target[0], _at(call, row))
        answer = _first(rows, "ANSWER", row.uniqueid)
        if answer is not None:
            leg["answered"], leg["status"], leg["state"] = _at(call, answer), "ANSWER", "talking"
        hangup = _first(rows, "HANGUP", row.uniqueid)
        later = rows[i + 1 :]
        done = next((r for r in later if r.eventtype == "ATTENDEDTRANSFER"), None)
        if done is not None and (hangup is None or rows.index(done) < rows.index(hangup)):
            leg["state"] = "completed"
        elif hangup is not None:
            leg["state"] = "returned" if answer is not None else "failed"
        if hangup is not None:
            leg["ended"] = _at(call, hangup)
        out.append(leg)
    return out


def _conference(
    call: LedgerCall, rows: Sequence[CelRow], parent_rows: Sequence[CelRow], root: CelRow
) -> dict[str, Any]:
    leg = legs.new_leg("conference", "", _at(call, root))
    for row in rows:
        if row.eventtype == "HANGUP" and row.context == legs.TARGETS_CONTEXT:
            leg["to"] = row.exten  # the `;2` ran <to>@hotline-transfer-targets
    answer = _first(rows, "ANSWER", root.uniqueid)
    target_gone = _first(rows, "HANGUP", root.uniqueid)
    if answer is not None:
        leg["answered"], leg["status"], leg["state"] = _at(call, answer), "ANSWER", "conference"
    if target_gone is not None:
        leg["ended"] = _at(call, target_gone)
    if answer is None:
        leg["state"] = "failed" if target_gone is not None or call.ended_at else "dialing"
        return leg
    # who left first: by time, ties broken by the parent's own row order
    started = ledger_time(root.eventtime)
    gone: list[tuple[Any, int, str]] = []
    for i, row in enumerate(parent_rows):
        if row.eventtype != "HANGUP" or ledger_time(row.eventtime) < started:
            continue
        if row.uniqueid == call.linkedid:
            gone.append((ledger_time(row.eventtime), i, "caller"))
        elif _seat(call, row.channame):
            gone.append((ledger_time(row.eventtime), i, "agent"))
    if target_gone is not None:
        gone.append((ledger_time(target_gone.eventtime), len(parent_rows), "target"))
    if gone:
        leg["left_by"] = min(gone)[2]
        if leg["left_by"] == "agent":
            leg["state"] = "left"
    return leg
