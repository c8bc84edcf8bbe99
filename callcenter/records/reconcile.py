"""The reconciler: every inbound call in Asterisk's ledger has exactly one record, and
the record agrees with the ledger on what the ledger knows.

The live builder (builder.py) sees calls through AMI; it misses calls taken while the
service was down and half-knows calls it was following when it crashed. A run reads
one window of one node's ledger (ledger_calls.py) and the node's records for it, then:
- a finished inbound call with no record is rebuilt from the ledger alone and written
  through the records' store (so ratings, callback requests and marks still apply),
  `source = 'ledger'`;
- a record that disagrees on dialed number, unit, queue, seat/member, wait or talk
  (beyond 1 s), who hung up or disposition is corrected field by field (one log line
  per field, both values); rings, keys, prompts, the time to queue and the timeline are
  kept (a rebuilt record takes its time to queue from the ledger: CEL ANSWER to the
  first ENTERQUEUE);
- a rebuilt record's `call_source` is the 110 hand-over rule (callcenter/from110.py)
  applied to the ledger's dialed number and first channel's endpoint; 110's reference
  is not in the ledger (it lives in a channel variable, which neither CDR nor the CEL
  events read here carry), so a rebuilt record has none. A record's source is never
  corrected: the live record saw the rule the dialplan ran at the time of the call;
- calls without `LINKEDID_END` are in progress (the live builder's), outbound legs
  (callbacks) are listed for the callback records and never written as inbound calls;
- a record of the window whose Linkedid the ledger does not know at all is
  `unexplained` (nothing here can say what it is).

The ledger has no node column: one reconciler runs per node, on the ledger that node's
Asterisk writes. Every run is stored (`reconciliation_runs`), dry runs and failures
too; the next scheduled run starts at the last completed window's end minus an overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.from110 import DIRECT, SOURCE_110, From110
from callcenter.records.builder import FinishedCall
from callcenter.records.ledger_calls import (
    INBOUND_CONTEXT,
    LedgerCall,
    build_calls,
    read_window,
    root_ids,
)
from callcenter.records.models import CallRecord, ReconciliationRun
from callcenter.records.store import UNANSWERED, DialedUnitLookup, RecordStore

log = logging.getLogger(__name__)

#: a record's start may differ from the ledger's first CHAN_START by the builder's
#: delay; records are read this much around the window
RECORD_SLACK = timedelta(minutes=5)
TOLERANCE_S = 1.0
#: calls looked up by Linkedid per statement (bound-parameter limits)
CHUNK = 2000
COMPARED = (
    CallRecord.linkedid,
    CallRecord.start_epoch,
    CallRecord.dialed,
    CallRecord.unit,
    CallRecord.queue,
    CallRecord.queues,
    CallRecord.agent,
    CallRecord.seat,
    CallRecord.wait_s,
    CallRecord.talk_s,
    CallRecord.hangup_by,
    CallRecord.disposition,
)


@dataclass(frozen=True, slots=True)
class Correction:
    linkedid: str
    field: str
    record: Any
    ledger: Any


@dataclass
class ReconcileReport:
    node: str
    window_from: datetime
    window_to: datetime
    dry_run: bool
    run_id: int | None = None
    ledger_calls: int = 0  # finished inbound calls in the ledger
    records: int = 0  # of those, with a record before this run
    rebuilt: list[str] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    outbound: list[str] = field(default_factory=list)  # callback legs: not inbound calls
    error: str = ""

    @property
    def corrected(self) -> int:
        """Records corrected (a record with three wrong fields counts once)."""
        return len({c.linkedid for c in self.corrections})

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "node": self.node,
            "window_from": self.window_from.isoformat(),
            "window_to": self.window_to.isoformat(),
            "dry_run": self.dry_run,
            "ledger_calls": self.ledger_calls,
            "records": self.records,
            "rebuilt": self.rebuilt,
            "corrected": self.corrected,
            "corrections": [
                {"linkedid": c.linkedid, "field": c.field, "record": c.record, "ledger": c.ledger}
                for c in self.corrections
            ],
            "unexplained": self.unexplained,
            "in_progress": self.in_progress,
            "outbound": self.outbound,
            "error": self.error,
        }


def _differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is not b
    return abs(a - b) > TOLERANCE_S


def compare(
    record: dict[str, Any], call: LedgerCall, route: DialedUnitLookup
) -> tuple[list[Correction], dict[str, Any]]:
    """What the record gets wrong that the ledger knows, and the values to write."""
    out: list[Correction] = []
    values: dict[str, Any] = {}

    def fix(name: str, ledger: Any, **also: Any) -> None:
        out.append(Correction(call.linkedid, name, record[name], ledger))
        values[name] = ledger
        values.update(also)

    if call.dialed and record["dialed"] != call.dialed[:40]:
        fix("dialed", call.dialed[:40])
    unit = route(call.dialed) if call.dialed else None
    if unit is not None and record["unit"] != unit.unit:
        fix("unit", unit.unit, district=unit.district, mode=unit.mode)
    if call.queues and record["queue"] != call.queues[0]:
        fix("queue", call.queues[0], **({} if record["queues"] else {"queues": call.queues}))
    if call.seat and record["seat"] != call.seat:
        fix("seat", call.seat)
    if call.agent and record["agent"] != call.agent:
        fix("agent", call.agent)
    if call.queues and _differs(record["wait_s"], call.wait_s):
        fix("wait_s", call.wait_s)
    if call.talk_s is not None and _differs(record["talk_s"], call.talk_s):
        fix("talk_s", call.talk_s)
    # a transfer the dialplan dialed is in the record, never in queue_log
    if call.hangup_by and record["hangup_by"] not in (call.hangup_by, "transfer"):
        fix("hangup_by", call.hangup_by)
    if not _same_disposition(record["disposition"], call.disposition):
        fix("disposition", call.disposition)
    return out, values


def _same_disposition(record: str, ledger: str) -> bool:
    if record == ledger:
        return True
    if record == "callback_requested":  # the store's, from the callback request fact
        return ledger in UNANSWERED
    return record == "transferred" and ledger == "answered"


def rebuild(node: str, call: LedgerCall, from_110: From110 | None = None) -> FinishedCall:
    """A record from the ledger alone (the store adds the unit and the stored facts);
    `from_110`: which calls are the 110 platform's hand-overs (none when not given)."""
    assert call.ended_at is not None
    handed = from_110 is not None and from_110.matches(call.dialed, call.endpoint)
    return FinishedCall(
        node=node,
        linkedid=call.linkedid,
        started_at=call.started_at.timestamp(),
        ended_at=call.ended_at.timestamp(),
        caller=call.caller,
        dialed=call.dialed,
        unit="",
        confidential=False,
        ivr_keys="",
        prompts=[],
        queues=list(call.queues),
        queue_exit=call.queue_exit,
        wait_s=call.wait_s,
        rings=[],
        agent=call.agent,
        seat=call.seat,
        talk_s=call.talk_s or 0.0,
        wrapup_s=0.0,
        transfers=list(call.transfers),
        hangup_by=call.hangup_by,
        disposition=call.disposition,
        fallback=False,
        recording="",
        timeline=call.timeline,
        queued_after_s=call.queued_after_s,
        call_source=SOURCE_110 if handed else DIRECT,
    )


class Reconciler:
    """Runs reconciliations of one node, one at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: RecordStore,
        node: str,
        clock: Callable[[], datetime],
        overlap: timedelta = timedelta(minutes=10),
        first_lookback: timedelta = timedelta(days=1),
        inbound_context: str = INBOUND_CONTEXT,
        from_110: From110 | None = None,
    ) -> None:
        self.sessions = sessions
        self.from_110 = from_110
        self.store = store
        self.node = node
        self.clock = clock
        self.overlap = overlap
        self.first_lookback = first_lookback
        self.inbound_context = inbound_context
        self._one_at_a_time = asyncio.Lock()
        self.runs = 0
        self.failures = 0
        self.rebuilt = 0
        self.corrected_fields = 0
        self.unexplained = 0
        self.last: ReconcileReport | None = None

    async def next_window_from(self) -> datetime:
        """The last completed (not dry) run's end minus the overlap; a day back at first."""
        async with self.sessions() as session:
            last = await session.scalar(
                select(ReconciliationRun.window_to)
                .where(ReconciliationRun.node == self.node)
                .where(ReconciliationRun.finished_at.is_not(None))
                .where(ReconciliationRun.error == "")
                .where(ReconciliationRun.dry_run.is_(False))
                .order_by(ReconciliationRun.window_to.desc())
                .limit(1)
            )
        now = self.clock()
        if last is None:
            return now - self.first_lookback
        return _aware(last) - self.overlap

    async def run_since_last(self) -> ReconcileReport:
        """The scheduled run: from where the last one ended (minus the overlap) to now."""
        async with self._one_at_a_time:
            return await self._run(await self.next_window_from(), self.clock(), False)

    async def run(
        self, window_from: datetime, window_to: datetime, dry_run: bool = False
    ) -> ReconcileReport:
        async with self._one_at_a_time:
            return await self._run(window_from, window_to, dry_run)

    async def _run(
        self, window_from: datetime, window_to: datetime, dry_run: bool
    ) -> ReconcileReport:
        report = ReconcileReport(self.node, window_from, window_to, dry_run)
        report.run_id = await self._start(report)
        self.runs += 1
        try:
            await self._reconcile(report)
        except Exception as exc:  # stored and reported; the next run tries again
            self.failures += 1
            report.error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("reconciliation of %s failed", self.node)
        if not dry_run:
            self.rebuilt += len(report.rebuilt)
            self.corrected_fields += len(report.corrections)
        self.unexplained += len(report.unexplained)
        await self._finish(report)
        self.last = report
        return report

    async def _start(self, report: ReconcileReport) -> int:
        async with self.sessions() as session, session.begin():
            run = ReconciliationRun(
                node=self.node,
                started_at=self.clock(),
                window_from=report.window_from,
                window_to=report.window_to,
                ledger_calls=0,
                records=0,
                rebuilt=0,
                corrected=0,
                unexplained=0,
                in_progress=0,
                dry_run=report.dry_run,
                error="",
            )
            session.add(run)
            await session.flush()
            return run.id

    async def _finish(self, report: ReconcileReport) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(ReconciliationRun)
                .where(ReconciliationRun.id == report.run_id)
                .values(
                    finished_at=self.clock(),
                    ledger_calls=report.ledger_calls,
                    records=report.records,
                    rebuilt=len(report.rebuilt),
                    corrected=report.corrected,
                    unexplained=len(report.unexplained),
                    in_progress=len(report.in_progress),
                    error=report.error,
                )
            )

    async def _reconcile(self, report: ReconcileReport) -> None:
        window_from, window_to = report.window_from, report.window_to
        async with self.sessions() as session:
            cel, queue = await read_window(session, window_from, window_to)
            known = await root_ids(session, window_from - RECORD_SLACK, window_to + RECORD_SLACK)
            records = await self._records_by_window(session, window_from, window_to)
            calls = build_calls(cel, queue, self.inbound_context)
            inbound = []
            for call in calls:
                if not call.inbound:
                    report.outbound.append(call.linkedid)
                elif call.ended_at is None:
                    report.in_progress.append(call.linkedid)
                else:
                    inbound.append(call)
            missing = [c.linkedid for c in inbound if c.linkedid not in records]
            records.update(await self._records_by_id(session, missing))
        report.ledger_calls = len(inbound)
        start, end = int(window_from.timestamp()), int(window_to.timestamp())
        report.unexplained = sorted(
            linkedid
            for linkedid, row in records.items()
            if start <= row["start_epoch"] < end and linkedid not in known
        )
        if records and not known:
            log.warning(
                "reconciliation of %s: the ledger has no call from %s to %s while %d records"
                " do: is Asterisk writing its ledger?",
                self.node,
                window_from.isoformat(),
                window_to.isoformat(),
                len(records),
            )
        rebuilt: list[FinishedCall] = []
        changes: dict[str, dict[str, Any]] = {}
        for call in inbound:
            row = records.get(call.linkedid)
            if row is None:
                rebuilt.append(rebuild(self.node, call, self.from_110))
                continue
            report.records += 1
            corrections, values = compare(row, call, self.store.route)
            if corrections:
                report.corrections.extend(corrections)
                changes[call.linkedid] = values
        report.rebuilt = [r.linkedid for r in rebuilt]
        verb = "would correct" if report.dry_run else "corrected"
        for c in report.corrections:
            log.info(
                "reconciliation %s %s %s: %s %r -> %r (ledger)",
                self.node,
                verb,
                c.linkedid,
                c.field,
                c.record,
                c.ledger,
            )
        for linkedid in report.rebuilt:
            log.info(
                "reconciliation %s %s %s from the ledger",
                self.node,
                "would rebuild" if report.dry_run else "rebuilt",
                linkedid,
            )
        if report.dry_run:
            return
        if rebuilt:
            await self.store.upsert(rebuilt, source="ledger")
        if changes:
            await self._correct(changes)

    async def _records_by_window(
        self, session: AsyncSession, window_from: datetime, window_to: datetime
    ) -> dict[str, dict[str, Any]]:
        result = await session.execute(
            select(*COMPARED)
            .where(CallRecord.node == self.node)
            .where(CallRecord.start_epoch >= int((window_from - RECORD_SLACK).timestamp()))
            .where(CallRecord.start_epoch < int((window_to + RECORD_SLACK).timestamp()))
        )
        return {row.linkedid: dict(row._mapping) for row in result}

    async def _records_by_id(
        self, session: AsyncSession, linkedids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Records the window read missed (a clock far off): found by Linkedid, so a
        rebuild never overwrites a record the builder wrote."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(linkedids), CHUNK):
            result = await session.execute(
                select(*COMPARED)
                .where(CallRecord.node == self.node)
                .where(CallRecord.linkedid.in_(linkedids[start : start + CHUNK]))
            )
            found.update({row.linkedid: dict(row._mapping) for row in result})
        return found

    async def _correct(self, changes: dict[str, dict[str, Any]]) -> None:
        async with self.sessions() as session, session.begin():
            for linkedid, values in changes.items():
                await session.execute(
                    update(CallRecord)
                    .where(CallRecord.node == self.node)
                    .where(CallRecord.linkedid == linkedid)
                    .values(**values)
                )


def _aware(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite returns them zone-less)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def newest_runs(
    sessions: async_sessionmaker[AsyncSession], before_id: int | None, limit: int
) -> list[ReconciliationRun]:
    """The stored runs, newest first (keyset on the id: the order they were started)."""
    statement = select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(ReconciliationRun.id < before_id)
    async with sessions() as session:
        return list((await session.scalars(statement)).all())
