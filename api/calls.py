"""Call records: `GET /api/v1/calls` (filters, cursor pagination), `/calls/{id}` (record
with timeline and its current intake, api/intake.py), `/calls/active` (calls in
progress, from the live model) and `/calls/export.csv` (streamed from a server-side
cursor, with the current intake's kind, unit and ticket).

Who may read: supervisors and integration tokens everything, an agent only the calls
their seat answered (another seat's call is a 404, as one that does not exist); admin
all. Which numbers each one sees is callcenter/privacy.py's: in a record, a
confidential call's (on request, and every report 举报) is masked for every role but
admin, here and in the export; in `/calls/active` (a live view) only admin and the
agent on the call see it whole. A `caller=` search never finds a confidential call for
a viewer who sees its number masked, and is throttled and audited
(api/caller_search.py).
`POST /calls/{id}/confidential` marks a call confidential on the caller's request: an
agent for a call of its own seat (during the call or after), a supervisor or admin for
any call. A call's id is `<node>:<Linkedid>`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.audit_log import AuditIfAny, audited_read
from api.auth import require_roles
from api.caller_search import audit_search
from api.city import City, Stamp, time_query, written
from api.intake_view import INTAKE_EXAMPLE, Intake, shown_intake
from api.pagination import Page, Paging, bad_query
from api.queue_names import queue_filter
from api.search_limits import CallerSearches
from api.services import (
    audit_log_if_any,
    call_facts,
    call_intake_if_any,
    call_records,
    caller_searches,
    live_state_if_any,
    record_writer,
)
from callcenter.audit.repository import AuditLog
from callcenter.legacy.queues import directory_name
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.privacy import Viewer, filter_reaches_confidential, live_caller, record_caller
from callcenter.records import query as q
from callcenter.records.facts import CallFacts, ConfidentialMarkFact
from callcenter.records.intake import SqlIntake
from callcenter.records.models import CallRecord
from callcenter.records.store import RecordStore, RecordWriter
from callcenter.spreadsheet import DEFAULT_ENCODING, Encoding, SpreadsheetCsv
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["calls"])
readers = require_roles(Role.SUPERVISOR, Role.INTEGRATION, Role.AGENT)
markers = require_roles(Role.SUPERVISOR, Role.AGENT)

_SUMMARY: dict[str, Any] = {
    "id": "pbx1:1764141243.2207",
    "node": "pbx1",
    "linkedid": "1764141243.2207",
    "started_at": "2026-11-26T09:14:03+08:00",
    "ended_at": "2026-11-26T09:19:41+08:00",
    "dialed": "057187001234",
    "unit": "HOUSING",
    "district": "市本级",
    "mode": "merge",
    "caller": "139****1111",
    "confidential": True,
    "queue": "housing",
    "queue_exit": "answered",
    "wait_s": 12.4,
    "queued_after_s": 14.2,
    "seat": "1004",
    "talk_s": 287.0,
    "wrapup_s": 30.0,
    "hangup_by": "caller",
    "disposition": "answered",
    "rating": 1,
    "direction": "inbound",
    "kind": "call",
    "callback_of": "",
    "source": "direct",
    "source_ref": "",
}
_DETAIL: dict[str, Any] = _SUMMARY | {
    "ivr_keys": "0",
    "prompts": ["hotline/welcome", "hotline/legacy-merged"],
    "queues": ["housing"],
    "rings": [
        {
            "seat": "1002",
            "interface": "PJSIP/1002",
            "at": 9.1,
            "ring_s": 15.0,
            "outcome": "no_answer",
        },
        {
            "seat": "1004",
            "interface": "PJSIP/1004",
            "at": 24.3,
            "ring_s": 2.1,
            "outcome": "answered",
        },
    ],
    "agent": "PJSIP/1004",
    "transfers": [],
    "fallback": False,
    "recording": "/var/spool/asterisk/monitor/1764141243.2207.wav",
    "timeline": [
        [0.0, "start", "057187001234"],
        [14.2, "queue_join", "housing"],
        [26.4, "answered", "1004"],
        [313.4, "end", "caller"],
    ],
    "callbacks": ["pbx1:1764141990.2301"],
    "original": None,
    "intake": INTAKE_EXAMPLE | {"summary": "", "summary_hidden": True},
}
_CALLBACK: dict[str, Any] = _DETAIL | {
    "id": "pbx1:1764141990.2301",
    "linkedid": "1764141990.2301",
    "started_at": "2026-11-26T09:26:30+08:00",
    "ended_at": "2026-11-26T09:28:02+08:00",
    "dialed": "13900001111",
    "unit": "",
    "district": "",
    "mode": "",
    "caller": "13900001111",
    "confidential": False,
    "queue": "",
    "queue_exit": "",
    "wait_s": None,
    "queued_after_s": None,
    "talk_s": 84.0,
    "wrapup_s": 0.0,
    "hangup_by": "called",
    "disposition": "reached",
    "rating": None,
    "direction": "outbound",
    "kind": "callback",
    "callback_of": "1764141243.2207",
    "source": "direct",
    "source_ref": "",
    "ivr_keys": "",
    "prompts": [],
    "queues": [],
    "rings": [],
    "recording": "",
    "timeline": [
        [0.0, "start", ""],
        [3.2, "callback_dial", "13900001111"],
        [7.9, "callback_result", "ANSWER"],
        [91.9, "end", "called"],
    ],
    "callbacks": [],
    "original": "pbx1:1764141243.2207",
    "intake": None,
}


class CallSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY]})

    id: str = Field(description="`<node>:<Linkedid>`")
    node: str
    linkedid: str
    started_at: Stamp
    ended_at: Stamp
    dialed: str = Field(description="the number dialed: 12345 or a legacy number")
    unit: str
    district: str
    mode: str = Field(description="legacy mode of the dialed number: merge | dock | retain")
    caller: str = Field(
        description="masked (139****1111) when confidential, except for admin; a `caller=` "
        "search finds a confidential call only for admin"
    )
    confidential: bool
    queue: str = Field(
        description="first queue joined, by its directory name; empty: never offered"
    )
    queue_exit: str = Field(
        description="answered | abandoned | timeout | left_empty | redirected | refused"
    )
    wait_s: float | None = Field(description="seconds waited in queues (Asterisk's hold time)")
    queued_after_s: float | None = Field(
        default=None,
        description="seconds from answer to queue entry (greeting and menus; null: never "
        "queued, or its answer was not seen)",
        examples=[14.2],
    )
    seat: str
    talk_s: float
    wrapup_s: float
    hangup_by: str
    disposition: str = Field(
        description="a call: answered | abandoned | ivr_only | transferred | "
        "callback_requested | fallback_routed; a callback (its outcome): reached | no_answer "
        "| busy | failed (`hangup_by` then says why: `cause <Q.850 cause>`, or `seat_missed` "
        "when the seat never dialed)"
    )
    rating: int | None = Field(description="1 满意, 2 基本满意, 3 不满意; null: not rated")
    direction: str = Field(
        description="inbound: a caller rang the hotline | outbound: the service placed it",
        examples=["inbound"],
    )
    kind: str = Field(
        description="call | callback (a callback of an abandoned caller: never offered, "
        "not counted in the call KPIs)",
        examples=["call"],
    )
    source: str = Field(
        default="direct",
        description="who handed the call over: direct (the caller dialed) | 110 (the 110 "
        "platform's hand-over: its number or trunk, CALLCENTER_FROM_110_*)",
        examples=["direct"],
    )
    source_ref: str = Field(
        default="",
        description="110's reference for its hand-over (its SIP header); '' for none. "
        "Not a caller's number: shown to whoever may read the call",
        examples=[""],
    )
    callback_of: str = Field(
        description="a callback's original call: the Linkedid of the abandoned call it "
        "answers; '' for a call",
        examples=["1764141243.2207"],
    )


class CallDetail(CallSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [_DETAIL, _CALLBACK]})

    ivr_keys: str
    prompts: list[str]
    queues: list[str] = Field(description="every queue joined, by its directory name")
    rings: list[dict[str, Any]] = Field(
        description="every ring attempt: seat, interface, at (s from start), ring_s, outcome "
        "(answered | no_answer | cancelled: another seat answered or the caller left the "
        "queue | caller_hung_up | dumped)"
    )
    agent: str
    transfers: list[dict[str, Any]] = Field(
        description="kind (redirect | agent | dial | blind | consult | conference), to, "
        "status (the target's DIALSTATUS); an agent's transfer legs (blind, consult, "
        "conference) also have state, started, answered, ended (seconds from the start) "
        "and left_by (api/transfers.py)"
    )
    fallback: bool = Field(description="the FastAGI did not route the call (dialplan fallback)")
    recording: str
    timeline: list[list[Any]] = Field(description="[seconds from start, what, detail]")
    callbacks: list[str] = Field(
        default_factory=list,
        description="the ids of the callback records placed for this call, oldest first",
    )
    original: str | None = Field(
        default=None,
        description="a callback's original call, as a call id (null: a call, or its "
        "record is not written)",
    )
    intake: Intake | None = Field(
        default=None,
        description="the agent's classification, its current version "
        "(`/calls/{id}/intake` has every one); null: not classified",
    )


class ActiveCall(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "pbx1:1764141580.2291",
                    "node": "pbx1",
                    "linkedid": "1764141580.2291",
                    "started_at": "2026-11-26T09:19:40+08:00",
                    "caller": "13958001234",
                    "dialed": "12345",
                    "unit": "",
                    "routed_queue": "general",
                    "queue": "general",
                    "seat": "",
                    "answered": False,
                }
            ]
        }
    )

    id: str
    node: str
    linkedid: str
    started_at: Stamp
    caller: str
    dialed: str
    unit: str = Field(description="the legacy unit the IVR routed the call to; '' for none")
    routed_queue: str = Field(
        description="the queue the dialplan routed the caller to, by its directory name "
        "('' before routing)"
    )
    queue: str | None = Field(description="the queue the caller waits in now (directory name)")
    seat: str
    answered: bool


class ConfidentialIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "来电人要求保密"}]}
    )

    reason: str = Field(
        min_length=1,
        max_length=200,
        description="why (kept with the mark, with who and when)",
    )


class ConfidentialOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "pbx1:1764141243.2207",
                    "confidential": True,
                    "in_progress": True,
                    "record_written": False,
                }
            ]
        }
    )

    id: str
    confidential: bool = Field(description="always true: a mark cannot be taken back")
    in_progress: bool = Field(description="the call is still going on")
    record_written: bool = Field(
        description="the record is in the database now (else the mark applies when it is)"
    )


def _summary_fields(record: CallRecord, principal: Principal) -> dict[str, Any]:
    data = {
        name: getattr(record, name)
        for name in CallSummary.model_fields
        if name not in ("id", "source", "source_ref")
    }
    data["id"] = f"{record.node}:{record.linkedid}"
    data["caller"] = record_caller(record.caller, record.confidential, Viewer.of(principal))
    data["queue"] = directory_name(record.queue)
    # the table's own `source` says who wrote the record (ami | ledger)
    data["source"] = record.call_source
    data["source_ref"] = record.call_source_ref
    return data


#: timeline entries whose detail is a queue (Asterisk's name in the record)
_QUEUE_EVENTS = frozenset({"queue_join", "queue_leave", "queue_abandon_event"})


def _timeline(timeline: list[list[Any]]) -> list[list[Any]]:
    """The record's timeline with its queues named as the API names them."""
    return [
        [*entry[:2], directory_name(str(entry[2])), *entry[3:]]
        if len(entry) > 2 and entry[1] in _QUEUE_EVENTS
        else entry
        for entry in timeline
    ]


def epoch(when: datetime) -> int:
    """Whole epoch seconds of a time read by api/city.py (aware)."""
    return int(when.timestamp())


def _filter(
    principal: Principal,
    start: datetime | None,
    end: datetime | None,
    caller: str | None,
    number: str | None,
    unit: str | None,
    queue: str | None,
    seat: str | None,
    disposition: str | None,
    source: str | None = None,
) -> q.CallFilter:
    if principal.role == Role.AGENT:
        if seat is not None and seat != principal.seat:
            raise HTTPException(403, f"an agent sees only the calls of seat {principal.seat!r}")
        if not principal.seat:
            raise HTTPException(403, "this agent token is bound to no seat")
        seat = principal.seat
    try:
        return q.CallFilter(
            start_epoch=epoch(start) if start else None,
            end_epoch=epoch(end) if end else None,
            caller=caller,
            number=number,
            unit=unit,
            queue=queue,
            seat=seat,
            disposition=disposition,
            source=source,
            caller_reaches_confidential=filter_reaches_confidential(Viewer.of(principal)),
        )
    except q.RecordQueryError as exc:
        raise HTTPException(422, str(exc)) from None


Principal_ = Annotated[Principal, Depends(readers)]
Records = Annotated[RecordStore, Depends(call_records)]
InProgress = Annotated[LiveState | None, Depends(live_state_if_any)]
Searches = Annotated[CallerSearches, Depends(caller_searches)]
Audit = Annotated[AuditLog | None, Depends(audit_log_if_any)]
SourceQuery = Annotated[
    str | None, Query(description="direct | 110: only the calls the 110 platform handed over")
]
Start = Annotated[datetime | None, time_query("start", "started at or after", "2026-12-02")]
End = Annotated[datetime | None, time_query("end", "started before", "2026-12-03T00:00:00+08:00")]


@router.get("/calls", response_model=Page[CallSummary], summary="Call records, newest first")
async def list_calls(
    request: Request,
    principal: Principal_,
    records: Records,
    city: City,
    searches: Searches,
    audit: Audit,
    start: Start,
    end: End,
    caller: str | None = None,
    number: Annotated[str | None, Query(description="the number dialed")] = None,
    unit: str | None = None,
    seat: str | None = None,
    disposition: str | None = None,
    source: SourceQuery = None,
    *,
    queue: Annotated[str | None, Depends(queue_filter)],
    page: Paging,
) -> Page[CallSummary]:
    where = _filter(principal, start, end, caller, number, unit, queue, seat, disposition, source)
    after = page.after(int, str, str)
    if caller is not None:
        searches.admit(principal)
    async with records.sessions() as session:
        try:
            rows = await q.page(session, where, after, page.fetch)  # type: ignore[arg-type]
        except q.RecordQueryError as exc:
            raise bad_query("cursor", str(exc)) from None
    shown = page.of(
        rows, q.record_key, lambda r: written(CallSummary, _summary_fields(r, principal), city)
    )
    if caller is not None:
        await audit_search(audit, request, caller, len(shown.items))
    return shown


@router.get("/calls/active", response_model=list[ActiveCall], summary="Calls in progress")
async def active_calls(principal: Principal_, live: InProgress, city: City) -> list[ActiveCall]:
    """From the live model of every node: an instance without a PBX link has none."""
    viewer = Viewer.of(principal)
    calls = [
        (node, call)
        for node, state in (live.nodes.items() if live is not None else ())
        for call in state.calls.values()
    ]
    out = []
    for node, call in sorted(calls, key=lambda item: item[1].started_at):
        if principal.role == Role.AGENT and call.seat != principal.seat:
            continue
        out.append(
            written(
                ActiveCall,
                {
                    "id": f"{node}:{call.linkedid}",
                    "node": node,
                    "linkedid": call.linkedid,
                    "started_at": call.started_at,
                    "caller": live_caller(call.caller_id_num, call.confidential, call.seat, viewer),
                    "dialed": call.dialed,
                    "unit": call.unit,
                    "routed_queue": directory_name(call.routed_queue),
                    "queue": None if call.queue is None else directory_name(call.queue),
                    "seat": call.seat,
                    "answered": call.answered_at is not None,
                },
                city,
            )
        )
    return out


def _in_progress(live: LiveState | None, node: str, linkedid: str) -> Call | None:
    state = live.nodes.get(node) if live is not None else None
    return state.calls.get(linkedid) if state is not None else None


@router.get(
    "/calls/export.csv",
    summary="Call records as CSV (streamed)",
    description="A file Excel opens right on a Chinese desktop: UTF-8 with a BOM (GB18030 "
    "or plain UTF-8 on request), a header row, CRLF line ends, numbers as numbers, times "
    "in city time with the offset, text that a spreadsheet would run as a formula "
    "neutralised with a leading `'`. After the record's columns, the call's current "
    "intake: `intake_kind`, `intake_unit`, `ticket`, `resolved_on_call` (empty: not "
    "classified).",
)
async def export_calls(
    request: Request,
    principal: Principal_,
    records: Records,
    city: City,
    searches: Searches,
    audit: Audit,
    start: Start,
    end: End,
    caller: str | None = None,
    number: str | None = None,
    unit: str | None = None,
    seat: str | None = None,
    disposition: str | None = None,
    encoding: Annotated[
        Encoding,
        Query(description="utf-8-sig: UTF-8 with a BOM (Excel); gb18030; utf-8: no BOM"),
    ] = DEFAULT_ENCODING,
    source: SourceQuery = None,
    *,
    queue: Annotated[str | None, Depends(queue_filter)],
) -> StreamingResponse:
    where = _filter(principal, start, end, caller, number, unit, queue, seat, disposition, source)
    if caller is not None:
        searches.admit(principal)
    viewer = Viewer.of(principal)
    caller_at = q.EXPORT_HEADER.index("caller")
    confidential_at = q.EXPORT_HEADER.index("confidential")
    queue_at = q.EXPORT_HEADER.index("queue")
    sheet = SpreadsheetCsv(encoding, city)

    async def chunks() -> AsyncIterator[list[list[Any]]]:
        sent = 0
        # the file is on its way before the rows are known: its confidential rows are
        # recorded once it ends (or is cut short), with how many were sent
        confidential = 0
        try:
            async with records.sessions() as session:
                async for chunk in q.stream_rows(session, where):
                    rows = [list(row) for row in chunk]
                    for values in rows:
                        confidential += bool(values[confidential_at])
                        values[caller_at] = record_caller(
                            str(values[caller_at]), bool(values[confidential_at]), viewer
                        )
                        values[queue_at] = directory_name(str(values[queue_at] or ""))
                    sent += len(rows)
                    yield rows
        finally:
            if caller is not None:
                await audit_search(audit, request, caller, sent)
            if confidential:
                with contextlib.suppress(HTTPException):  # logged; the file is gone
                    await audited_read(
                        audit,
                        request,
                        principal,
                        request.url.path,
                        f"export: {confidential} confidential call(s)",
                    )

    return StreamingResponse(
        sheet.stream(q.EXPORT_HEADER, chunks()),
        media_type=sheet.media_type,
        headers={"Content-Disposition": sheet.disposition("calls.csv")},
    )


def _call_key(call_id: str) -> tuple[str, str]:
    node, sep, linkedid = call_id.partition(":")
    if not sep or not node or not linkedid or "\x00" in call_id or len(call_id) > 120:
        raise HTTPException(422, f"call id: expected <node>:<Linkedid>, got {call_id!r}")
    if len(node) > 32 or len(linkedid) > 64:
        raise HTTPException(422, f"call id: node or Linkedid too long in {call_id!r}")
    return node, linkedid


def _none_of_theirs(principal: Principal, seat: str, missing: str) -> None:
    """An agent asking for another seat's call gets the answer for a call that does not
    exist (`missing`), so a call id cannot be probed for existence."""
    if principal.role == Role.AGENT and seat != principal.seat:
        raise HTTPException(404, missing)


@router.post(
    "/calls/{call_id}/confidential",
    response_model=ConfidentialOut,
    summary="Mark a call confidential (the caller's number is masked from then on)",
    description="One-way: admin sees numbers anyway, and a caller who asked for "
    "protection must not be exposed again by a later edit. Works during the call (the "
    "record is written masked) and after it. Marking twice keeps the first mark.",
)
async def mark_confidential(
    principal: Annotated[Principal, Depends(markers)],
    call_id: str,
    body: Annotated[ConfidentialIn, Body()],
    records: Records,
    live: InProgress,
    writer: Annotated[RecordWriter, Depends(record_writer)],
    facts: Annotated[CallFacts, Depends(call_facts)],
) -> ConfidentialOut:
    node, linkedid = _call_key(call_id)
    missing = f"no call {call_id!r} (in progress or recorded)"
    call = _in_progress(live, node, linkedid)
    if call is not None:
        _none_of_theirs(principal, call.seat, missing)
    else:
        record = await _written(records, writer, node, linkedid)
        if record is None:
            raise HTTPException(404, missing)
        _none_of_theirs(principal, record.seat, missing)
    # also masks the call in progress at once (/calls/active); its record is written so
    written = await facts.mark_confidential(
        ConfidentialMarkFact(node, linkedid, principal.name, body.reason, datetime.now(UTC))
    )
    return ConfidentialOut(
        id=f"{node}:{linkedid}",
        confidential=True,
        in_progress=call is not None,
        record_written=written,
    )


async def _written(
    records: RecordStore, writer: RecordWriter, node: str, linkedid: str
) -> CallRecord | None:
    """The record, if the call is over; a call that ended a moment ago may still be in
    the spool, so one flush is tried before saying it does not exist."""
    async with records.sessions() as session:
        record = await q.get(session, node, linkedid)
    if record is None:
        await writer.flush()
        async with records.sessions() as session:
            record = await q.get(session, node, linkedid)
    return record


@router.get("/calls/{call_id}", response_model=CallDetail, summary="One call with its timeline")
async def get_call(
    principal: Principal_,
    call_id: str,
    records: Records,
    city: City,
    request: Request,
    audit: AuditIfAny,
    intakes: Annotated[SqlIntake | None, Depends(call_intake_if_any)],
) -> CallDetail:
    node, linkedid = _call_key(call_id)
    async with records.sessions() as session:
        record = await q.get(session, node, linkedid)
    missing = f"no call record {call_id!r}"
    if record is None:
        raise HTTPException(404, missing)
    _none_of_theirs(principal, record.seat, missing)
    if record.confidential:
        await audited_read(audit, request, principal, request.url.path, "confidential call")
    data = _summary_fields(record, principal)
    async with records.sessions() as session:
        callbacks = await q.callbacks_of(session, linkedid)
        original = await q.original_of(session, record.callback_of) if record.callback_of else None
    data["callbacks"] = [f"{c.node}:{c.linkedid}" for c in callbacks]
    data["original"] = f"{original.node}:{original.linkedid}" if original is not None else None
    data["queues"] = [directory_name(name) for name in record.queues]
    data["timeline"] = _timeline(record.timeline)
    current = await intakes.current(node, linkedid) if intakes is not None else None
    data["intake"] = (
        shown_intake(current, record.confidential, record.seat, Viewer.of(principal), city)
        if current is not None
        else None
    )
    for name in CallDetail.model_fields:
        if name not in data:
            data[name] = getattr(record, name)
    return written(CallDetail, data, city)
