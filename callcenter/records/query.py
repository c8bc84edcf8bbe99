"""Reading call records back: filters, keyset pagination, streamed export.

A page starts after the last row's sort key (start_epoch, node, linkedid), so it costs
the same at row 10 and at row 10 million and a record written meanwhile never shifts a
page. (The API wraps the key in its opaque cursor: api/pagination.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.from110 import SOURCES
from callcenter.records.models import CallIntake, CallRecord

DISPOSITIONS = frozenset(
    {"answered", "abandoned", "ivr_only", "transferred", "callback_requested", "fallback_routed"}
)


MAX_EPOCH = 2**40  # far beyond any call; keeps a bad value out of a BIGINT comparison


class RecordQueryError(ValueError):
    """A bad filter or cursor; the message names which one."""


@dataclass(frozen=True)
class CallFilter:
    start_epoch: int | None = None
    end_epoch: int | None = None
    caller: str | None = None
    number: str | None = None
    unit: str | None = None
    queue: str | None = None
    seat: str | None = None
    disposition: str | None = None
    #: who handed the call over: direct | 110 (callcenter/from110.py)
    source: str | None = None
    #: whether `caller` may match a confidential record (callcenter.privacy
    #: `filter_reaches_confidential`: only for a viewer who sees their numbers)
    caller_reaches_confidential: bool = False

    def __post_init__(self) -> None:
        for name in ("caller", "number", "unit", "queue", "seat", "disposition"):
            value = getattr(self, name)
            if value is not None and ("\x00" in value or len(value) > 120):
                raise RecordQueryError(f"{name}: not a plausible value: {value[:40]!r}")
        for name in ("start_epoch", "end_epoch"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < MAX_EPOCH:
                raise RecordQueryError(f"{name.removesuffix('_epoch')}: out of range")
        if self.disposition is not None and self.disposition not in DISPOSITIONS:
            raise RecordQueryError(
                f"disposition: unknown {self.disposition!r}; one of {sorted(DISPOSITIONS)}"
            )
        if self.source is not None and self.source not in SOURCES:
            raise RecordQueryError(f"source: unknown {self.source[:40]!r}; one of {list(SOURCES)}")

    def apply(self, query: Select[Any]) -> Select[Any]:
        r = CallRecord
        if self.start_epoch is not None:
            query = query.where(r.start_epoch >= self.start_epoch)
        if self.end_epoch is not None:
            query = query.where(r.start_epoch < self.end_epoch)
        for column, value in (
            (r.caller, self.caller),
            (r.dialed, self.number),
            (r.unit, self.unit),
            (r.queue, self.queue),
            (r.seat, self.seat),
            (r.disposition, self.disposition),
            (r.call_source, self.source),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.caller is not None and not self.caller_reaches_confidential:
            query = query.where(r.confidential.is_(False))
        return query


#: a record's position in the newest-first order
RecordKey = tuple[int, str, str]


def record_key(record: CallRecord) -> RecordKey:
    return record.start_epoch, record.node, record.linkedid


def _newest_first(query: Select[Any]) -> Select[Any]:
    r = CallRecord
    return query.order_by(r.start_epoch.desc(), r.node.desc(), r.linkedid.desc())


async def page(
    session: AsyncSession, where: CallFilter, after: RecordKey | None, fetch: int
) -> list[CallRecord]:
    """Up to `fetch` records, newest first, after the record at `after`."""
    r = CallRecord
    query = where.apply(select(r))
    if after is not None:
        if not 0 <= after[0] < MAX_EPOCH:
            raise RecordQueryError("position out of range")
        query = query.where(tuple_(r.start_epoch, r.node, r.linkedid) < after)
    return list((await session.scalars(_newest_first(query).limit(fetch))).all())


async def get(session: AsyncSession, node: str, linkedid: str) -> CallRecord | None:
    return await session.get(CallRecord, (node, linkedid))


async def callbacks_of(session: AsyncSession, linkedid: str) -> list[CallRecord]:
    """The callback records placed for the call `linkedid`, oldest first (any node: the
    worklist may call back from another PBX than the one that took the call)."""
    query = (
        select(CallRecord)
        .where(CallRecord.callback_of == linkedid)
        .order_by(CallRecord.start_epoch, CallRecord.node, CallRecord.linkedid)
    )
    return list(await session.scalars(query))


async def original_of(session: AsyncSession, linkedid: str) -> CallRecord | None:
    """The call a callback answers (its Linkedid, on whichever node took it)."""
    query = select(CallRecord).where(CallRecord.linkedid == linkedid, CallRecord.kind != "callback")
    return (await session.scalars(query.limit(1))).first()


EXPORT_COLUMNS = (
    "node",
    "linkedid",
    "started_at",
    "ended_at",
    "dialed",
    "unit",
    "district",
    "mode",
    "caller",
    "confidential",
    "ivr_keys",
    "queue",
    "queue_exit",
    "wait_s",
    "seat",
    "talk_s",
    "wrapup_s",
    "hangup_by",
    "disposition",
    "fallback",
    "rating",
    "recording",
    "direction",
    "kind",
    "callback_of",
    "source",
    "source_ref",
)
#: export columns named otherwise in the table (the table's `source` says who wrote
#: the record: the live builder or the reconciler)
_EXPORT_FROM = {"source": "call_source", "source_ref": "call_source_ref"}
#: the call's current intake (intake.py), after the record's columns: empty for a call
#: without one. `kind` above is the record's (call | callback), so these are prefixed.
INTAKE_EXPORT_COLUMNS = ("intake_kind", "intake_unit", "ticket", "resolved_on_call")
EXPORT_HEADER = (*EXPORT_COLUMNS, *INTAKE_EXPORT_COLUMNS)


async def stream_rows(
    session: AsyncSession, where: CallFilter, chunk: int = 2000
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Export rows (`EXPORT_HEADER`) in chunks from a server-side cursor: memory stays
    flat whatever the number of rows."""
    r, i = CallRecord, CallIntake
    columns = [getattr(r, _EXPORT_FROM.get(name, name)) for name in EXPORT_COLUMNS]
    columns += [i.kind, i.unit, i.ticket, i.resolved_on_call]
    joined = (
        select(*columns)
        .select_from(r)
        .outerjoin(i, and_(i.node == r.node, i.linkedid == r.linkedid, i.current.is_(True)))
    )
    query = _newest_first(where.apply(joined)).execution_options(yield_per=chunk)
    result = await session.stream(query)
    async for part in result.partitions(chunk):
        yield [tuple(row) for row in part]
